"""Who holds a layer's tensors: pruned tensors as torch.nn.utils.prune holds them, and a module
called again (shared weights) that holds none of its own."""

from __future__ import annotations

from ..diagnostics import SpecError
from ..model import Analysis, LayerSpec, Tensor


def named(layer: LayerSpec, key: str, own: list[str], label: str) -> None:
    """Every tensor ``pruned`` or ``frozen`` names is one of the layer's parameters."""
    for attr in getattr(layer, key):
        if attr not in own:
            raise SpecError(
                f"{label}: {key} names '{attr}', which is not one of its parameters "
                f"({', '.join(own) or 'none'})",
                layer.at(key),
                layer.name,
            )


def tied(layer: LayerSpec, out, analysis: Analysis, label: str) -> list:
    """Tied weights (a decoder's weight that is the embedding's): each tied tensor is a tensor
    of a layer above, of the same shape, and not the layer's own (counted once, as torch's
    ``parameters()`` holds it)."""
    named(layer, "tied", [attr for attr, _ in out.params], label)
    above = {t.name: t.shape for x in analysis.layers for t in x.params}
    for attr, name in layer.tied.items():
        shape = dict(out.params)[attr]
        if above.get(name) != shape:
            where = f"is {list(above[name])}" if name in above else "is no tensor of a layer above"
            raise SpecError(
                f"{label}: tied {attr} to '{name}', which {where}; its {attr} is {list(shape)}",
                layer.at("tied"),
                layer.name,
            )
    return [(attr, s) for attr, s in out.params if attr not in layer.tied]


def pruned(layer: LayerSpec, out, label: str):
    """torch.nn.utils.prune's layout: each pruned tensor X is the parameter ``X_orig`` and the
    buffer ``X_mask`` (the forward multiplies them)."""
    named(layer, "pruned", [attr for attr, _ in out.params], label)
    params = [(f"{a}_orig" if a in layer.pruned else a, s) for a, s in out.params]
    masks = [(f"{a}_mask", s) for a, s in out.params if a in layer.pruned]
    return params, [*out.buffers, *masks]


def shared(layer: LayerSpec, analysis: Analysis, args: dict, label: str) -> None:
    """A second call of another layer's module: the same kind and arguments, above this one."""
    first = analysis.by_name.get(layer.shares)
    if first is None or first.shares is not None:
        raise SpecError(
            f"{label}: shares names '{layer.shares}', which is not a layer above with a module "
            "of its own",
            layer.at("shares"),
            layer.name,
        )
    if first.type != layer.type or first.kwargs != args:
        diff = sorted(
            k for k in set(args) | set(first.kwargs) if args.get(k) != first.kwargs.get(k)
        )
        raise SpecError(
            f"{label}: shares the module of '{first.name}' ({first.type}), but "
            + (f"its arguments differ: {', '.join(diff)}" if diff else "its type differs"),
            layer.at("shares"),
            layer.name,
        )


def tensors(layer: LayerSpec, out, analysis: Analysis, args, outputs, owned, label: str):
    """The layer's parameter and buffer tensors, named; their names checked against the layers
    and tensors above."""
    if layer.pruned:
        out.params, out.buffers = pruned(layer, out, label)
    named(layer, "frozen", [attr for attr, _ in out.params], label)
    if layer.tied:
        out.params = tied(layer, out, analysis, label)
    if layer.shares is not None:
        shared(layer, analysis, args, label)
        out.params, out.buffers = [], []
    params = [Tensor(f"{layer.name}.{attr}" if attr else layer.name, s) for attr, s in out.params]
    buffers = [Tensor(f"{layer.name}.{attr}" if attr else layer.name, s) for attr, s in out.buffers]
    for t in (*params, *buffers):
        if t.name in outputs and t.name != layer.name:
            raise SpecError(
                f"{label}: its tensor '{t.name}' has the name of a layer above",
                layer.at("name"),
                layer.name,
            )
        owned[t.name] = layer.name
    if owned.get(layer.name, layer.name) != layer.name:
        raise SpecError(
            f"{label}: the name clashes with tensor '{layer.name}' of layer '{owned[layer.name]}'",
            layer.at("name"),
            layer.name,
        )
    return params, buffers

"""``cnncalc.summary``'s torch side: torchinfo's arguments read into example inputs, the import
in the mode asked for, the totals of the module itself, and torchinfo's mult-adds rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .importer import Imported, import_model
from .inputs import Inputs, Size
from .trace import ImportFailed, _base_kind


def _is_size(v) -> bool:
    return isinstance(v, (Sequence, torch.Size)) and not isinstance(v, (str, bytes, torch.Tensor))


def _size(v, what: str) -> tuple[int, ...]:
    if isinstance(v, torch.Tensor):
        raise ImportFailed(f"{what} is a tensor: pass tensors as input_data, sizes as input_size")
    if not _is_size(v) or not all(isinstance(s, int) and not isinstance(s, bool) for s in v):
        raise ImportFailed(f"{what} must be a sequence of positive integers, found {v!r:.80}")
    if not v or any(s <= 0 for s in v):
        raise ImportFailed(f"{what} must be a sequence of positive integers, found {list(v)}")
    return tuple(int(s) for s in v)


def _dtype(v, what: str) -> torch.dtype:
    if isinstance(v, torch.dtype):
        return v
    if isinstance(v, str) and isinstance(getattr(torch, v, None), torch.dtype):
        return getattr(torch, v)
    raise ImportFailed(f"{what} must be a torch.dtype (torch.long for indices), found {v!r:.60}")


def inputs_of(input_size, input_data, batch_dim, dtypes, device, forward_kwargs) -> Inputs:
    """torchinfo's ways of giving inputs: ``input_size`` (one size or a list of sizes, with
    ``dtypes`` and ``batch_dim``), or ``input_data`` (a tensor, a list or tuple of them, a dict of
    keyword inputs); ``forward_kwargs`` are further keyword arguments of the forward."""
    if batch_dim is not None and (not isinstance(batch_dim, int) or isinstance(batch_dim, bool)):
        raise ImportFailed(f"batch_dim must be an integer or None, found {batch_dim!r:.60}")
    if device is not None:
        try:
            torch.device(device)
        except (RuntimeError, TypeError):
            raise ImportFailed(f"device must name a torch device, found {device!r:.60}") from None
    tensors = {k: v for k, v in forward_kwargs.items() if isinstance(v, torch.Tensor)}
    extra = {k: v for k, v in forward_kwargs.items() if k not in tensors}
    if (input_size is None) == (input_data is None):
        raise ImportFailed(
            "give the inputs one way: input_size (a size, or a list of sizes) or input_data "
            "(a tensor, a list of tensors or a dict of keyword inputs)"
            + ("" if input_size is None else ", not both")
        )
    if input_data is not None:
        if isinstance(input_data, torch.Tensor):
            return Inputs([input_data], tensors, extra)
        if isinstance(input_data, Mapping):
            return Inputs([], {**input_data, **tensors}, extra)
        if isinstance(input_data, (list, tuple)) and input_data:
            return Inputs(list(input_data), tensors, extra)
        raise ImportFailed(
            "input_data must be a tensor, a non-empty list or tuple of them, or a dict of keyword "
            f"inputs, found {type(input_data).__name__}"
        )
    if isinstance(input_size, torch.Tensor):
        raise ImportFailed(
            "input_size is a tensor: pass tensors as input_data, sizes as input_size"
        )
    several = _is_size(input_size) and input_size and all(_is_size(s) for s in input_size)
    sizes = [_size(s, f"input_size[{i}]") for i, s in enumerate(input_size)] if several else None
    sizes = sizes or [_size(input_size, "input_size")]
    if dtypes is None:
        dtypes = [torch.float32] * len(sizes)
    elif not isinstance(dtypes, (list, tuple)) or len(dtypes) > len(sizes):
        raise ImportFailed(f"dtypes must list at most one dtype per input size ({len(sizes)})")
    kinds = [_dtype(d, f"dtypes[{i}]") for i, d in enumerate(dtypes)]
    kinds += [torch.float32] * (len(sizes) - len(kinds))
    if batch_dim is not None:
        for s in sizes:
            if not -len(s) - 1 <= batch_dim <= len(s):
                raise ImportFailed(f"batch_dim {batch_dim} is outside the size {list(s)}")
        sizes = [_insert(s, batch_dim) for s in sizes]
    return Inputs([Size(s, d) for s, d in zip(sizes, kinds)], tensors, extra)


def _insert(s: tuple[int, ...], d: int) -> tuple[int, ...]:
    d = d if d >= 0 else len(s) + 1 + d
    return (*s[:d], 1, *s[d:])


def summarize(model: nn.Module, inputs: Inputs, mode: str | None, name: str) -> Imported:
    if not isinstance(model, nn.Module):
        raise ImportFailed(f"summary takes an nn.Module, found {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        raise ImportFailed("a TorchScript module cannot be traced; summarise the eager module")
    if _base_kind(model) is not None:  # a bare layer: a one-layer net named after its class
        model = _bare(model)
    held = next(iter(model.parameters()), None)
    held = held if held is not None else next(iter(model.buffers()), None)
    inputs.device = held.device if held is not None else None  # the model is never moved
    with torch.random.fork_rng(devices=[]):  # the caller's random state as it was
        imported = import_model(model, inputs, name, mode)
    imported.model = model  # what was traced (a bare layer in its one-layer net)
    return imported


def _bare(layer: nn.Module) -> nn.Module:
    """``layer`` as the one module of a net whose forward takes the layer's own arguments (so
    that the spec names its tensors ``conv2d.weight``, ...)."""
    import inspect

    name = type(layer).__name__.lower()
    params = list(inspect.signature(layer.forward).parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise ImportFailed(f"a bare {type(layer).__name__} takes *args; wrap it in a module")
    simple = (type(None), bool, int, float, str)
    for p in params:
        if p.default is not p.empty and not isinstance(p.default, simple):
            raise ImportFailed(f"a bare {type(layer).__name__}: wrap it in a module to summarise")
    sig = ", ".join(p.name + ("" if p.default is p.empty else f"={p.default!r}") for p in params)
    call = ", ".join(p.name for p in params)
    scope: dict = {}
    exec(f"def forward(self, {sig}):\n    return self.{name}({call})\n", scope)  # noqa: S102
    net = type(f"Bare{type(layer).__name__}", (nn.Module,), {"forward": scope["forward"]})()
    net.add_module(name, layer)
    net.training = layer.training
    return net


def totals(model: nn.Module) -> tuple[int, int]:
    """(every parameter, those with requires_grad), as ``model.parameters()`` holds them."""
    ps = list(model.parameters())
    return sum(p.numel() for p in ps), sum(p.numel() for p in ps if p.requires_grad)


def torchinfo_mult_adds(model: nn.Module, a) -> dict[str, int]:
    """torchinfo's rule: for every call of a module without children, each parameter named
    ``weight`` or ``bias`` times the output's positions (a conv's batch and spatial sizes,
    any other module's first dim), an RNN's inner weights times the first two dims; a pruned
    parameter counts the ones of its mask. Layer -> its mult-adds, for the layers with any."""
    per: dict[str, int] = {}
    for layer in a.layers:
        try:
            m = model.get_submodule(layer.shares or layer.name)
        except AttributeError:
            continue
        if any(True for _ in m.children()):
            continue
        out, total = layer.output_shape, 0
        conv = "Conv" in type(m).__name__
        for pname, p in m.named_parameters():
            count, base = p.numel(), pname
            mask = getattr(m, pname[: -len("_orig")] + "_mask", None)
            if pname.endswith("_orig") and isinstance(mask, torch.Tensor):
                count, base = int(mask.sum()), pname[: -len("_orig")]
            if base in ("weight", "bias"):
                total += count * (_prod(out[:1] + out[2:]) if conv else (out[0] if out else 1))
            elif "weight" in base or "bias" in base:
                total += _prod(out[:2]) * count
        if total:
            per[layer.name] = total
    return per


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= x
    return n

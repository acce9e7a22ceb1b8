"""Shared test helpers: write a spec, analyze it, and run the same layers in torch itself."""

from __future__ import annotations

import yaml

from cnncalc.engine import analyze
from cnncalc.spec import parse


def spec_text(input_shape, layers, name="t") -> str:
    return yaml.safe_dump({"name": name, "input": list(input_shape), "layers": layers}, sort_keys=False)


def analysis_of(input_shape, layers, batch=None):
    return analyze(parse(spec_text(input_shape, layers)), batch)


def valid_analysis(input_shape, layers):
    """The analysis, or None where cnncalc (rightly, the layer tests show) refuses the net."""
    from cnncalc.diagnostics import SpecError

    try:
        return analysis_of(input_shape, layers)
    except SpecError:
        return None


def _fill_sizes(type_: str, kw: dict, x) -> None:
    """Input sizes left out of a spec, taken from the torch tensor as torch's docs define them."""
    n = int(type_[-2]) if type_[-1] == "d" and type_[-2].isdigit() else 0
    if type_.startswith(("Conv", "InstanceNorm")) and "in_channels" not in kw and "num_features" not in kw:
        kw["num_features" if type_.startswith("Instance") else "in_channels"] = x.shape[-n - 1]
    elif type_.startswith("BatchNorm") and "num_features" not in kw:
        kw["num_features"] = x.shape[1]
    elif type_ == "GroupNorm" and "num_channels" not in kw:
        kw["num_channels"] = x.shape[1]
    elif type_ == "Linear" and "in_features" not in kw:
        kw["in_features"] = x.shape[-1]


def torch_run(input_shape, layers):
    """Run the layers as plain torch modules built from the written arguments, independently of cnncalc.

    Returns (facts, failed_at): facts per layer (output shape, parameter (name, shape) list, buffer
    list, FLOPs // 2), and the index of the first layer torch refuses (None if all ran).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from cnncalc.bridge.modules import Add, Cat, Mul

    graph = {"Add": Add, "Mul": Mul, "Cat": Cat}
    outs = {"input": torch.randn(*input_shape)}
    prev = "input"
    facts = []
    for i, layer in enumerate(layers):
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in layer.items() if k not in ("name", "type", "from")}
        name = layer.get("name", str(i))
        src = layer.get("from", prev)
        srcs = [src] if isinstance(src, str) else src
        try:
            cls = graph.get(layer["type"]) or getattr(torch.nn, layer["type"])
            if len(srcs) == 1:
                _fill_sizes(layer["type"], kw, outs[srcs[0]])
            m = cls(**kw).eval()  # shapes do not depend on the mode; batch norm needs 2 values per channel only in training
            xs = [outs[s] for s in srcs]
            with torch.no_grad():
                y = m(*xs)  # plain first: under FlopCounterMode some checks are skipped
            if 0 in y.shape:  # cnncalc refuses an empty output by design (README): count it as refused
                return facts, i
            with FlopCounterMode(display=False) as fc:
                m(*[x.detach() for x in xs])
        except Exception:
            return facts, i
        facts.append(
            (
                tuple(y.shape),
                [(f"{name}.{n}", tuple(p.shape)) for n, p in m.named_parameters()],
                [(f"{name}.{n}", tuple(b.shape)) for n, b in m.named_buffers()],
                fc.get_total_flops() // 2,
            )
        )
        outs[name] = y
        prev = name
    return facts, None


def ours(analysis):
    return [
        (
            layer.output_shape,
            [(t.name, t.shape) for t in layer.params],
            [(t.name, t.shape) for t in layer.buffers],
            layer.macs,
        )
        for layer in analysis.layers
    ]


def assert_agrees_with_torch(input_shape, layers):
    """Where torch runs the layers, cnncalc's numbers equal torch's; where torch refuses a layer,
    cnncalc reports an error at that same layer; and the other way round."""
    from cnncalc.diagnostics import SpecError

    facts, failed_at = torch_run(input_shape, layers)
    try:
        a = analysis_of(input_shape, layers)
    except SpecError as e:
        assert failed_at is not None, f"cnncalc refused what torch ran: {e.message}"
        expected = layers[failed_at].get("name", str(failed_at))
        assert e.layer == expected, f"torch failed at layer {expected}, cnncalc at {e.layer}: {e.message}"
        return
    assert failed_at is None, f"torch refused layer {failed_at} ({layers[failed_at]}) that cnncalc accepted"
    assert ours(a) == facts

"""Shared test helpers: write a spec, analyze it, and run the same layers in torch itself."""

from __future__ import annotations

import yaml

from cnncalc.engine import analyze
from cnncalc.read import parse


def spec_text(input_shape, layers, name="t") -> str:
    return yaml.safe_dump(
        {"name": name, "input": list(input_shape), "layers": layers}, sort_keys=False
    )


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
    if (
        type_.startswith(("Conv", "InstanceNorm"))
        and "in_channels" not in kw
        and "num_features" not in kw
    ):
        kw["num_features" if type_.startswith("Instance") else "in_channels"] = x.shape[-n - 1]
    elif type_.startswith("BatchNorm") and "num_features" not in kw:
        kw["num_features"] = x.shape[1]
    elif type_ == "GroupNorm" and "num_channels" not in kw:
        kw["num_channels"] = x.shape[1]
    elif type_ == "Linear" and "in_features" not in kw:
        kw["in_features"] = x.shape[-1]


def _dims(kw):
    d = kw.get("dim")
    return None if d is None else (list(d) if isinstance(d, (list, tuple)) else [d])


def _reduce(f, kw):
    dim = _dims(kw)
    keep = kw.get("keepdim", False)
    return lambda x: f(x, dim=list(range(x.dim())) if dim is None else dim, keepdim=keep)


def _arith(op, kw):
    v = kw.get("value")
    return lambda *xs: op(_fold(op, xs), v) if v is not None else _fold(op, xs)


def _fold(op, xs):
    out = xs[0]
    for x in xs[1:]:
        out = op(out, x)
    return out


# torch's own functions for the layers torch.nn has no module for, from the written arguments alone
def _oracle(type_, kw):
    import torch

    table = {
        "View": lambda: lambda x: x.view(*kw["shape"]),
        "Reshape": lambda: lambda x: x.reshape(*kw["shape"]),
        "Contiguous": lambda: lambda x: x.contiguous(),
        "Permute": lambda: (
            lambda x: x.permute(*([kw["dims"]] if isinstance(kw["dims"], int) else kw["dims"]))
        ),
        "Transpose": lambda: lambda x: x.transpose(kw["dim0"], kw["dim1"]),
        "Squeeze": lambda: (
            (lambda x: x.squeeze())
            if kw.get("dim") is None
            else (lambda x: x.squeeze(tuple(_dims(kw))))
        ),
        "Unsqueeze": lambda: lambda x: x.unsqueeze(kw["dim"]),
        "Split": lambda: (
            lambda x: torch.split(
                x,
                kw["split_size_or_sections"]
                if isinstance(kw["split_size_or_sections"], int)
                else list(kw["split_size_or_sections"]),
                kw.get("dim", 0),
            )
        ),
        "Maximum": lambda: torch.maximum,
        "Minimum": lambda: torch.minimum,
        "Roll": lambda: lambda x: torch.roll(x, kw["shifts"], _or(kw.get("dims"), ())),
        "Chunk": lambda: lambda x: torch.chunk(x, kw["chunks"], kw.get("dim", 0)),
        "Unbind": lambda: lambda x: torch.unbind(x, kw.get("dim", 0)),
        "Mean": lambda: _reduce(torch.mean, kw),
        "Sum": lambda: _reduce(torch.sum, kw),
        "Amax": lambda: _reduce(torch.amax, kw),
        "MatMul": lambda: torch.matmul,
        "ViewAs": lambda: lambda x, like: x.view_as(like),
        "ReshapeAs": lambda: lambda x, like: x.reshape_as(like),
        "UpsampleAs": lambda: (
            lambda x, like: torch.nn.functional.interpolate(
                x,
                size=like.shape[2:],
                mode=kw.get("mode", "nearest"),
                align_corners=kw.get("align_corners"),
            )
        ),
        "Add": lambda: _arith(torch.add, kw),
        "Mul": lambda: _arith(torch.mul, kw),
        "Div": lambda: _arith(torch.div, kw),
        "Sub": lambda: _arith(torch.sub, kw),
        "Stack": lambda: lambda *xs: torch.stack(xs, kw.get("dim", 0)),
        "Expand": lambda: lambda x: x.expand(*kw["shape"]),
        "Slice": lambda: (
            lambda x: x[
                (slice(None),) * (kw["dim"] % x.dim())
                + (slice(kw.get("start"), kw.get("end"), kw.get("step", 1)),)
            ]
        ),
        "Select": lambda: lambda x: x[(slice(None),) * (kw["dim"] % x.dim()) + (kw["index"],)],
        "Norm": lambda: (
            lambda x: torch.norm(
                x,
                p=kw.get("p", 2.0),
                dim=list(range(x.dim())) if _dims(kw) is None else _dims(kw),
                keepdim=kw.get("keepdim", False),
            )
        ),
        "Cat": lambda: lambda *xs: torch.cat(xs, kw.get("dim", 1)),
        "StochasticDepth": lambda: (
            lambda x: x
        ),  # torchvision.ops.StochasticDepth in eval: the input itself
    }
    if type_ in ("LSTM", "GRU", "RNN"):
        return _recurrent(getattr(torch.nn, type_))(**kw)
    if type_ == "MultiheadAttention":
        return _Attention(**kw)
    if type_ == "Input":
        return _Made(lambda: torch.randn(kw["shape"]))
    if type_ == "Constant":
        dtype = getattr(torch, kw.get("dtype", "float32"))
        return _Made(lambda: torch.zeros(kw["shape"], dtype=dtype))
    if type_.startswith("MaxUnpool") and "output_size" in kw:
        size = kw.pop("output_size")
        m = getattr(torch.nn, type_)(**kw)
        return _Made(lambda x, i: m(x, i, size))
    if type_ == "Pointwise":
        op = kw["op"]
        if op == "pow":
            return _Made(lambda x: torch.pow(x, kw["exponent"]))
        if op == "clamp":
            return _Made(lambda x: torch.clamp(x, kw.get("min"), kw.get("max")))
        return _Made(getattr(torch, op))
    if type_ == "Index":
        return _Made(lambda x, i: x[(slice(None),) * kw.get("dim", 0) + (i,)])
    if type_ == "TopK":
        at_most = kw.pop("at_most", False)
        return _Made(
            lambda x: tuple(
                torch.topk(x, **{**kw, "k": min(kw["k"], x.shape[kw.get("dim", -1)])})
                if at_most
                else torch.topk(x, **kw)
            )
        )
    if type_ == "Gather":
        return _Made(lambda x, i: torch.gather(x, kw["dim"], i))
    if type_ == "GridSample":
        return _Made(lambda x, g: torch.nn.functional.grid_sample(x, g, **kw))
    if type_ == "Upsample" and kw.get("antialias"):
        return _Made(lambda x: torch.nn.functional.interpolate(x, **kw))
    if type_ == "TensorUnfold":
        return _Made(lambda x: x.unfold(kw["dimension"], kw["size"], kw["step"]))
    if type_ == "FunctionalConv2d":
        return _Made(lambda x, w, *b: torch.nn.functional.conv2d(x, w, *b, **kw))
    if type_ == "StdConv2d":
        return _std_conv(**kw)
    if type_ == "Einsum":
        return _Made(lambda *xs: torch.einsum(kw["equation"], *xs))
    if type_ == "ScaledDotProductAttention":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        kernel = {"math": SDPBackend.MATH, "flash": SDPBackend.FLASH_ATTENTION}.get(
            kw.pop("kernel", None)
        )

        def attend(q, k, v, *mask):
            f = torch.nn.functional.scaled_dot_product_attention
            if kernel is None:
                return f(q, k, v, *mask, **kw)
            with sdpa_kernel([kernel]):
                return f(q, k, v, *mask, **kw)

        return _Made(attend)
    if type_ == "Buffer":
        m = torch.nn.Module()
        m.register_buffer(
            "b", torch.zeros(kw["shape"], dtype=getattr(torch, kw.get("dtype", "float32")))
        )
        m.forward = lambda: m.b
        return m
    if type_ == "Parameter":
        m = torch.nn.Module()
        m.p = torch.nn.Parameter(torch.randn(kw["shape"]))
        m.forward = lambda: m.p
        return m
    if type_ not in table:
        return None
    fn = table[type_]()
    m = torch.nn.Module()
    m.forward = fn
    return m


def _std_conv(eps=1e-6, gain=False, scale=1.0, **kw):
    """A Conv2d whose weight is standardised by hand: (w - mean) / sqrt(var + eps) per output
    channel (the biased variance), times gain * scale."""
    import torch

    conv = torch.nn.Conv2d(**kw)
    if gain:
        conv.gain = torch.nn.Parameter(torch.rand(conv.out_channels, 1, 1, 1) + 0.5)

    def forward(x):
        w = conv.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = ((w - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)
        w = (w - mean) / torch.sqrt(var + eps)
        if gain:
            w = w * conv.gain * scale
        return conv._conv_forward(x, w, conv.bias)

    conv.forward = forward
    return conv


class _Made:
    """A module of no parameters around a function (oracle for the kinds torch.nn lacks)."""

    def __new__(cls, fn):
        import torch

        m = torch.nn.Module()
        m.forward = fn
        return m


def _recurrent(cls):
    class Flat(cls):  # torch's module, its states as inputs and its outputs flat
        def forward(self, x, *states):
            out, last = super().forward(
                x, (states if len(states) > 1 else states[0]) if states else None
            )
            return (out, *last) if isinstance(last, tuple) else (out, last)

    return Flat


def _Attention(need_weights=True, average_attn_weights=True, **kw):
    import torch

    class Attention(torch.nn.MultiheadAttention):
        def forward(self, q, k, v):
            out, w = super().forward(
                q, k, v, need_weights=need_weights, average_attn_weights=average_attn_weights
            )
            return (out, w) if need_weights else (out,)

    return Attention(**kw)


def _or(v, default):
    return default if v is None else v


def torch_run(input_shape, layers):
    """Run the layers as plain torch modules built from the written arguments, independently of
    cnncalc.

    Returns (facts, failed_at): facts per layer (output shape, parameter (name, shape) list, buffer
    list, FLOPs // 2), and the index of the first layer torch refuses (None if all ran).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    outs = {"input": torch.randn(*input_shape)}
    prev = "input"
    facts = []
    for i, layer in enumerate(layers):
        kw = {
            k: (tuple(v) if isinstance(v, list) else v)
            for k, v in layer.items()
            if k not in ("name", "type", "from", "trainable")
        }
        name = layer.get("name", str(i))
        sources = layer["type"] not in ("Parameter", "Input", "Constant", "Buffer")
        src = layer.get("from", prev if sources else [])
        srcs = [src] if isinstance(src, str) else src
        try:
            # GroupNorm with a weight alone: torch's own, its bias set to None
            weight_alone = layer["type"] == "GroupNorm" and not kw.pop("bias", True)
            m = _oracle(layer["type"], kw)
            if m is None:
                if len(srcs) == 1:
                    _fill_sizes(layer["type"], kw, outs[srcs[0]])
                m = getattr(torch.nn, layer["type"])(**kw)
            if weight_alone:
                m.bias = None
            # shapes do not depend on the mode; batch norm needs 2 values per channel only in
            # training
            m.eval()
            xs = [outs[s] for s in srcs]
            with torch.no_grad():
                y = m(*xs)  # plain first: under FlopCounterMode some checks are skipped
            ys = y if isinstance(y, tuple) else (y,)
            if any(
                0 in t.shape for t in ys
            ):  # cnncalc refuses an empty output by design (README): count it as refused
                return facts, i
            with FlopCounterMode(display=False) as fc:
                m(*[x.detach() for x in xs])
        except Exception:
            return facts, i
        facts.append(
            (
                tuple(tuple(t.shape) for t in ys) if isinstance(y, tuple) else tuple(y.shape),
                [
                    (name if layer["type"] == "Parameter" else f"{name}.{n}", tuple(p.shape))
                    for n, p in m.named_parameters()
                ],
                [
                    (name if layer["type"] == "Buffer" else f"{name}.{n}", tuple(b.shape))
                    for n, b in m.named_buffers()
                ],
                fc.get_total_flops() // 2,
            )
        )
        outs[name] = y
        if isinstance(y, tuple):
            outs.update((f"{name}:{k}", t) for k, t in enumerate(y))
        prev = name
    return facts, None


def ours(analysis):
    return [
        (
            layer.output_shapes if layer.output_shapes is not None else layer.output_shape,
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
        assert e.layer == expected, (
            f"torch failed at layer {expected}, cnncalc at {e.layer}: {e.message}"
        )
        return
    assert failed_at is None, (
        f"torch refused layer {failed_at} ({layers[failed_at]}) that cnncalc accepted"
    )
    assert ours(a) == facts

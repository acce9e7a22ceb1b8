"""Ultralytics' own summary line, by its rules: leaf modules, parameters, gradients, and THOP's
GFLOPs with the proxy images it extrapolates from."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..diagnostics import SpecError
from ..engine import analyze
from ..read.ultralytics import Model


@dataclass
class Summary:
    title: str
    layers: int
    parameters: int
    gradients: int
    gflops: float

    def line(self) -> str:
        fl = f", {self.gflops:.1f} GFLOPs" if self.gflops else ""
        return (
            f"{self.title} summary: {self.layers:,} layers, {self.parameters:,} parameters, "
            f"{self.gradients:,} gradients{fl}"
        )

    def to_dict(self) -> dict:
        return {
            "layers": self.layers,
            "parameters": self.parameters,
            "gradients": self.gradients,
            "gflops": self.gflops,
        }


def summary(spec, analysis) -> Summary:
    """``YOLOv8n summary: 129 layers, 3,157,200 parameters, 3,157,184 gradients, 8.9 GFLOPs`` by
    its rules."""
    model: Model = spec.ultralytics
    flops = _gflops(spec, analysis, model, analyze)
    return Summary(
        model.title, model.leaves, analysis.total_params, analysis.trainable_params, flops
    )


def _at(spec, analyze, h: int, w: int):
    s = replace(spec, input=(1, spec.input[1], h, w), ultralytics=None)
    return analyze(s, counting=True)  # the full analysis checked the rest


def _gflops(spec, analysis, model: Model, analyze) -> float:
    """THOP's count (what Ultralytics' get_flops reports): measured on proxy images one stride tall
    and
    1, 2, ... strides wide, extrapolated to the target size by forward differences where it may
    be."""
    h, w = model.imgsz
    full = analysis if analysis.input[0] == 1 else None
    detr = model.rows[-1].module == "RTDETRDecoder"
    # DetectionModel's stride: 256 / each head input's height on a 256x256 image (RT-DETR's: 32)
    if model.heads and not detr:
        a = _at(spec, analyze, 256, 256)
        got = {r.name: r.output_shape for r in a.layers}
        heights = [_shape(a, got, ref)[-2] for ref in model.heads]
        stride = max(int(max(256 / x for x in heights)), 32)
    else:
        stride = 32
    fixed = any(
        r.type in ("Linear", "Bilinear")
        or r.type.startswith(("AdaptiveAvgPool", "AdaptiveMaxPool"))
        for r in analysis.layers
        if r.name not in model.functional
    )
    quadratic = any(r.type == "MultiheadAttention" for r in analysis.layers)
    need = 4 if quadratic else 2 if fixed else 1
    # proxies at least wide enough for RT-DETR's query selection to pick its nq of the anchors
    cells_min = 1
    if detr:
        a = model.rows[-1].args  # [nc, ch, hd, nq, ...]
        nq, nl = (a[3] if len(a) > 3 else 300), len(a[1])
        cells_min = -(-nq * 3 // (4**nl - 1))
    cells = (h // stride) * (w // stride)
    planned = need * cells_min + need * (need - 1) // 2
    ops: list[float] = []
    if h % stride == 0 and w % stride == 0 and 4 * planned <= cells:
        try:
            functional = 0
            while len(ops) < (4 if functional else need):
                a = _at(spec, analyze, stride, stride * (cells_min + len(ops)))
                total, functional = _thop(a, model)
                ops.append(float(total))
        except SpecError:
            ops.clear()
    if ops and (len(ops) < 4 or ops[3] - 3 * ops[2] + 3 * ops[1] - ops[0] == 0):
        t = cells - cells_min
        d1 = ops[1] - ops[0] if len(ops) > 1 else ops[0] / cells_min
        d2 = ops[2] - 2 * ops[1] + ops[0] if len(ops) > 2 else 0.0
        total = ops[0] + t * d1 + t * (t - 1) // 2 * d2
    else:
        total = float(_thop(full or _at(spec, analyze, h, w), model)[0])
    return total / 1e9 * 2


def _shape(a, got, ref):
    if ref in got:
        return got[ref]
    base, k = ref.rsplit(":", 1)
    return next(r for r in a.layers if r.name == base).output_shapes[int(k)]


def _thop(a, model: Model) -> tuple[int, int]:
    """(THOP's operations, of which functional matrix products) of one analysis: its rule per
    module kind."""
    from ..layers.base import prod

    total = functional = 0
    for r in a.layers:
        t = r.type
        if r.name in model.functional:
            n = 0
            if t == "MatMul":
                n = prod(r.output_shape) * r.input_shapes[0][-1]
            elif t == "Einsum" and len(r.input_shapes) == 2:
                n = _thop_einsum(r.kwargs["equation"], r.input_shapes)
            total += n
            functional += n
            continue
        x, y, kw = (r.input_shapes[0] if r.input_shapes else ()), r.output_shape, r.kwargs
        if t.startswith("Conv") and not t.startswith("ConvTranspose"):
            k = kw["kernel_size"]
            total += prod(y) * (x[-len(k) - 1] // kw["groups"]) * prod(k)
        elif t.startswith("ConvTranspose"):
            k = kw["kernel_size"]
            total += prod(x) * (y[-len(k) - 1] // kw["groups"]) * prod(k)
        elif t.startswith(("BatchNorm", "InstanceNorm", "LayerNorm", "GroupNorm")):
            affine = kw.get("affine", kw.get("elementwise_affine", False))
            total += 2 * prod(x) * (2 if affine else 1)
        elif t == "Linear":
            total += kw["in_features"] * prod(y)
        elif t == "MultiheadAttention":
            total += _thop_attention(r)
        elif t.startswith("AdaptiveAvgPool"):
            total += prod(
                o if i == o else sum(-(-(j + 1) * i // o) - j * i // o for j in range(o))
                for i, o in zip(x, y)
            ) + prod(y)
        elif t in ("Softmax", "LogSoftmax", "Softmin"):
            d = kw.get("dim")
            nf = x[d] if x else 1
            total += (prod(x) // nf if nf else 0) * (nf + max(nf - 1, 0) + nf)
        elif t == "Upsample":
            per = {
                "nearest": 0,
                "nearest-exact": 0,
                "linear": 5,
                "bilinear": 11,
                "bicubic": 259,
                "trilinear": 31,
            }
            total += per.get(kw.get("mode") or "nearest", 0) * prod(y)
    return total, functional


def _thop_attention(r) -> int:
    """THOP's rule for nn.MultiheadAttention: the projections, both attention products and the
    softmax (the heads only multiply the softmax rows)."""
    kw, (_, k, _), out = r.kwargs, r.input_shapes, r.output_shapes[0]
    e, bf = kw["embed_dim"], kw["batch_first"]
    kdim, vdim = kw["kdim"] or e, kw["vdim"] or e
    tgt = out[-2] if bf or len(out) == 2 else out[0]
    batch = 1 if len(out) == 2 else out[0 if bf else 1]
    appended = kw["add_bias_kv"] + kw["add_zero_attn"]
    n = (k[-2] if bf or len(k) == 2 else k[0]) + appended  # the key positions attended
    projections = e * (2 * tgt * e + (n - appended) * (kdim + vdim))
    attention = 2 * tgt * n * e
    softmax = batch * kw["num_heads"] * tgt * (n + max(n - 1, 0) + n)
    return batch * (projections + attention) + softmax


def _thop_einsum(equation: str, shapes) -> int:
    """THOP's rule for a two-operand einsum: one multiply-add per combination of the labels the
    operands contract together or the output keeps; a dim of size 1 (a broadcast) adds nothing."""
    terms, arrow, output = equation.replace(" ", "").partition("->")
    if not arrow:  # implicit output: the ellipsis and the labels written once
        output = "..." + "".join(c for c in terms if terms.count(c) == 1)

    def labelled(term: str, shape) -> dict:
        names: list = list(term)
        if "..." in term:  # the ellipsis's dims, named by their place from the right
            before, after = term.split("...")
            extra = len(shape) - len(before) - len(after)
            names = [*before, *(("...", j) for j in range(extra, 0, -1)), *after]
        return {n: d for n, d in zip(names, shape) if d != 1}

    a, b = (labelled(t, x) for t, x in zip(terms.split(","), shapes))

    def counted(n) -> bool:
        return (n in a and n in b) or (("..." in output) if isinstance(n, tuple) else n in output)

    total = 1
    for n in a.keys() | b.keys():
        if counted(n):
            total *= a[n] if n in a else b[n]
    return total

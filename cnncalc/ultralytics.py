"""Ultralytics model YAML: ``backbone:``/``head:`` rows of ``[from, repeats, module, args]``, read the way
Ultralytics' ``parse_model`` reads them, into cnncalc layers named as its modules name their tensors
(``model.22.cv2.0.0.conv.weight``).

Each Ultralytics module is one function below that adds the layers its ``forward`` runs, in order; a
row's channels follow ``parse_model`` (width and depth multiples, ``make_divisible``, ``max_channels``,
Python's ``round`` for repeats). :func:`summary` computes Ultralytics' own summary line by its rules
(leaf modules, parameters, gradients, and THOP's GFLOPs with the proxy images it extrapolates from).
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .blocks import MAX_LAYERS
from .diagnostics import Pos, SpecError, cut
from .yamlpos import Map, Seq

SCALE = re.compile(r"yolo(e-)?[v]?\d+([nslmx])")
UNSCALED = re.compile(r"(\d+)([nslmx])(.+)?$")
IMGSZ = 640
BN = {
    "eps": 0.001,
    "momentum": 0.03,
}  # what Ultralytics' initialize_weights sets on every BatchNorm2d


def is_model(doc) -> bool:
    return isinstance(doc, Map) and "backbone" in doc and "head" in doc


def scale_of(path: str) -> str:
    """``yolov8n.yaml`` -> ``n`` (Ultralytics' guess_model_scale); ``""`` when the name has none."""
    m = SCALE.search(Path(path).stem)
    return m.group(2) if m else ""


def unscaled(path: str) -> str:
    """``dir/yolov8n-seg.yaml`` -> ``dir/yolov8-seg.yaml``: the file a scaled name stands for."""
    p = Path(path)
    return str(p.with_name(UNSCALED.sub(r"\1\3", p.name)))


def make_divisible(x: float, divisor: int) -> int:
    return math.ceil(x / divisor) * divisor


def autopad(k, p=None, d=1):
    if d > 1:
        k = d * (k - 1) + 1 if isinstance(k, int) else [d * (x - 1) + 1 for x in k]
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]
    return p


@dataclass
class Row:
    """One ``[from, repeats, module, args]`` row as Ultralytics prints it in its model table."""

    index: int
    frm: object
    n: int
    module: str
    args: list
    pos: Pos
    prefix: str
    out: str = ""  # the cnncalc layer (or ``layer:k``) holding the row's output
    first: int = 0  # its layers are spec.layers[first:last]
    last: int = 0


@dataclass
class Model:
    """What the reader knows beyond the layers: rows, Ultralytics' leaf-module count, what THOP sees."""

    title: str
    task: str
    ch: int
    imgsz: tuple[int, int]
    rows: list[Row]
    leaves: int
    functional: set  # layers that are tensor operations in Ultralytics' forward, not modules
    heads: list[str] = field(default_factory=list)  # the Detect head's inputs (its strides)


@dataclass
class Summary:
    title: str
    layers: int
    parameters: int
    gradients: int
    gflops: float

    def line(self) -> str:
        fl = f", {self.gflops:.1f} GFLOPs" if self.gflops else ""
        return f"{self.title} summary: {self.layers:,} layers, {self.parameters:,} parameters, {self.gradients:,} gradients{fl}"

    def to_dict(self) -> dict:
        return {
            "layers": self.layers,
            "parameters": self.parameters,
            "gradients": self.gradients,
            "gflops": self.gflops,
        }


class _Refused(Exception):
    """A row cnncalc cannot read (raised inside a module function; the reader adds the row's position)."""


class _Net:
    """Collects the layers of the rows: (Map, position) items as a spec's ``layers`` would give them."""

    def __init__(self):
        self.items: list[tuple[Map, Pos]] = []
        self.pos: Pos = (1, 1)
        self.fpos: Pos = (1, 1)
        self.origin: str | None = None  # "in row 11, Concat": said after a layer's diagnostic
        self.leaves = 0
        self.default_act = ("SiLU", {})
        self.shared_act = False  # Conv.default_act: one module shared by every Conv, so one leaf
        self.functional: set[str] = set()

    def add(self, name: str, type_: str, src, functional: bool = False, **args) -> str:
        if len(self.items) >= MAX_LAYERS:
            raise _Refused(f"the model has more than the {MAX_LAYERS:,} layers a spec may have")
        m = Map()
        m["name"], m["type"] = name, type_
        if src is not None:
            m["from"] = list(src) if isinstance(src, (list, tuple)) else src
        for k, v in args.items():
            if v is not None:
                m[k] = _plain(v)
        m.pos, m.vpos, m.kpos, m.origin = self.pos, {"from": self.fpos}, {}, self.origin
        self.items.append((m, self.pos))
        if functional:
            self.functional.add(name)
        else:
            self.leaves += 1
        return name

    def act(self, name: str, x: str, act) -> str:
        if act is True:
            if not self.shared_act:
                self.shared_act = True
                self.leaves += 1
            t, a = self.default_act
            return self.add(name, t, x, functional=True, **a)  # counted once above
        return self.add(name, "Identity", x)


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


# ---- Ultralytics' modules: each adds the layers its forward runs, and returns its output ----------


def Conv(net, at, x, c1, c2, k=1, s=1, p=None, g=1, d=1, act=True):
    y = net.add(
        f"{at}.conv", "Conv2d", x, in_channels=c1, out_channels=c2, kernel_size=k, stride=s, padding=autopad(k, p, d),
        dilation=d, groups=g, bias=False,
    )  # fmt: skip
    y = net.add(f"{at}.bn", "BatchNorm2d", y, num_features=c2, **BN)
    return net.act(f"{at}.act", y, act)


def DWConv(net, at, x, c1, c2, k=1, s=1, d=1, act=True):
    return Conv(net, at, x, c1, c2, k, s, g=math.gcd(c1, c2), d=d, act=act)


def GhostConv(net, at, x, c1, c2, k=1, s=1, g=1, act=True):
    c_ = c2 // 2
    y = Conv(net, f"{at}.cv1", x, c1, c_, k, s, None, g, act=act)
    z = Conv(net, f"{at}.cv2", y, c_, c_, 5, 1, None, c_, act=act)
    return net.add(f"{at}.cat", "Cat", [y, z], functional=True, dim=1)


def Bottleneck(net, at, x, c1, c2, shortcut=True, g=1, k=(3, 3), e=0.5):
    c_ = int(c2 * e)
    y = Conv(net, f"{at}.cv1", x, c1, c_, k[0], 1)
    y = Conv(net, f"{at}.cv2", y, c_, c2, k[1], 1, g=g)
    return net.add(f"{at}.add", "Add", [x, y], functional=True) if shortcut and c1 == c2 else y


def GhostBottleneck(net, at, x, c1, c2, k=3, s=1):
    c_ = c2 // 2
    y = GhostConv(net, f"{at}.conv.0", x, c1, c_, 1, 1)
    y = (
        DWConv(net, f"{at}.conv.1", y, c_, c_, k, s, act=False)
        if s == 2
        else net.add(f"{at}.conv.1", "Identity", y)
    )
    y = GhostConv(net, f"{at}.conv.2", y, c_, c2, 1, 1, act=False)
    if s == 2:
        z = DWConv(net, f"{at}.shortcut.0", x, c1, c1, k, s, act=False)
        z = Conv(net, f"{at}.shortcut.1", z, c1, c2, 1, 1, act=False)
    else:
        z = net.add(f"{at}.shortcut", "Identity", x)
    return net.add(f"{at}.add", "Add", [y, z], functional=True)


def _cat_conv(net, at, ys, c_in, c2, name="cv2"):
    y = net.add(f"{at}.cat", "Cat", ys, functional=True, dim=1)
    return Conv(net, f"{at}.{name}", y, c_in, c2, 1)


def C2f(net, at, x, c1, c2, n=1, shortcut=False, g=1, e=0.5, *, inner=None):
    c = int(c2 * e)
    y = Conv(net, f"{at}.cv1", x, c1, 2 * c, 1, 1)
    ch = net.add(f"{at}.chunk", "Chunk", y, functional=True, chunks=2, dim=1)
    ys = [f"{ch}:0", f"{ch}:1"]
    for j in range(n):
        m = f"{at}.m.{j}"
        ys.append(
            inner(m, ys[-1], c)
            if inner
            else Bottleneck(net, m, ys[-1], c, c, shortcut, g, k=((3, 3), (3, 3)), e=1.0)
        )
    return _cat_conv(net, at, ys, (2 + n) * c, c2)


def C2(net, at, x, c1, c2, n=1, shortcut=True, g=1, e=0.5):
    c = int(c2 * e)
    y = Conv(net, f"{at}.cv1", x, c1, 2 * c, 1, 1)
    ch = net.add(f"{at}.chunk", "Chunk", y, functional=True, chunks=2, dim=1)
    a = f"{ch}:0"
    for j in range(n):
        a = Bottleneck(net, f"{at}.m.{j}", a, c, c, shortcut, g, k=((3, 3), (3, 3)), e=1.0)
    return _cat_conv(net, at, [a, f"{ch}:1"], 2 * c, c2)


def C3(net, at, x, c1, c2, n=1, shortcut=True, g=1, e=0.5, *, k=((1, 1), (3, 3)), ghost=False):
    c_ = int(c2 * e)
    a = Conv(net, f"{at}.cv1", x, c1, c_, 1, 1)
    for j in range(n):
        m = f"{at}.m.{j}"
        a = (
            GhostBottleneck(net, m, a, c_, c_)
            if ghost
            else Bottleneck(net, m, a, c_, c_, shortcut, g, k=k, e=1.0)
        )
    b = Conv(net, f"{at}.cv2", x, c1, c_, 1, 1)
    return _cat_conv(net, at, [a, b], 2 * c_, c2, "cv3")


def C3k(net, at, x, c1, c2, n=1, shortcut=True, g=1, e=0.5, k=3):
    return C3(net, at, x, c1, c2, n, shortcut, g, e, k=(k, k))


def C3Ghost(net, at, x, c1, c2, n=1, shortcut=True, g=1, e=0.5):
    return C3(net, at, x, c1, c2, n, shortcut, g, e, ghost=True)


def C3k2(net, at, x, c1, c2, n=1, c3k=False, e=0.5, attn=False, g=1, shortcut=True):
    def inner(m, y, c):
        if attn:
            y = Bottleneck(net, f"{m}.0", y, c, c, shortcut, g)
            return PSABlock(net, f"{m}.1", y, c, attn_ratio=0.5, num_heads=max(c // 64, 1))
        if c3k:
            return C3k(net, m, y, c, c, 2, shortcut, g)
        return Bottleneck(net, m, y, c, c, shortcut, g)

    return C2f(net, at, x, c1, c2, n, shortcut, g, e, inner=inner)


def SPPF(net, at, x, c1, c2, k=5, n=3, shortcut=False, *, legacy_act=False):
    c_ = c1 // 2
    y = Conv(net, f"{at}.cv1", x, c1, c_, 1, 1, act=legacy_act)
    ys = [y]
    for j in range(n):  # one MaxPool2d module, run n times
        name = f"{at}.m" if j == 0 else f"{at}.m_{j}"
        ys.append(
            net.add(
                name, "MaxPool2d", ys[-1], functional=j > 0, kernel_size=k, stride=1, padding=k // 2
            )
        )
    y = _cat_conv(net, at, ys, c_ * (n + 1), c2)
    return net.add(f"{at}.add", "Add", [y, x], functional=True) if shortcut and c1 == c2 else y


def SPP(net, at, x, c1, c2, k=(5, 9, 13)):
    c_ = c1 // 2
    y = Conv(net, f"{at}.cv1", x, c1, c_, 1, 1)
    ys = [y] + [
        net.add(f"{at}.m.{j}", "MaxPool2d", y, kernel_size=v, stride=1, padding=v // 2)
        for j, v in enumerate(k)
    ]
    return _cat_conv(net, at, ys, c_ * (len(k) + 1), c2)


def Attention(net, at, x, dim, num_heads=8, attn_ratio=0.5):
    head_dim = dim // num_heads
    key_dim = int(head_dim * attn_ratio)
    h = dim + key_dim * num_heads * 2
    qkv = Conv(net, f"{at}.qkv", x, dim, h, 1, act=False)
    y = net.add(
        f"{at}.heads",
        "Unflatten",
        qkv,
        functional=True,
        dim=1,
        unflattened_size=[num_heads, key_dim * 2 + head_dim],
    )
    y = net.add(f"{at}.tokens", "Flatten", y, functional=True, start_dim=3)
    s = net.add(
        f"{at}.qkv_split",
        "Split",
        y,
        functional=True,
        split_size_or_sections=[key_dim, key_dim, head_dim],
        dim=2,
    )
    q, k, v = f"{s}:0", f"{s}:1", f"{s}:2"
    q = net.add(f"{at}.q_scaled", "Mul", q, functional=True, value=key_dim**-0.5)
    q = net.add(f"{at}.q_t", "Transpose", q, functional=True, dim0=-2, dim1=-1)
    a = net.add(f"{at}.scores", "MatMul", [q, k], functional=True)
    a = net.add(f"{at}.softmax", "Softmax", a, functional=True, dim=-1)
    a = net.add(f"{at}.attn_t", "Transpose", a, functional=True, dim0=-2, dim1=-1)
    y = net.add(f"{at}.mix", "MatMul", [v, a], functional=True)
    y = net.add(f"{at}.mix_view", "ViewAs", [y, x], functional=True)
    vv = net.add(f"{at}.v_view", "ReshapeAs", [v, x], functional=True)
    pe = Conv(net, f"{at}.pe", vv, dim, dim, 3, 1, g=dim, act=False)
    y = net.add(f"{at}.add", "Add", [y, pe], functional=True)
    return Conv(net, f"{at}.proj", y, dim, dim, 1, act=False)


def PSABlock(net, at, x, c, attn_ratio=0.5, num_heads=4, shortcut=True):
    y = Attention(net, f"{at}.attn", x, c, attn_ratio=attn_ratio, num_heads=num_heads)
    x = net.add(f"{at}.add1", "Add", [x, y], functional=True) if shortcut else y
    y = Conv(net, f"{at}.ffn.0", x, c, c * 2, 1)
    y = Conv(net, f"{at}.ffn.1", y, c * 2, c, 1, act=False)
    return net.add(f"{at}.add2", "Add", [x, y], functional=True) if shortcut else y


def C2PSA(net, at, x, c1, c2, n=1, e=0.5):
    if c1 != c2:
        raise _Refused(
            f"C2PSA keeps its channels: its input has {c1} and its output would have {c2} (Ultralytics asserts c1 == c2)"
        )
    c = int(c1 * e)
    y = Conv(net, f"{at}.cv1", x, c1, 2 * c, 1, 1)
    s = net.add(f"{at}.split", "Split", y, functional=True, split_size_or_sections=[c, c], dim=1)
    b = f"{s}:1"
    for j in range(n):
        b = PSABlock(net, f"{at}.m.{j}", b, c, attn_ratio=0.5, num_heads=max(c // 64, 1))
    return _cat_conv(net, at, [f"{s}:0", b], 2 * c, c1)


def ResNetBlock(net, at, x, c1, c2, s=1, e=4):
    c3 = e * c2
    y = Conv(net, f"{at}.cv1", x, c1, c2, k=1, s=1, act=True)
    y = Conv(net, f"{at}.cv2", y, c2, c2, k=3, s=s, p=1, act=True)
    y = Conv(net, f"{at}.cv3", y, c2, c3, k=1, act=False)
    if s != 1 or c1 != c3:
        z = Conv(net, f"{at}.shortcut.0", x, c1, c3, k=1, s=s, act=False)
    else:
        z = net.add(f"{at}.shortcut", "Identity", x)
    y = net.add(f"{at}.add", "Add", [y, z], functional=True)
    return net.add(f"{at}.relu", "ReLU", y, functional=True)


def ResNetLayer(net, at, x, c1, c2, s=1, is_first=False, n=1, e=4):
    if is_first:
        y = Conv(net, f"{at}.layer.0", x, c1, c2, k=7, s=2, p=3, act=True)
        return net.add(f"{at}.layer.1", "MaxPool2d", y, kernel_size=3, stride=2, padding=1)
    y = ResNetBlock(net, f"{at}.layer.0", x, c1, c2, s, e=e)
    for j in range(1, n):
        y = ResNetBlock(net, f"{at}.layer.{j}", y, e * c2, c2, 1, e=e)
    return y


def Proto(net, at, x, c1, c_=256, c2=32):
    y = Conv(net, f"{at}.cv1", x, c1, c_, k=3)
    y = net.add(
        f"{at}.upsample",
        "ConvTranspose2d",
        y,
        in_channels=c_,
        out_channels=c_,
        kernel_size=2,
        stride=2,
        padding=0,
    )
    y = Conv(net, f"{at}.cv2", y, c_, c_, k=3)
    return Conv(net, f"{at}.cv3", y, c_, c2)


def Classify(net, at, x, c1, c2, k=1, s=1, p=None, g=1):
    if isinstance(x, list):
        x = net.add(f"{at}.cat", "Cat", x, functional=True, dim=1)
    c_ = 1280
    y = Conv(net, f"{at}.conv", x, c1, c_, k, s, p, g)
    y = net.add(f"{at}.pool", "AdaptiveAvgPool2d", y, output_size=1)
    y = net.add(f"{at}.flatten", "Flatten", y, functional=True, start_dim=1)
    y = net.add(f"{at}.drop", "Dropout", y, p=0.0)
    y = net.add(f"{at}.linear", "Linear", y, in_features=c_, out_features=c2)
    net.outputs = [net.add(f"{at}.softmax", "Softmax", y, functional=True, dim=1), y]
    return net.outputs[0]


def _level_head(net, at, xs, chs, make):
    """One head per level (``{at}.{i}``), each output flattened to (b, width, h·w), concatenated over levels."""
    flat = []
    for i, (x, c) in enumerate(zip(xs, chs)):
        y = make(f"{at}.{i}", x, c)
        flat.append(net.add(f"{at}.{i}.flat", "Flatten", y, functional=True, start_dim=2))
    return net.add(f"{at}.cat", "Cat", flat, functional=True, dim=-1)


def _three(net, c_out, c_mid):
    def make(at, x, c):
        y = Conv(net, f"{at}.0", x, c, c_mid, 3)
        y = Conv(net, f"{at}.1", y, c_mid, c_mid, 3)
        return net.add(f"{at}.2", "Conv2d", y, in_channels=c_mid, out_channels=c_out, kernel_size=1)

    return make


def Detect(net, at, xs, nc=80, reg_max=16, end2end=False, ch=(), *, extra=None):
    if end2end:
        raise _Refused("end2end heads (one-to-one NMS-free outputs) are not read by cnncalc yet")
    nl = len(ch)
    if nl == 0:
        raise _Refused("Detect needs at least one input in from")
    c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc, 100))
    boxes = _level_head(net, f"{at}.cv2", xs, ch, _three(net, 4 * reg_max, c2))

    def cls(a, x, c):
        if net.legacy:
            return _three(net, nc, c3)(a, x, c)
        y = DWConv(net, f"{a}.0.0", x, c, c, 3)
        y = Conv(net, f"{a}.0.1", y, c, c3, 1)
        y = DWConv(net, f"{a}.1.0", y, c3, c3, 3)
        y = Conv(net, f"{a}.1.1", y, c3, c3, 1)
        return net.add(f"{a}.2", "Conv2d", y, in_channels=c3, out_channels=nc, kernel_size=1)

    scores = _level_head(net, f"{at}.cv3", xs, ch, cls)
    more = (
        extra() if extra else []
    )  # Segment / Pose / OBB: one more per-level head, concatenated into y
    if reg_max > 1:
        d = net.add(
            f"{at}.dfl.bins",
            "Unflatten",
            boxes,
            functional=True,
            dim=1,
            unflattened_size=[4, reg_max],
        )
        d = net.add(f"{at}.dfl.t", "Transpose", d, functional=True, dim0=2, dim1=1)
        d = net.add(f"{at}.dfl.softmax", "Softmax", d, functional=True, dim=1)
        d = net.add(
            f"{at}.dfl.conv",
            "Conv2d",
            d,
            in_channels=reg_max,
            out_channels=1,
            kernel_size=1,
            bias=False,
        )
        net.frozen.add(f"{at}.dfl.conv")
        d = net.add(f"{at}.dfl.view", "Flatten", d, functional=True, start_dim=1, end_dim=2)
    else:
        d = net.add(f"{at}.dfl", "Identity", boxes)
    # dist2bbox: the anchor points and strides are constants of the feature sizes (shape-preserving here)
    lr = net.add(f"{at}.decode.chunk", "Chunk", d, functional=True, chunks=2, dim=1)
    x1y1 = net.add(f"{at}.decode.x1y1", "Sub", f"{lr}:0", functional=True, value=0.5)
    x2y2 = net.add(f"{at}.decode.x2y2", "Add", f"{lr}:1", functional=True, value=0.5)
    cxy = net.add(f"{at}.decode.sum", "Add", [x1y1, x2y2], functional=True)
    cxy = net.add(f"{at}.decode.cxy", "Div", cxy, functional=True, value=2)
    wh = net.add(f"{at}.decode.wh", "Sub", [x2y2, x1y1], functional=True)
    box = net.add(f"{at}.decode.xywh", "Cat", [cxy, wh], functional=True, dim=1)
    box = net.add(f"{at}.decode.strides", "Mul", box, functional=True, value=8)
    sig = net.add(f"{at}.sigmoid", "Sigmoid", scores, functional=True)
    y = net.add(f"{at}.y", "Cat", [box, sig, *more], functional=True, dim=1)
    net.outputs = [y, boxes, scores, *xs, *more]
    return y


def Segment(net, at, xs, nc=80, nm=32, npr=256, reg_max=16, end2end=False, ch=()):
    c4 = max(ch[0] // 4, nm) if ch else nm

    def extra():
        return [_level_head(net, f"{at}.cv4", xs, ch, _three(net, nm, c4))]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)
    proto = Proto(net, f"{at}.proto", xs[0], ch[0], npr, nm)
    y_, boxes, scores, *rest = net.outputs
    net.outputs = [y_, proto, boxes, scores, *xs, rest[-1], proto]
    return y


def Pose(net, at, xs, nc=80, kpt_shape=(17, 3), reg_max=16, end2end=False, ch=()):
    nk = kpt_shape[0] * kpt_shape[1]
    c4 = max(ch[0] // 4, nk) if ch else nk

    def extra():
        k = _level_head(net, f"{at}.cv4", xs, ch, _three(net, nk, c4))
        return [net.add(f"{at}.kpts_decode", "Mul", k, functional=True, value=2.0)]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)
    y_, boxes, scores, *rest = net.outputs
    net.outputs = [y_, boxes, scores, *xs, f"{at}.cv4.cat"]
    return y


def OBB(net, at, xs, nc=80, ne=1, reg_max=16, end2end=False, ch=()):
    c4 = max(ch[0] // 4, ne) if ch else ne

    def extra():
        a = _level_head(net, f"{at}.cv4", xs, ch, _three(net, ne, c4))
        a = net.add(f"{at}.angle.sigmoid", "Sigmoid", a, functional=True)
        a = net.add(f"{at}.angle.shift", "Sub", a, functional=True, value=0.25)
        return [net.add(f"{at}.angle", "Mul", a, functional=True, value=math.pi)]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)
    return y


MODULES = {
    f.__name__: f
    for f in (Conv, DWConv, GhostConv, Bottleneck, GhostBottleneck, C2, C2f, C3, C3Ghost, C3k2, SPPF, SPP, C2PSA,
              ResNetLayer, Classify, Detect, Segment, Pose, OBB)
}  # the modules a row may name (C3k, PSABlock, Attention and Proto are only inside others, as in parse_model)  # fmt: skip
BASE = {"Classify", "Conv", "GhostConv", "Bottleneck", "GhostBottleneck", "SPP", "SPPF", "C2PSA", "DWConv", "C2", "C2f",
        "C3k2", "C3", "C3Ghost", "nn.ConvTranspose2d"}  # fmt: skip
REPEAT = {"C2", "C2f", "C3k2", "C3", "C3Ghost", "C2PSA"}
HEADS = {"Detect", "Segment", "Pose", "OBB"}
NN = {"nn.Upsample": "Upsample", "nn.MaxPool2d": "MaxPool2d", "nn.ZeroPad2d": "ZeroPad2d", "nn.BatchNorm2d": "BatchNorm2d",
      "nn.Identity": "Identity", "nn.AvgPool2d": "AvgPool2d", "nn.AdaptiveAvgPool2d": "AdaptiveAvgPool2d",
      "nn.ConvTranspose2d": "ConvTranspose2d", "nn.Dropout": "Dropout", "nn.ReLU": "ReLU", "nn.SiLU": "SiLU"}  # fmt: skip
KNOWN_ELSEWHERE = {"C2fAttn", "ImagePoolingAttn", "WorldDetect", "YOLOEDetect", "YOLOESegment", "RTDETRDecoder", "v10Detect",
                   "AIFI", "HGStem", "HGBlock", "RepC3", "RepNCSPELAN4", "ELAN1", "ADown", "AConv", "SPPELAN", "CBLinear",
                   "CBFuse", "C2fCIB", "PSA", "SCDown", "A2C2f", "C2fPSA", "TorchVision", "Index", "Focus", "C1", "C3x",
                   "C3TR", "BottleneckCSP", "ConvTranspose", "DWConvTranspose2d", "Segment26", "Pose26", "OBB26",
                   "YOLOESegment26", "Depth", "SemanticSegment"}  # fmt: skip


def _row_items(doc: Map, key: str) -> list:
    rows = doc[key]
    if not isinstance(rows, Seq) or not rows:
        raise SpecError(
            f"'{key}' must be a non-empty list of [from, repeats, module, args] rows", doc.at(key)
        )
    return list(zip(rows, rows.ipos))


def _activation(text, pos) -> tuple[str, dict]:
    """``nn.ReLU()`` / ``nn.LeakyReLU(0.1)``: Conv.default_act for every Conv of the model."""
    from .layers import REGISTRY

    m = re.fullmatch(r"\s*(?:torch\.)?nn\.(\w+)\((.*)\)\s*", str(text))
    kind = REGISTRY.get(m.group(1)) if m else None
    if kind is None:
        raise SpecError(
            f"activation must be a torch activation such as nn.ReLU() or nn.LeakyReLU(0.1), found {cut(str(text))!r}",
            pos,
        )
    try:
        tree = ast.parse(f"f({m.group(2)})", mode="eval").body
        args = [ast.literal_eval(a) for a in tree.args]
        kw = {k.arg: ast.literal_eval(k.value) for k in tree.keywords if k.arg != "inplace"}
    except (SyntaxError, ValueError):
        raise SpecError(f"activation {text!r}: its arguments must be plain numbers", pos) from None
    names = [k for k in kind.args]
    if len(args) > len(names) + 1:
        raise SpecError(f"activation {text!r}: {m.group(1)} takes {len(names)} arguments", pos)
    kw.update(zip(names, args))
    return m.group(1), {k: v for k, v in kw.items() if k in names}


def read(
    doc: Map, path: str, scale: str | None = None, imgsz=None
) -> tuple[list, Model, list, list]:
    """The rows of an Ultralytics model: (layer items, model facts, output names, warnings)."""
    warnings: list[tuple[Pos, str]] = []
    nc = doc.get("nc")
    scales = doc.get("scales")
    depth, width, max_channels = (
        doc.get("depth_multiple", 1.0),
        doc.get("width_multiple", 1.0),
        float("inf"),
    )
    name_scale = scale_of(path)
    chosen = scale or name_scale
    if scales:
        if not isinstance(scales, Map) or not all(
            isinstance(v, list) and len(v) == 3 and all(_number(x) and x > 0 for x in v)
            for v in scales.values()
        ):
            raise SpecError(
                "scales must map each scale to [depth, width, max_channels], positive numbers",
                doc.at("scales"),
            )
        if not chosen:
            chosen = next(iter(scales))
            warnings.append(
                (
                    doc.kpos.get("scales", doc.pos),
                    f"no model scale given (--scale, or a scaled file name such as yolov8n.yaml): assuming '{chosen}'",
                )
            )
        if chosen not in scales:
            raise SpecError(
                f"scale '{chosen}' is not one of this model's scales ({', '.join(map(str, scales))})"
                + (" (from the file name)" if not scale else ""),
                doc.kpos.get("scales", doc.pos),
            )
        depth, width, max_channels = scales[chosen]
    elif scale:
        raise SpecError(f"--scale {scale}: this model has no 'scales'", doc.pos)
    for key, v in (("depth_multiple", depth), ("width_multiple", width)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise SpecError(
                f"{key} must be a positive number, found {v!r}", doc.at(key, doc.at("scales"))
            )
    reg_max = doc.get("reg_max", 16)
    kpt_shape = doc.get("kpt_shape", (17, 3))
    for key, v, ok in (
        ("nc", nc, nc is None or (isinstance(nc, int) and not isinstance(nc, bool) and 0 < nc <= 10**6)),
        ("reg_max", reg_max, isinstance(reg_max, int) and not isinstance(reg_max, bool) and 0 < reg_max <= 10**4),
        ("kpt_shape", kpt_shape, isinstance(kpt_shape, (list, tuple)) and len(kpt_shape) == 2
         and all(isinstance(k, int) and not isinstance(k, bool) and 0 < k <= 10**4 for k in kpt_shape)),
    ):  # fmt: skip
        if not ok:
            raise SpecError(
                f"{key} must be a positive integer{' pair' if key == 'kpt_shape' else ''}, found {cut(str(v))}",
                doc.at(key),
            )
    end2end = doc.get("end2end")
    ch_in = doc.get("channels", doc.get("ch", 3))
    if isinstance(ch_in, bool) or not isinstance(ch_in, int) or ch_in < 1:
        raise SpecError(
            f"channels must be a positive integer, found {ch_in!r}",
            doc.at("channels", doc.at("ch")),
        )
    if isinstance(imgsz, int) or imgsz is None:
        imgsz = (imgsz or IMGSZ,) * 2
    net = _Net()
    net.legacy = True
    net.frozen = set()
    net.outputs = None
    if "activation" in doc:
        net.default_act = _activation(doc["activation"], doc.at("activation"))
    env = {"nc": nc, "reg_max": reg_max, "kpt_shape": kpt_shape, "end2end": end2end, "depth": depth, "width": width,
           "max_channels": max_channels, "scale": chosen}  # fmt: skip
    rows = _row_items(doc, "backbone") + _row_items(doc, "head")
    ch: list[int] = [ch_in]
    prev_c2 = ch_in
    outs: list[str] = []
    table: list[Row] = []
    heads: list[str] = []
    for i, (row, rpos) in enumerate(rows):
        if not isinstance(row, Seq) or len(row) != 4:
            raise SpecError(
                f"row {i} must be [from, repeats, module, args], found {cut(str(row))}", rpos
            )
        f, n, m, args = row
        fpos, npos, mpos, apos = row.ipos
        net.pos, net.fpos = rpos, fpos
        net.origin = f"in row {i}, {cut(str(m), 40)}"
        srcs = f if isinstance(f, list) else [f]
        if not srcs or not all(isinstance(j, int) and not isinstance(j, bool) for j in srcs):
            raise SpecError(
                f"row {i}: from must be a row index or a list of them (-1: the row above), found {cut(str(f))}",
                fpos,
            )
        refs = []
        for j in srcs:
            if j == -1:
                refs.append("input" if i == 0 else outs[-1])
            elif -i <= j < i:
                refs.append(outs[j])
            else:
                where = (
                    "the input is only -1 for the first row"
                    if i == 0
                    else f"rows 0 to {i - 1} (or -1 to -{i}) are above it"
                )
                raise SpecError(f"row {i}: from names row {j}, but {where}", fpos)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpecError(
                f"row {i}: repeats must be a positive integer, found {cut(str(n))}", npos
            )
        if not isinstance(m, str) or (m not in MODULES and m not in NN and m != "Concat"):
            if isinstance(m, str) and (
                m in KNOWN_ELSEWHERE or m.startswith(("nn.", "torchvision."))
            ):
                raise SpecError(f"row {i}: module {m} is not read by cnncalc yet", mpos)
            from .diagnostics import did_you_mean

            hint = did_you_mean(str(m), [*MODULES, *NN, "Concat"]) if isinstance(m, str) else ""
            raise SpecError(f"row {i}: unknown module {cut(str(m))}{hint}", mpos)
        if not isinstance(args, Seq):
            raise SpecError(f"row {i}: args must be a list, found {cut(str(args))}", apos)
        try:
            args = [_value(a, env) for a in args]
        except (RecursionError, MemoryError):
            raise SpecError(f"row {i}: an argument is nested too deeply to read", apos) from None
        n = n_ = max(round(n * depth), 1) if n > 1 else n
        c2 = (
            ch[srcs[0]] if len(srcs) == 1 else prev_c2
        )  # parse_model keeps the last row's c2 where a row sets none
        at = f"model.{i}"
        first = len(net.items)
        try:
            if isinstance(f, list) and m not in HEADS and m != "Concat":
                raise _Refused(f"{m} takes one input, but from lists {len(f)}")
            if m in BASE:
                if not args:
                    raise _Refused(f"{m} needs its output channels as the first argument")
                c1, c2 = ch[f], args[0]
                if not _number(c2):
                    raise _Refused(
                        f"{m}'s first argument (output channels) must be a number, found {c2!r}"
                    )
                if m != "Classify":
                    c2 = make_divisible(min(c2, max_channels) * width, 8)
                args = [c1, c2, *args[1:]]
                if m in REPEAT:
                    args.insert(2, n)
                    n = 1
                if m == "C3k2":
                    net.legacy = False
                    if chosen in {"m", "l", "x"}:
                        args[3:4] = [True]
            elif m == "ResNetLayer":
                if len(args) < 4:
                    raise _Refused("ResNetLayer takes [c1, c2, s, is_first, n, e]")
                c2 = args[1] if args[3] else args[1] * 4
            elif m == "nn.BatchNorm2d":
                args = [ch[f]]
            elif m == "Concat":
                c2 = sum(ch[x] for x in srcs)
            elif m in HEADS:
                args.extend([reg_max, end2end, [ch[x] for x in srcs]])
                if m == "Segment" and len(args) > 2:
                    args[2] = make_divisible(min(args[2], max_channels) * width, 8)
                heads = refs
            out = _build(net, at, m, n, refs, args, i)
        except _Refused as e:
            raise SpecError(f"row {i} ({m}): {e}", rpos) from None
        except (
            TypeError
        ) as e:  # the module's signature refused the args (or an argument of the wrong type)
            raise SpecError(f"row {i} ({m}): {_arity(m, args, e)}", apos) from None
        except (
            ArithmeticError,
            ValueError,
            IndexError,
            KeyError,
            AttributeError,
            RecursionError,
        ) as e:
            raise SpecError(
                f"row {i} ({m}): its arguments build no module ({type(e).__name__}: {cut(str(e), 120)})",
                apos,
            ) from None
        if not isinstance(c2, int):
            raise SpecError(f"row {i} ({m}): its output channels are not a number ({c2!r})", apos)
        prev_c2 = c2
        outs.append(out)
        table.append(Row(i, f, n_, m, args, rpos, at, out, first, len(net.items)))
        if i == 0:
            ch = []
        ch.append(c2)
    for name in net.frozen:
        for item, _ in net.items:
            if item["name"] == name:
                item["trainable"] = False
    last = table[-1].module
    task = (
        "classify"
        if last == "Classify"
        else "segment"
        if last == "Segment"
        else "pose"
        if last == "Pose"
        else "obb"
        if last == "OBB"
        else "detect"
    )
    title = (
        Path(path).stem.replace("yolo", "YOLO")
        if path not in ("-", "<spec>", "<stdin>")
        else "Model"
    )
    model = Model(title, task, ch_in, tuple(imgsz), table, net.leaves, net.functional, heads)
    outputs = net.outputs if net.outputs and table[-1].module in (*HEADS, "Classify") else None
    return [it for it in net.items], model, outputs, warnings


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _value(a, env):
    """parse_model's reading of a string arg: a name it knows (nc, ...), else a Python literal, else the text."""
    from .spec import plain

    a = plain(a)
    if isinstance(a, str):
        if a in env:
            return env[a]
        try:
            return ast.literal_eval(a)
        except (ValueError, SyntaxError):
            return a
    return a


def _arity(m: str, args: list, e: TypeError) -> str:
    import inspect

    f = MODULES.get(m)
    if f is None:
        return f"its arguments do not fit ({e})"
    params = list(inspect.signature(f).parameters.values())[3:]
    params = [
        p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD
    ]  # keyword-only ones are cnncalc's own
    lo = sum(p.default is p.empty for p in params)
    names = ", ".join(p.name for p in params)
    if lo <= len(args) <= len(params):
        return f"an argument of {m}({names}) has the wrong type ({cut(str(e), 120)}); the arguments as passed: {cut(str(args), 120)}"
    return f"{m} takes {lo} to {len(params)} arguments ({names}) as Ultralytics passes them, found {len(args)}"


def _build(net: _Net, at: str, m: str, n: int, refs: list[str], args: list, i: int) -> str:
    if m == "Concat":
        d = args[0] if args else 1
        return net.add(at, "Cat", refs, dim=d)
    if m in NN:
        from .layers import REGISTRY

        t = NN[m]
        names = list(REGISTRY[t].args)
        if len(args) > len(names):
            raise TypeError(
                f"{m} takes at most {len(names)} arguments ({', '.join(names)}), got {len(args)}"
            )
        kw = dict(zip(names, args))

        def one(name, x):
            return net.add(name, t, x, **kw)

        x = refs[0]
        if n == 1:
            return one(at, x)
        for k in range(n):
            x = one(f"{at}.{k}", x)
        return x
    f = MODULES[m]
    if m in HEADS:
        return f(net, at, refs, *args)
    x = refs[0]
    kw = (
        {"legacy_act": True} if m == "SPPF" and len(args) <= 3 else {}
    )  # parse_model re-activates a legacy row's cv1
    if n == 1:
        return f(net, at, x, *args, **kw)
    for k in range(n):
        x = f(net, f"{at}.{k}", x, *args, **kw)
    return x


# ---- Ultralytics' summary line ------------------------------------------------------------------


def summary(spec, analysis) -> Summary:
    """``YOLOv8n summary: 129 layers, 3,157,200 parameters, 3,157,184 gradients, 8.9 GFLOPs`` by its rules."""
    from .engine import analyze

    model: Model = spec.ultralytics
    flops = _gflops(spec, analysis, model, analyze)
    return Summary(
        model.title, model.leaves, analysis.total_params, analysis.trainable_params, flops
    )


def _at(spec, analyze, h: int, w: int):
    s = replace(spec, input=(1, spec.input[1], h, w), ultralytics=None)
    return analyze(s)


def _gflops(spec, analysis, model: Model, analyze) -> float:
    """THOP's count (what Ultralytics' get_flops reports): measured on proxy images one stride tall and
    1, 2, ... strides wide, extrapolated to the target size by forward differences where it may be."""
    h, w = model.imgsz
    full = analysis if analysis.input[0] == 1 else None
    if model.heads:  # DetectionModel's stride: 256 / each head input's height on a 256x256 image
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
    need = 2 if fixed else 1
    cells = (h // stride) * (w // stride)
    planned = need * 1 + need * (need - 1) // 2
    ops: list[float] = []
    if h % stride == 0 and w % stride == 0 and 4 * planned <= cells:
        try:
            functional = 0
            while len(ops) < (4 if functional else need):
                a = _at(spec, analyze, stride, stride * (1 + len(ops)))
                total, functional = _thop(a, model)
                ops.append(float(total))
        except SpecError:
            ops.clear()
    if ops and (len(ops) < 4 or ops[3] - 3 * ops[2] + 3 * ops[1] - ops[0] == 0):
        t = cells - 1
        d1 = ops[1] - ops[0] if len(ops) > 1 else ops[0] / 1
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
    """(THOP's operations, of which functional matrix products) of one analysis: its rule per module kind."""
    from .layers.base import prod

    total = functional = 0
    for r in a.layers:
        t = r.type
        if r.name in model.functional:
            if t == "MatMul":
                n = prod(r.output_shape) * r.input_shapes[0][-1]
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

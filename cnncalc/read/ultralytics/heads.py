"""Ultralytics' heads (Detect, Segment, Pose, OBB) and the tables of what a row may name."""

from __future__ import annotations

import math

from .area import A2C2f
from .detr import RTDETRDecoder
from .elan import ELAN1, SPPELAN, AConv, ADown, CBFuse, CBLinear, RepNCSPELAN4
from .modules import (
    C2,
    C2PSA,
    C3,
    SPP,
    SPPF,
    Bottleneck,
    C2f,
    C3Ghost,
    C3k2,
    Classify,
    Conv,
    DWConv,
    GhostBottleneck,
    GhostConv,
    Proto,
    ResNetLayer,
)
from .net import _Refused
from .rtdetr import AIFI, HGBlock, HGStem, RepC3
from .v10 import PSA, C2fCIB, SCDown
from .world import TEXT, C2fAttn, ImagePoolingAttn, contrastive, text
from .yolo26 import Depth, Proto26, held_conv, held_conv2d, held_flow


def _level_head(net, at, xs, chs, make):
    """One head per level (``{at}.{i}``), each output flattened to (b, width, h·w), concatenated
    over levels."""
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


def Detect(
    net, at, xs, nc=80, reg_max=16, end2end=False, ch=(), *, extra=None, one2one=False,
    legacy=None, classes=None,
):  # fmt: skip
    """``one2one``: v10Detect's copy of both branches (``one2one_cv2``, ``one2one_cv3``), run
    beside them; ``legacy`` the class branch's kind where the head fixes it; ``classes`` a class
    branch of the head's own (``make(at, x, c, c3)``, WorldDetect's)."""
    one2one = one2one or bool(end2end)  # YOLO26's heads: v10Detect's pair of branches
    nl = len(ch)
    if nl == 0:
        raise _Refused("Detect needs at least one input in from")
    c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc, 100))
    boxes = _level_head(net, f"{at}.cv2", xs, ch, _three(net, 4 * reg_max, c2))

    def cls(a, x, c):
        if net.legacy if legacy is None else legacy:
            return _three(net, nc, c3)(a, x, c)
        y = DWConv(net, f"{a}.0.0", x, c, c, 3)
        y = Conv(net, f"{a}.0.1", y, c, c3, 1)
        y = DWConv(net, f"{a}.1.0", y, c3, c3, 3)
        y = Conv(net, f"{a}.1.1", y, c3, c3, 1)
        return net.add(f"{a}.2", "Conv2d", y, in_channels=c3, out_channels=nc, kernel_size=1)

    scores = _level_head(
        net, f"{at}.cv3", xs, ch, (lambda a, x, c: classes(a, x, c, c3)) if classes else cls
    )
    # Segment / Pose / OBB: one more per-level head, concatenated into y
    more = extra("cv4") if extra else []
    pair = []
    if one2one:  # the one-to-one branches, on the same maps (not detached in eval)
        net.leaves += 3 if extra else 2  # deep copies: each with its own copy of the activation
        pair = [
            _level_head(net, f"{at}.one2one_cv2", xs, ch, _three(net, 4 * reg_max, c2)),
            _level_head(net, f"{at}.one2one_cv3", xs, ch, cls),
            *xs,
            *(extra("one2one_cv4") if extra else []),
        ]
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
    # dist2bbox: the anchor points and strides are constants of the feature sizes (shape-preserving
    # here)
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
    net.outputs = [y, boxes, scores, *xs, *more, *pair]
    return y


def v10Detect(net, at, xs, nc=80, ch=()):
    """Detect's one-to-many head with the depthwise class branch, and its one-to-one copy; the
    eval forward runs both and returns the one-to-many inference with both branches' maps."""
    return Detect(net, at, xs, nc, 16, False, ch, one2one=True, legacy=False)


def WorldDetect(net, at, xs, nc=80, embed=512, with_bn=False, reg_max=16, end2end=False, ch=()):
    """Detect whose class branch ends in ``embed`` channels, each level's scored against the text
    (``cv4``); the eval output as Detect's."""
    if nc != TEXT[0]:
        raise _Refused(
            f"WorldDetect with nc {nc}: the text embeddings Ultralytics builds offline hold "
            f"{TEXT[0]} classes, so its own forward cannot run it (set nc: {TEXT[0]})"
        )
    if end2end:
        raise _Refused("an end2end WorldDetect is not read by cnncalc yet")
    text(net)
    w = net.text0  # the embeddings as the model holds them, before any ImagePoolingAttn

    def classes(a, x, c, c3):
        y = _three(net, embed, c3)(a, x, c)
        return contrastive(net, a.replace(".cv3.", ".cv4."), y, w, embed, with_bn)

    return Detect(net, at, xs, nc, reg_max, end2end, ch, legacy=True, classes=classes)


def Segment(net, at, xs, nc=80, nm=32, npr=256, reg_max=16, end2end=False, ch=(), *, v26=False):
    """``v26``: Segment26, whose prototypes come from every level (Proto26)."""
    c4 = max(ch[0] // 4, nm) if ch else nm

    def extra(name):
        return [_level_head(net, f"{at}.{name}", xs, ch, _three(net, nm, c4))]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)
    proto = (
        Proto26(net, f"{at}.proto", xs, ch, npr, nm, nc)
        if v26
        else Proto(net, f"{at}.proto", xs[0], ch[0], npr, nm)
    )
    y_, boxes, scores, *rest = net.outputs  # rest: the maps, the masks, then the one-to-one's
    mine, pair = rest[: len(xs) + 1], rest[len(xs) + 1 :]
    net.outputs = [y_, proto, boxes, scores, *mine, proto, *(pair and [*pair, proto])]
    return y


def Pose(net, at, xs, nc=80, kpt_shape=(17, 3), reg_max=16, end2end=False, ch=()):
    """The keypoint branch per level (``cv4``, with end2end its one-to-one copy); the eval output
    decodes the one-to-many keypoints and returns both branches' raw ones."""
    nk = kpt_shape[0] * kpt_shape[1]
    c4 = max(ch[0] // 4, nk) if ch else nk

    def extra(name):
        k = _level_head(net, f"{at}.{name}", xs, ch, _three(net, nk, c4))
        if name != "cv4":
            return [k]
        return [net.add(f"{at}.kpts_decode", "Mul", k, functional=True, value=2.0)]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)
    y_, boxes, scores, *rest = net.outputs  # rest: the maps, the decoded keypoints, the pair
    net.outputs = [y_, boxes, scores, *xs, f"{at}.cv4.cat", *rest[len(xs) + 1 :]]
    return y


def OBB(net, at, xs, nc=80, ne=1, reg_max=16, end2end=False, ch=(), *, raw=False):
    """``raw``: OBB26, whose angles leave the head as the convs give them."""
    c4 = max(ch[0] // 4, ne) if ch else ne

    def extra(name):
        a = _level_head(net, f"{at}.{name}", xs, ch, _three(net, ne, c4))
        if raw:
            return [a]
        out = f"{at}.angle" if name == "cv4" else f"{at}.one2one_angle"
        a = net.add(f"{out}.sigmoid", "Sigmoid", a, functional=True)
        a = net.add(f"{out}.shift", "Sub", a, functional=True, value=0.25)
        return [net.add(out, "Mul", a, functional=True, value=math.pi)]

    return Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)


def Pose26(net, at, xs, nc=80, kpt_shape=(17, 3), reg_max=16, end2end=False, ch=()):
    """Per level two Convs, then a 1×1 conv to the keypoints (``cv4_kpts``); the keypoints' sigmas
    (``cv4_sigma``) and the RealNVP flow serve the training loss alone: held, never run."""
    nk = kpt_shape[0] * kpt_shape[1]
    c4 = max(ch[0] // 4, kpt_shape[0] * (kpt_shape[1] + 2)) if ch else nk
    raws = []

    def extra(name):
        flat = []
        for i, (x, c) in enumerate(zip(xs, ch)):
            f = Conv(net, f"{at}.{name}.{i}.0", x, c, c4, 3)
            f = Conv(net, f"{at}.{name}.{i}.1", f, c4, c4, 3)
            k = net.add(
                f"{at}.{name}_kpts.{i}", "Conv2d", f, in_channels=c4, out_channels=nk, kernel_size=1
            )
            flat.append(
                net.add(f"{at}.{name}_kpts.{i}.flat", "Flatten", k, functional=True, start_dim=2)
            )
        raws.append(net.add(f"{at}.{name}_kpts.cat", "Cat", flat, functional=True, dim=-1))
        if name != "cv4":
            return [raws[-1]]
        return [net.add(f"{at}.kpts_decode", "Mul", raws[-1], functional=True, value=2.0)]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra)
    for name in ("cv4_sigma", "one2one_cv4_sigma") if end2end else ("cv4_sigma",):
        for i in range(len(ch)):
            held_conv2d(net, f"{at}.{name}.{i}", c4, kpt_shape[0] * 2)
    held_flow(net, f"{at}.flow_model")
    y_, boxes, scores, *rest = net.outputs  # rest: the maps, the decoded keypoints, the pair
    net.outputs = [y_, boxes, scores, *xs, raws[0], *rest[len(xs) + 1 :]]
    return y


def SemanticSegment(net, at, xs, nc=19, ch=()):
    """YOLO26's semantic head: a Conv and a 1×1 conv to the classes on the finest map; the
    auxiliary head on the next map serves training alone: held, never run."""
    c = ch[0]
    y = Conv(net, f"{at}.classifier.0", xs[0], c, c, 3)
    y = net.add(f"{at}.classifier.1", "Conv2d", y, in_channels=c, out_channels=nc, kernel_size=1)
    if len(ch) > 1:
        held_conv(net, f"{at}.aux_head.0", ch[1], c, 3)
        held_conv2d(net, f"{at}.aux_head.1", c, nc)
    net.outputs = [y]
    return y


def Segment26(net, at, xs, nc=80, nm=32, npr=256, reg_max=16, end2end=False, ch=()):
    return Segment(net, at, xs, nc, nm, npr, reg_max, end2end, ch, v26=True)


def OBB26(net, at, xs, nc=80, ne=1, reg_max=16, end2end=False, ch=()):
    return OBB(net, at, xs, nc, ne, reg_max, end2end, ch, raw=True)


MODULES = {
    f.__name__: f
    for f in (
        Conv,
        DWConv,
        GhostConv,
        Bottleneck,
        GhostBottleneck,
        C2,
        C2f,
        C3,
        C3Ghost,
        C3k2,
        SPPF,
        SPP,
        C2PSA,
        ResNetLayer,
        RepNCSPELAN4,
        ELAN1,
        AConv,
        ADown,
        SPPELAN,
        CBLinear,
        CBFuse,
        SCDown,
        PSA,
        C2fCIB,
        A2C2f,
        v10Detect,
        OBB26,
        Segment26,
        Pose26,
        SemanticSegment,
        Depth,
        Classify,
        Detect,
        Segment,
        Pose,
        OBB,
        HGStem,
        HGBlock,
        RepC3,
        AIFI,
        RTDETRDecoder,
        C2fAttn,
        ImagePoolingAttn,
        WorldDetect,
    )
    # the modules a row may name (C3k, PSABlock, Attention and Proto are only inside others, as in
    # parse_model)
}
BASE = {
    "Classify",
    "Conv",
    "GhostConv",
    "Bottleneck",
    "GhostBottleneck",
    "SPP",
    "SPPF",
    "C2PSA",
    "DWConv",
    "C2",
    "C2f",
    "C3k2",
    "C3",
    "C3Ghost",
    "nn.ConvTranspose2d",
    "RepNCSPELAN4",
    "ELAN1",
    "ADown",
    "AConv",
    "SPPELAN",
    "SCDown",
    "PSA",
    "C2fCIB",
    "A2C2f",
    "RepC3",
    "C2fAttn",
}
REPEAT = {"C2", "C2f", "C3k2", "C3", "C3Ghost", "C2PSA", "C2fCIB", "A2C2f", "RepC3", "C2fAttn"}
HEADS = {"Detect", "Segment", "Segment26", "Pose", "Pose26", "OBB", "OBB26", "v10Detect"}
HEADS |= {"SemanticSegment", "Depth", "RTDETRDecoder", "WorldDetect"}
TASKS = {"Classify": "classify", "SemanticSegment": "semantic", "Depth": "depth"}  # else detect
TASKS |= {"Segment": "segment", "Segment26": "segment", "Pose": "pose", "Pose26": "pose"}
TASKS |= {"OBB": "obb", "OBB26": "obb"}
NN = {
    "nn.Upsample": "Upsample",
    "nn.MaxPool2d": "MaxPool2d",
    "nn.ZeroPad2d": "ZeroPad2d",
    "nn.BatchNorm2d": "BatchNorm2d",
    "nn.Identity": "Identity",
    "nn.AvgPool2d": "AvgPool2d",
    "nn.AdaptiveAvgPool2d": "AdaptiveAvgPool2d",
    "nn.ConvTranspose2d": "ConvTranspose2d",
    "nn.Dropout": "Dropout",
    "nn.ReLU": "ReLU",
    "nn.SiLU": "SiLU",
}
KNOWN_ELSEWHERE = {
    "YOLOEDetect",
    "YOLOESegment",
    "C2fPSA",
    "TorchVision",
    "Index",
    "Focus",
    "C1",
    "C3x",
    "C3TR",
    "BottleneckCSP",
    "ConvTranspose",
    "DWConvTranspose2d",
    "YOLOESegment26",
}

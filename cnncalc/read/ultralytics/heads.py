"""Ultralytics' heads: Detect (and v10Detect), Segment, Pose, OBB and their YOLO26 forms,
SemanticSegment, YOLO-World's WorldDetect and YOLOE's YOLOEDetect and YOLOESegment."""

from __future__ import annotations

import math

from .modules import Conv, DWConv, Proto
from .net import _Refused
from .world import TEXT, contrastive, text
from .yolo26 import Proto26, _held, held_conv, held_conv2d, held_flow


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
        if classes:
            return classes(a, x, c, c3)
        return _cls_branch(net, a, x, c, c3, nc, net.legacy if legacy is None else legacy)

    scores = _level_head(net, f"{at}.cv3", xs, ch, cls)
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


def _cls_branch(net, a, x, c, c3, out, legacy):
    """Detect's class branch: three Convs (legacy), or two depthwise-and-pointwise pairs; then a
    1×1 conv to ``out`` channels."""
    if legacy:
        return _three(net, out, c3)(a, x, c)
    y = DWConv(net, f"{a}.0.0", x, c, c, 3)
    y = Conv(net, f"{a}.0.1", y, c, c3, 1)
    y = DWConv(net, f"{a}.1.0", y, c3, c3, 3)
    y = Conv(net, f"{a}.1.1", y, c3, c3, 1)
    return net.add(f"{a}.2", "Conv2d", y, in_channels=c3, out_channels=out, kernel_size=1)


def _cv4(a: str) -> str:
    """``model.22.cv3.0`` -> ``model.22.cv4.0`` (and one2one_cv3 -> one2one_cv4): a level's
    contrastive head beside its class branch."""
    head, branch, i = a.rsplit(".", 2)
    return f"{head}.{branch.replace('cv3', 'cv4')}.{i}"


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
        return contrastive(net, _cv4(a), y, w, embed, with_bn)

    return Detect(net, at, xs, nc, reg_max, end2end, ch, legacy=True, classes=classes)


def Segment(
    net, at, xs, nc=80, nm=32, npr=256, reg_max=16, end2end=False, ch=(), *, v26=False,
    mask="cv4", classes=None,
):  # fmt: skip
    """``v26``: Segment26, whose prototypes come from every level (Proto26); ``mask`` the mask
    coefficients' branch (YOLOE's cv5), ``classes`` a class branch of the head's own."""
    c4 = max(ch[0] // 4, nm) if ch else nm

    def extra(name):
        name = name.replace("cv4", mask)
        return [_level_head(net, f"{at}.{name}", xs, ch, _three(net, nm, c4))]

    y = Detect(net, at, xs, nc, reg_max, end2end, ch, extra=extra, classes=classes)
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


def _yoloe(net, at, ch, embed, with_bn):
    """YOLOE's class branch (Detect's, to ``embed`` channels) scored against the class prompt
    embeddings; and what only prompting runs, held: the text prompts' residual SwiGLU (reprta)
    and the visual prompts' encoder (SAVPE)."""
    if not with_bn:
        raise _Refused("YOLOE heads take with_bn (Ultralytics asserts it)")
    if len(ch) != 3:  # its forward_head asserts three maps and the embeddings
        raise _Refused(f"YOLOE heads take three maps in from, found {len(ch)}")
    # the class embeddings, with no prompt given: YOLOEModel's zeros(1, 80, 512), at the batch
    pe = net.add("cls_pe", "Constant", None, functional=True, shape=[1, *TEXT], batched=True)
    net.assumed = (
        "the class embeddings are assumed as Ultralytics builds the model offline, with no "
        "prompt given: YOLOEModel's zeros for 80 classes (the scores have 80 rows)"
    )

    def classes(a, x, c, c3):
        if c3 > embed:
            raise _Refused(f"YOLOE's class channels {c3} are more than embed {embed}")
        y = _cls_branch(net, a, x, c, c3, embed, net.legacy)
        return contrastive(net, _cv4(a), y, pe, embed, True)

    for name, shape in (("w12", [4 * embed, embed]), ("w3", [embed, 2 * embed])):
        _held(net, f"{at}.reprta.m.{name}.weight", "Parameter", shape=shape)
        _held(net, f"{at}.reprta.m.{name}.bias", "Parameter", shape=shape[:1])
        net.leaves += 1
    return classes


def _savpe(net, at, ch, c3, embed):
    for i, c in enumerate(ch):
        held_conv(net, f"{at}.savpe.cv1.{i}.0", c, c3, 3)
        held_conv(net, f"{at}.savpe.cv1.{i}.1", c3, c3, 3)
        held_conv(net, f"{at}.savpe.cv2.{i}.0", c, c3, 1)
        net.leaves += 2  # each Sequential's Upsample or Identity
    held_conv2d(net, f"{at}.savpe.cv3", 3 * c3, embed)
    _held_conv2d(net, f"{at}.savpe.cv4", 3 * c3, 16, 3)
    _held_conv2d(net, f"{at}.savpe.cv5", 1, 16, 3)
    held_conv(net, f"{at}.savpe.cv6.0", 32, 16, 3)
    _held_conv2d(net, f"{at}.savpe.cv6.1", 16, 16, 3)


def _held_conv2d(net, at, c1, c2, k):
    _held(net, f"{at}.weight", "Parameter", shape=[c2, c1, k, k])
    _held(net, f"{at}.bias", "Parameter", shape=[c2])
    net.leaves += 1


def YOLOEDetect(net, at, xs, nc=80, embed=512, with_bn=True, reg_max=16, end2end=False, ch=()):
    """Detect with YOLOE's class branch; the eval output as Detect's (80 classes: the prompt
    embeddings')."""
    classes = _yoloe(net, at, ch, embed, with_bn)
    y = Detect(net, at, xs, nc, reg_max, end2end, ch, classes=classes)
    _savpe(net, at, ch, max(ch[0], min(nc, 100)), embed)
    return y


def YOLOESegment(
    net, at, xs, nc=80, nm=32, npr=256, embed=512, with_bn=True, reg_max=16, end2end=False,
    ch=(), *, v26=False,
):  # fmt: skip
    classes = _yoloe(net, at, ch, embed, with_bn)
    y = Segment(
        net, at, xs, nc, nm, npr, reg_max, end2end, ch, v26=v26, mask="cv5", classes=classes
    )
    _savpe(net, at, ch, max(ch[0], min(nc, 100)), embed)
    return y


def YOLOESegment26(
    net, at, xs, nc=80, nm=32, npr=256, embed=512, with_bn=True, reg_max=16, end2end=False, ch=()
):
    return YOLOESegment(net, at, xs, nc, nm, npr, embed, with_bn, reg_max, end2end, ch, v26=True)

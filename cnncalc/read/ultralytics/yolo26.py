"""YOLO26's segmentation prototypes (Proto26): the head's maps refined to the finest, fused, then
Proto; and its semantic branch, whose parameters the model holds but whose forward runs only in
training: held as tensors (named, counted, never run), as the eval forward leaves them."""

from __future__ import annotations

from .modules import Conv, Proto


def _held(net, at, kind, **args):
    net.held.add(at)
    return net.add(at, kind, None, functional=True, **args)


def held_conv(net, at, c1, c2, k):
    """Ultralytics' Conv (conv without bias, batch norm) as tensors alone: two leaf modules."""
    _held(net, f"{at}.conv.weight", "Parameter", shape=[c2, c1, k, k])
    _held(net, f"{at}.bn.weight", "Parameter", shape=[c2])
    _held(net, f"{at}.bn.bias", "Parameter", shape=[c2])
    _held(net, f"{at}.bn.running_mean", "Buffer", shape=[c2])
    _held(net, f"{at}.bn.running_var", "Buffer", shape=[c2])
    _held(net, f"{at}.bn.num_batches_tracked", "Buffer", shape=[], dtype="int64")
    net.leaves += 2


def Proto26(net, at, xs, ch, c_=256, c2=32, nc=80):
    feat = xs[0]
    for i, (x, c) in enumerate(zip(xs[1:], ch[1:])):
        up = Conv(net, f"{at}.feat_refine.{i}", x, c, ch[0], k=1)
        up = net.add(f"{at}.feat_up{i}", "Upsample", up, functional=True, scale_factor=2 ** (i + 1))
        feat = net.add(f"{at}.feat_add{i}", "Add", [feat, up], functional=True)
    y = Conv(net, f"{at}.feat_fuse", feat, ch[0], c_, k=3)
    p = Proto(net, at, y, c_, c_, c2)
    held_conv(net, f"{at}.semseg.0", ch[0], c_, 3)  # the semantic branch: training only
    held_conv(net, f"{at}.semseg.1", c_, c_, 3)
    _held(net, f"{at}.semseg.2.weight", "Parameter", shape=[nc, c_, 1, 1])
    _held(net, f"{at}.semseg.2.bias", "Parameter", shape=[nc])
    net.leaves += 1
    return p


def held_conv2d(net, at, c1, c2):
    """A 1×1 ``nn.Conv2d`` with bias, as tensors alone: one leaf module."""
    _held(net, f"{at}.weight", "Parameter", shape=[c2, c1, 1, 1])
    _held(net, f"{at}.bias", "Parameter", shape=[c2])
    net.leaves += 1


def held_flow(net, at):
    """Pose26's RealNVP (the residual log-likelihood flow of its training loss): six scale and
    six translation MLPs on 2-D points, and its buffers; the eval forward never runs it."""
    for name, shape in (("loc", [2]), ("cov", [2, 2]), ("mask", [6, 2])):
        _held(net, f"{at}.{name}", "Buffer", shape=shape)
    for part, leaves in (("s", 6), ("t", 5)):  # Linear, SiLU, Linear, SiLU, Linear (, Tanh)
        for j in range(6):
            for k, (c1, c2) in zip((0, 2, 4), ((2, 64), (64, 64), (64, 2))):
                _held(net, f"{at}.{part}.{j}.{k}.weight", "Parameter", shape=[c2, c1])
                _held(net, f"{at}.{part}.{j}.{k}.bias", "Parameter", shape=[c2])
            net.leaves += leaves


def Depth(net, at, xs, c_mid=256, ch=()):
    """YOLO26's depth head: each map projected to ``c_mid``, merged top-down (bilinear ×2 with
    aligned corners, added, refined by two Convs), a head up to stride 4, the log-depth clamped to
    [-4, 5], then ``exp(cal_a · out + cal_b)`` with its calibration buffers."""
    feats = [Conv(net, f"{at}.proj.{i}", x, c, c_mid, k=1) for i, (x, c) in enumerate(zip(xs, ch))]
    out = feats[-1]
    for i in range(len(ch) - 2, -1, -1):
        out = net.add(
            f"{at}.up{i}",
            "Upsample",
            out,
            functional=True,
            scale_factor=2,
            mode="bilinear",
            align_corners=True,
        )
        out = net.add(f"{at}.merge{i}", "Add", [out, feats[i]], functional=True)
        out = Conv(net, f"{at}.refine.{i}.0", out, c_mid, c_mid, k=3)
        out = Conv(net, f"{at}.refine.{i}.1", out, c_mid, c_mid, k=3)
    h = c_mid // 2
    out = Conv(net, f"{at}.head.0", out, c_mid, h, k=3)
    out = net.add(
        f"{at}.head.1",
        "ConvTranspose2d",
        out,
        in_channels=h,
        out_channels=h,
        kernel_size=2,
        stride=2,
    )
    out = Conv(net, f"{at}.head.2", out, h, c_mid // 4, k=3)
    out = net.add(
        f"{at}.head.3", "Conv2d", out, in_channels=c_mid // 4, out_channels=1, kernel_size=1
    )
    out = net.add(f"{at}.clamp", "Pointwise", out, functional=True, op="clamp", min=-4.0, max=5.0)
    a = net.add(f"{at}.cal_a", "Buffer", None, functional=True, shape=[1])
    b = net.add(f"{at}.cal_b", "Buffer", None, functional=True, shape=[1])
    out = net.add(f"{at}.calibrated", "Mul", [a, out], functional=True)
    out = net.add(f"{at}.shifted", "Add", [out, b], functional=True)
    net.outputs = [net.add(f"{at}.depth", "Pointwise", out, functional=True, op="exp")]
    return net.outputs[0]

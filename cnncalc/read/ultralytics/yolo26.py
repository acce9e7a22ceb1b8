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

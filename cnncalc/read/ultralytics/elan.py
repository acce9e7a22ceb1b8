"""YOLOv9's modules (GELAN): RepConv and the CSP blocks built of it, RepNCSPELAN4 and ELAN1, the
downsamplers AConv and ADown, SPPELAN, and the auxiliary branch's CBLinear and CBFuse; each adds
the layers its ``forward`` runs, under its parameter names."""

from __future__ import annotations

from .modules import Conv, _cat_conv
from .net import _Refused, autopad


def RepConv(net, at, x, c1, c2, k=3, s=1, p=1, g=1, d=1, act=True, bn=False):
    """Training-time RepConv: a k×k and a 1×1 conv branch (and the input's batch norm where it
    keeps the shape), summed, then RepConv's own activation (a SiLU of its class, not Conv's)."""
    ys = [
        Conv(net, f"{at}.conv1", x, c1, c2, k, s, p=p, g=g, act=False),
        Conv(net, f"{at}.conv2", x, c1, c2, 1, s, p=p - k // 2, g=g, act=False),
    ]
    if bn and c2 == c1 and s == 1:
        ys.append(net.add(f"{at}.bn", "BatchNorm2d", x, num_features=c1))
    y = net.add(f"{at}.add", "Add", ys, functional=True)
    if act is not True:
        return net.add(f"{at}.act", "Identity", y)
    if not net.shared_rep_act:  # RepConv.default_act: one module for every RepConv
        net.shared_rep_act = True
        net.leaves += 1
    return net.add(f"{at}.act", "SiLU", y, functional=True)


def RepBottleneck(net, at, x, c1, c2, shortcut=True, g=1, k=(3, 3), e=0.5):
    c_ = int(c2 * e)
    y = RepConv(net, f"{at}.cv1", x, c1, c_, k[0], 1)
    y = Conv(net, f"{at}.cv2", y, c_, c2, k[1], 1, g=g)
    return net.add(f"{at}.add", "Add", [x, y], functional=True) if shortcut and c1 == c2 else y


def RepCSP(net, at, x, c1, c2, n=1, shortcut=True, g=1, e=0.5):
    """C3 with RepBottlenecks: cv1 → m, cv2 beside it, concatenated, cv3."""
    c_ = int(c2 * e)
    a = Conv(net, f"{at}.cv1", x, c1, c_, 1, 1)
    for j in range(n):
        a = RepBottleneck(net, f"{at}.m.{j}", a, c_, c_, shortcut, g, e=1.0)
    b = Conv(net, f"{at}.cv2", x, c1, c_, 1, 1)
    return _cat_conv(net, at, [a, b], 2 * c_, c2, "cv3")


def RepNCSPELAN4(net, at, x, c1, c2, c3, c4, n=1):
    y = Conv(net, f"{at}.cv1", x, c1, c3, 1, 1)
    ch = net.add(f"{at}.chunk", "Chunk", y, functional=True, chunks=2, dim=1)
    ys = [f"{ch}:0", f"{ch}:1"]
    z = RepCSP(net, f"{at}.cv2.0", ys[-1], c3 // 2, c4, n)
    ys.append(Conv(net, f"{at}.cv2.1", z, c4, c4, 3, 1))
    z = RepCSP(net, f"{at}.cv3.0", ys[-1], c4, c4, n)
    ys.append(Conv(net, f"{at}.cv3.1", z, c4, c4, 3, 1))
    return _cat_conv(net, at, ys, c3 + 2 * c4, c2, "cv4")


def ELAN1(net, at, x, c1, c2, c3, c4):
    y = Conv(net, f"{at}.cv1", x, c1, c3, 1, 1)
    ch = net.add(f"{at}.chunk", "Chunk", y, functional=True, chunks=2, dim=1)
    ys = [f"{ch}:0", f"{ch}:1"]
    ys.append(Conv(net, f"{at}.cv2", ys[-1], c3 // 2, c4, 3, 1))
    ys.append(Conv(net, f"{at}.cv3", ys[-1], c4, c4, 3, 1))
    return _cat_conv(net, at, ys, c3 + 2 * c4, c2, "cv4")


def _avg2(net, at, x):
    """``F.avg_pool2d(x, 2, 1, 0, False, True)``: a 2×2 average, stride 1."""
    return net.add(
        at,
        "AvgPool2d",
        x,
        functional=True,
        kernel_size=2,
        stride=1,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
    )


def AConv(net, at, x, c1, c2):
    y = _avg2(net, f"{at}.avg", x)
    return Conv(net, f"{at}.cv1", y, c1, c2, 3, 2, 1)


def ADown(net, at, x, c1, c2):
    c = c2 // 2
    y = _avg2(net, f"{at}.avg", x)
    ch = net.add(f"{at}.chunk", "Chunk", y, functional=True, chunks=2, dim=1)
    a = Conv(net, f"{at}.cv1", f"{ch}:0", c1 // 2, c, 3, 2, 1)
    b = net.add(
        f"{at}.pool", "MaxPool2d", f"{ch}:1", functional=True, kernel_size=3, stride=2, padding=1
    )
    b = Conv(net, f"{at}.cv2", b, c1 // 2, c, 1, 1, 0)
    return net.add(f"{at}.cat", "Cat", [a, b], functional=True, dim=1)


def SPPELAN(net, at, x, c1, c2, c3, k=5):
    ys = [Conv(net, f"{at}.cv1", x, c1, c3, 1, 1)]
    for j in (2, 3, 4):
        ys.append(
            net.add(f"{at}.cv{j}", "MaxPool2d", ys[-1], kernel_size=k, stride=1, padding=k // 2)
        )
    return _cat_conv(net, at, ys, 4 * c3, c2, "cv5")


def CBLinear(net, at, x, c1, c2s, k=1, s=1, p=None, g=1):
    """One conv to every width of ``c2s`` at once, split into them (the row's outputs)."""
    y = net.add(
        f"{at}.conv",
        "Conv2d",
        x,
        in_channels=c1,
        out_channels=sum(c2s),
        kernel_size=k,
        stride=s,
        padding=autopad(k, p),
        groups=g,
    )
    return net.add(
        f"{at}.split", "Split", y, functional=True, split_size_or_sections=list(c2s), dim=1
    )


def CBFuse(net, at, xs, idx):
    """Output ``idx[i]`` of each CBLinear row before the last input, resized (nearest) to the last
    input's size; all stacked and summed."""
    res = [
        net.add(f"{at}.resize{i}", "UpsampleAs", [f"{x}:{j}", xs[-1]], functional=True)
        for i, (x, j) in enumerate(zip(xs[:-1], idx))
    ]
    net.leaves += 1  # a module without children: one leaf of Ultralytics' layer count
    y = net.add(f"{at}.stack", "Stack", [*res, xs[-1]], functional=True, dim=0)
    return net.add(f"{at}.sum", "Sum", y, functional=True, dim=0)


def fuse_channels(table: list, i: int, srcs: list, args: list, ch: list) -> int:
    """CBFuse's rule: every input but the last a CBLinear row, ``idx`` one of its outputs each;
    its channels, the last input's."""
    if len(srcs) < 2:
        raise _Refused("CBFuse takes a list of inputs in from: CBLinear rows, then the target")
    idx = args[0] if args else None
    if not isinstance(idx, list) or len(idx) != len(srcs) - 1:
        raise _Refused(f"CBFuse takes [idx]: one output index per CBLinear input ({len(srcs) - 1})")
    for j, k in zip(srcs[:-1], idx):
        row = table[j if j >= 0 else i + j]
        if row.module != "CBLinear":
            raise _Refused(f"CBFuse's input row {row.index} is {row.module}, not CBLinear")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(row.args[1]):
            raise _Refused(
                f"CBFuse takes output {k!r} of row {row.index}, which has {len(row.args[1])}"
            )
    c2 = ch[srcs[-1]]
    if not isinstance(c2, int):
        raise _Refused("CBFuse's last input (the target) must be a tensor, not a CBLinear row")
    return c2

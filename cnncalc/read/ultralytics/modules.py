"""Ultralytics' building blocks: each adds the layers its ``forward`` runs, and returns its
output."""

from __future__ import annotations

import math

from .net import BN, _Refused, autopad


def Conv(net, at, x, c1, c2, k=1, s=1, p=None, g=1, d=1, act=True):
    y = net.add(
        f"{at}.conv",
        "Conv2d",
        x,
        in_channels=c1,
        out_channels=c2,
        kernel_size=k,
        stride=s,
        padding=autopad(k, p, d),
        dilation=d,
        groups=g,
        bias=False,
    )
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


def attend(net, at, q, k, v, scale):
    """``v @ softmax((q · scale)ᵀ @ k)ᵀ`` on (…, d, N) tokens: the attention of PSA and YOLO12."""
    q = net.add(f"{at}.q_scaled", "Mul", q, functional=True, value=scale)
    q = net.add(f"{at}.q_t", "Transpose", q, functional=True, dim0=-2, dim1=-1)
    a = net.add(f"{at}.scores", "MatMul", [q, k], functional=True)
    a = net.add(f"{at}.softmax", "Softmax", a, functional=True, dim=-1)
    a = net.add(f"{at}.attn_t", "Transpose", a, functional=True, dim0=-2, dim1=-1)
    return net.add(f"{at}.mix", "MatMul", [v, a], functional=True)


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
    v = f"{s}:2"
    y = attend(net, at, f"{s}:0", f"{s}:1", v, key_dim**-0.5)
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


def psa_split(net, at, x, c1, c2, e, module, body):
    """C2PSA's and PSA's frame: cv1, split in halves, ``body`` on the second, cat, cv2."""
    if c1 != c2:
        raise _Refused(
            f"{module} keeps its channels: its input has {c1} and its output would have {c2} "
            "(Ultralytics asserts c1 == c2)"
        )
    c = int(c1 * e)
    y = Conv(net, f"{at}.cv1", x, c1, 2 * c, 1, 1)
    s = net.add(f"{at}.split", "Split", y, functional=True, split_size_or_sections=[c, c], dim=1)
    return _cat_conv(net, at, [f"{s}:0", body(f"{s}:1", c)], 2 * c, c1)


def C2PSA(net, at, x, c1, c2, n=1, e=0.5):
    def body(b, c):
        for j in range(n):
            b = PSABlock(net, f"{at}.m.{j}", b, c, attn_ratio=0.5, num_heads=max(c // 64, 1))
        return b

    return psa_split(net, at, x, c1, c2, e, "C2PSA", body)


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

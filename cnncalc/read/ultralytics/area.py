"""YOLO12's area attention: AAttn (attention within ``area`` horizontal stripes of the map), ABlock
and A2C2f; each adds the layers its ``forward`` runs, under its parameter names. The reshapes
are written without the map's size (unflatten with -1, reshape as a view of the input), so one
spec holds at every input size, as the module does."""

from __future__ import annotations

from .modules import C3k, Conv, _cat_conv, attend
from .net import _Refused


def AAttn(net, at, x, dim, num_heads, area=1):
    hd = dim // num_heads
    d = hd * num_heads
    qkv = Conv(net, f"{at}.qkv", x, dim, 3 * d, 1, act=False)
    t = net.add(f"{at}.tokens", "Flatten", qkv, functional=True, start_dim=2)  # (B, 3d, N)
    t = net.add(f"{at}.tokens_t", "Transpose", t, functional=True, dim0=1, dim1=2)  # (B, N, 3d)
    if area > 1:  # (B·area, N / area, 3d): the stripes as batch entries
        t = net.add(
            f"{at}.areas", "Unflatten", t, functional=True, dim=1, unflattened_size=[area, -1]
        )
        t = net.add(f"{at}.areas_b", "Flatten", t, functional=True, start_dim=0, end_dim=1)
    t = net.add(
        f"{at}.heads", "Unflatten", t, functional=True, dim=2, unflattened_size=[num_heads, 3 * hd]
    )
    t = net.add(f"{at}.heads_p", "Permute", t, functional=True, dims=[0, 2, 3, 1])
    s = net.add(
        f"{at}.qkv_split", "Split", t, functional=True, split_size_or_sections=[hd] * 3, dim=2
    )
    v = f"{s}:2"
    y = attend(net, at, f"{s}:0", f"{s}:1", v, hd**-0.5)
    like = net.add(f"{at}.nhwc", "Permute", x, functional=True, dims=[0, 2, 3, 1])  # (B, H, W, d)

    def back(name, z):  # (B', h, hd, N') -> (B, d, H, W), contiguous
        z = net.add(f"{at}.{name}_p", "Permute", z, functional=True, dims=[0, 3, 1, 2])
        z = net.add(f"{at}.{name}_hw", "ReshapeAs", [z, like], functional=True)
        z = net.add(f"{at}.{name}_nchw", "Permute", z, functional=True, dims=[0, 3, 1, 2])
        return net.add(f"{at}.{name}_c", "Contiguous", z, functional=True)

    y, v = back("x", y), back("v", v)
    pe = Conv(net, f"{at}.pe", v, d, d, 7, 1, 3, g=d, act=False)
    y = net.add(f"{at}.add", "Add", [y, pe], functional=True)
    return Conv(net, f"{at}.proj", y, d, dim, 1, act=False)


def ABlock(net, at, x, dim, num_heads, mlp_ratio=1.2, area=1):
    y = AAttn(net, f"{at}.attn", x, dim, num_heads, area)
    x = net.add(f"{at}.add1", "Add", [x, y], functional=True)
    h = int(dim * mlp_ratio)
    y = Conv(net, f"{at}.mlp.0", x, dim, h, 1)
    y = Conv(net, f"{at}.mlp.1", y, h, dim, 1, act=False)
    return net.add(f"{at}.add2", "Add", [x, y], functional=True)


def A2C2f(
    net,
    at,
    x,
    c1,
    c2,
    n=1,
    a2=True,
    area=1,
    residual=False,
    mlp_ratio=2.0,
    e=0.5,
    g=1,
    shortcut=True,
):
    c_ = int(c2 * e)
    if c_ % 32:
        raise _Refused(
            f"A2C2f's hidden channels {c_} (c2 {c2} x e {e}) must be a multiple of 32 "
            "(Ultralytics asserts it)"
        )
    ys = [Conv(net, f"{at}.cv1", x, c1, c_, 1, 1)]
    for j in range(n):
        m = f"{at}.m.{j}"
        if a2:
            y = ABlock(net, f"{m}.0", ys[-1], c_, c_ // 32, mlp_ratio, area)
            ys.append(ABlock(net, f"{m}.1", y, c_, c_ // 32, mlp_ratio, area))
        else:
            ys.append(C3k(net, m, ys[-1], c_, c_, 2, shortcut, g))
    y = _cat_conv(net, at, ys, (1 + n) * c_, c2)
    if not (a2 and residual):
        return y
    gamma = net.add(f"{at}.gamma", "Parameter", None, functional=True, shape=[c2])
    gamma = net.add(f"{at}.gamma_view", "View", gamma, functional=True, shape=[-1, c2, 1, 1])
    y = net.add(f"{at}.scaled", "Mul", [gamma, y], functional=True)
    return net.add(f"{at}.residual", "Add", [x, y], functional=True)

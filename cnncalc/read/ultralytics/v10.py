"""YOLOv10's modules: SCDown, PSA, C2fCIB (CIB, RepVGGDW inside) (v10Detect, the NMS-free
head, is with the heads); each adds the layers its
``forward`` runs, under its parameter names."""

from __future__ import annotations

from .modules import C2f, Conv, PSABlock, psa_split


def SCDown(net, at, x, c1, c2, k, s):
    y = Conv(net, f"{at}.cv1", x, c1, c2, 1, 1)
    return Conv(net, f"{at}.cv2", y, c2, c2, k=k, s=s, g=c2, act=False)


def RepVGGDW(net, at, x, ed):
    """A 7×7 and a 3×3 depthwise conv, summed, then its own SiLU (a module of its own: a leaf)."""
    a = Conv(net, f"{at}.conv", x, ed, ed, 7, 1, 3, g=ed, act=False)
    b = Conv(net, f"{at}.conv1", x, ed, ed, 3, 1, 1, g=ed, act=False)
    y = net.add(f"{at}.add", "Add", [a, b], functional=True)
    return net.add(f"{at}.act", "SiLU", y)


def CIB(net, at, x, c1, c2, shortcut=True, e=0.5, lk=False):
    c_ = int(c2 * e)
    y = Conv(net, f"{at}.cv1.0", x, c1, c1, 3, g=c1)
    y = Conv(net, f"{at}.cv1.1", y, c1, 2 * c_, 1)
    y = (
        RepVGGDW(net, f"{at}.cv1.2", y, 2 * c_)
        if lk
        else Conv(net, f"{at}.cv1.2", y, 2 * c_, 2 * c_, 3, g=2 * c_)
    )
    y = Conv(net, f"{at}.cv1.3", y, 2 * c_, c2, 1)
    y = Conv(net, f"{at}.cv1.4", y, c2, c2, 3, g=c2)
    return net.add(f"{at}.add", "Add", [x, y], functional=True) if shortcut and c1 == c2 else y


def C2fCIB(net, at, x, c1, c2, n=1, shortcut=False, lk=False, g=1, e=0.5):
    def inner(m, y, c):
        return CIB(net, m, y, c, c, shortcut, e=1.0, lk=lk)

    return C2f(net, at, x, c1, c2, n, shortcut, g, e, inner=inner)


def PSA(net, at, x, c1, c2, e=0.5):
    """One PSABlock on half the channels (its names straight under the module's)."""

    def body(b, c):
        return PSABlock(net, at, b, c, attn_ratio=0.5, num_heads=max(c // 64, 1))

    return psa_split(net, at, x, c1, c2, e, "PSA", body)

"""RT-DETR's modules: the HGNetV2 stem and blocks (HGStem, HGBlock, LightConv), RepC3, AIFI (a
transformer encoder layer over the top map with its 2-D sin-cos positions) and RTDETRDecoder
(query selection over every level, six deformable-attention decoder layers, the eval output);
each adds the layers its ``forward`` runs, under its parameter names.

Tensors the forwards make from the maps' sizes (the sin-cos grid, the anchors and their mask)
are views of a map of that size here: their values are no number cnncalc reports, and their
shapes follow the input size as torch's do."""

from __future__ import annotations

from .elan import RepConv
from .modules import Conv, DWConv
from .net import Act, _Refused, layer_norm, linear, tensor_op


def LightConv(net, at, x, c1, c2, k=1, act=None):
    y = Conv(net, f"{at}.conv1", x, c1, c2, 1, act=False)
    return DWConv(net, f"{at}.conv2", y, c2, c2, k, act=act or Act())


def HGStem(net, at, x, c1, cm, c2):
    x = Conv(net, f"{at}.stem1", x, c1, cm, 3, 2, act=Act())
    x = net.add(f"{at}.pad1", "ZeroPad2d", x, functional=True, padding=[0, 1, 0, 1])
    x2 = Conv(net, f"{at}.stem2a", x, cm, cm // 2, 2, 1, 0, act=Act())
    x2 = net.add(f"{at}.pad2", "ZeroPad2d", x2, functional=True, padding=[0, 1, 0, 1])
    x2 = Conv(net, f"{at}.stem2b", x2, cm // 2, cm, 2, 1, 0, act=Act())
    x1 = net.add(f"{at}.pool", "MaxPool2d", x, kernel_size=2, stride=1, ceil_mode=True)
    x = net.add(f"{at}.cat", "Cat", [x1, x2], functional=True, dim=1)
    x = Conv(net, f"{at}.stem3", x, cm * 2, cm, 3, 2, act=Act())
    return Conv(net, f"{at}.stem4", x, cm, c2, 1, 1, act=Act())


def HGBlock(net, at, x, c1, cm, c2, k=3, n=6, lightconv=False, shortcut=False, act=None):
    act = act or Act()  # one module, passed to every conv of the block
    ys = [x]
    for i in range(n):
        c = c1 if i == 0 else cm
        if lightconv:
            ys.append(LightConv(net, f"{at}.m.{i}", ys[-1], c, cm, k, act=act))
        else:
            ys.append(Conv(net, f"{at}.m.{i}", ys[-1], c, cm, k, act=act))
    y = net.add(f"{at}.cat", "Cat", ys, functional=True, dim=1)
    y = Conv(net, f"{at}.sc", y, c1 + n * cm, c2 // 2, 1, 1, act=act)
    y = Conv(net, f"{at}.ec", y, c2 // 2, c2, 1, 1, act=act)
    return net.add(f"{at}.add", "Add", [y, x], functional=True) if shortcut and c1 == c2 else y


def RepC3(net, at, x, c1, c2, n=3, e=1.0):
    c_ = int(c2 * e)
    y = Conv(net, f"{at}.cv1", x, c1, c_, 1, 1)
    for i in range(n):
        y = RepConv(net, f"{at}.m.{i}", y, c_, c_)
    y = net.add(f"{at}.sum", "Add", [y, Conv(net, f"{at}.cv2", x, c1, c_, 1, 1)], functional=True)
    if c_ == c2:
        return net.add(f"{at}.cv3", "Identity", y)
    return Conv(net, f"{at}.cv3", y, c_, c2, 1, 1)


def _residual(net, at, x, y, norm, c, drop, p):
    y = net.add(f"{at}.{drop}", "Dropout", y, p=p)
    return layer_norm(net, f"{at}.{norm}", tensor_op(net, f"{at}.{norm}_in", "Add", [x, y]), c)


def AIFI(net, at, x, c1, cm=2048, num_heads=8, dropout=0, act=None, normalize_before=False):
    if normalize_before:
        raise _Refused("AIFI with normalize_before is not read yet")
    if c1 % 4:
        raise _Refused(f"AIFI's 2-D sin-cos positions need channels divisible by 4, found {c1}")
    src = tensor_op(net, f"{at}.tokens", "Flatten", x, start_dim=2)
    src = tensor_op(net, f"{at}.tokens_t", "Permute", src, dims=[0, 2, 1])
    # build_2d_sincos_position_embedding: (h·w, 1) grids @ (1, c/4) frequencies, sin and cos
    grid = tensor_op(net, f"{at}.pos.grid", "Select", x, dim=1, index=0)
    grid = tensor_op(net, f"{at}.pos.grid_flat", "Flatten", grid, start_dim=0)
    grid = tensor_op(net, f"{at}.pos.grid_col", "Unsqueeze", grid, dim=-1)
    omega = tensor_op(net, f"{at}.pos.omega", "Constant", None, shape=[1, c1 // 4])
    parts = []
    for axis in ("h", "w"):
        out = tensor_op(net, f"{at}.pos.out_{axis}", "MatMul", [grid, omega])
        for op in ("sin", "cos"):
            parts.append(tensor_op(net, f"{at}.pos.{op}_{axis}", "Pointwise", out, op=op))
    pos = tensor_op(net, f"{at}.pos.cat", "Cat", parts, dim=1)
    pos = tensor_op(net, f"{at}.pos", "Unsqueeze", pos, dim=0)
    q = tensor_op(net, f"{at}.with_pos", "Add", [src, pos])
    a = net.add(
        f"{at}.ma",
        "MultiheadAttention",
        [q, q, src],
        embed_dim=c1,
        num_heads=num_heads,
        dropout=dropout,
        batch_first=True,
    )
    src = _residual(net, at, src, f"{a}:0", "norm1", c1, "dropout1", dropout)
    y = linear(net, f"{at}.fc1", src, c1, cm)
    y = net.add(f"{at}.act", act or "GELU", y)
    y = net.add(f"{at}.dropout", "Dropout", y, p=dropout)
    y = linear(net, f"{at}.fc2", y, cm, c1)
    y = _residual(net, at, src, y, "norm2", c1, "dropout2", dropout)
    y = tensor_op(net, f"{at}.maps_t", "Permute", y, dims=[0, 2, 1])
    y = tensor_op(net, f"{at}.maps", "ViewAs", [y, x])
    return tensor_op(net, f"{at}.contiguous", "Contiguous", y)


def MLP(net, at, x, c1, ch, c2, n, again=None):
    """Ultralytics' MLP: n Linears with its one ReLU between them, and its Identity out_norm;
    ``again``: the name of a call before (this one calls the same modules)."""
    dims = [c1, *[ch] * (n - 1), c2]
    for i in range(n):
        base = f"{again or at}.layers.{i}"
        x = linear(net, f"{at}.layers.{i}", x, dims[i], dims[i + 1], base if again else None)
        if i < n - 1:
            x = net.add(f"{at}.act.{i}", "ReLU", x, leaf=not again and i == 0)
    return net.add(f"{at}.out_norm", "Identity", x, leaf=not again)


def _inverse_sigmoid(net, at, x, eps=1e-5):
    x = tensor_op(net, f"{at}.clamp", "Pointwise", x, op="clamp", min=0, max=1)
    x1 = tensor_op(net, f"{at}.x1", "Pointwise", x, op="clamp", min=eps)
    x2 = tensor_op(net, f"{at}.one_minus", "Pointwise", x, op="neg")
    x2 = tensor_op(net, f"{at}.one_minus_x", "Add", x2, value=1)
    x2 = tensor_op(net, f"{at}.x2", "Pointwise", x2, op="clamp", min=eps)
    return tensor_op(
        net, f"{at}.log", "Pointwise", tensor_op(net, f"{at}.ratio", "Div", [x1, x2]), op="log"
    )


def _gather_rows(net, at, x, index, width):
    """``x[batch_ind, topk_ind].view(bs, k, -1)``: the rows the top-k picked, per sample."""
    i = tensor_op(net, f"{at}.index", "Unsqueeze", index, dim=-1)
    i = tensor_op(net, f"{at}.index_expand", "Expand", i, shape=[-1, -1, width])
    return tensor_op(net, at, "Gather", [x, i], dim=1)

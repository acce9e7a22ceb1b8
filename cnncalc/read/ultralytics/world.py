"""YOLO-World's modules: C2fAttn (C2f with a max-sigmoid attention to the text embeddings),
ImagePoolingAttn (the text embeddings updated from pooled image features) and WorldDetect (the
class branch's embeddings scored against the text by a contrastive head).

The text embeddings are WorldModel's as Ultralytics builds it offline: a (1, 80, 512) tensor the
model holds (random; no CLIP model is loaded), neither a parameter nor a buffer."""

from __future__ import annotations

from .modules import Bottleneck, Conv, _cat_conv
from .net import BN, _Refused, layer_norm, linear, tensor_op

TEXT = (80, 512)  # WorldModel's offline txt_feats: (1, 80, 512)


def text(net):
    """The text embeddings every row after them reads (made once, before the first row)."""
    if net.text is None:
        t = tensor_op(net, "txt_feats", "Constant", None, shape=[1, *TEXT], batched=True)
        net.text = net.text0 = t  # expanded to the batch, as WorldModel's predict does
        net.assumed = (
            "the text embeddings are assumed as Ultralytics builds the model offline: "
            "WorldModel's (1, 80, 512) placeholder, not CLIP's for your classes (80 rows)"
        )
    return net.text


def MaxSigmoidAttnBlock(net, at, x, guide, c1, c2, nh=1, ec=128, gc=512, scale=False):
    hc = c2 // nh
    g = linear(net, f"{at}.gl", guide, gc, ec)
    g = tensor_op(net, f"{at}.guide_heads", "Unflatten", g, dim=2, unflattened_size=[nh, hc])
    embed = Conv(net, f"{at}.ec", x, c1, ec, 1, act=False) if c1 != ec else x
    embed = tensor_op(
        net, f"{at}.embed_heads", "Unflatten", embed, dim=1, unflattened_size=[nh, hc]
    )
    e = tensor_op(net, f"{at}.embed_flat", "Flatten", embed, start_dim=3)
    e = tensor_op(net, f"{at}.embed_t", "Transpose", e, dim0=2, dim1=3)
    g = tensor_op(net, f"{at}.guide_t", "Permute", g, dims=[0, 2, 3, 1])
    aw = tensor_op(net, f"{at}.scores", "MatMul", [e, g])
    aw = tensor_op(net, f"{at}.max", "Amax", aw, dim=[-1])
    like = tensor_op(net, f"{at}.map", "Select", embed, dim=2, index=0)  # (bs, nh, h, w)
    aw = tensor_op(net, f"{at}.aw", "ViewAs", [aw, like])
    aw = tensor_op(net, f"{at}.aw_scaled", "Div", aw, value=hc**0.5)
    b = net.add(f"{at}.bias", "Parameter", None, functional=True, shape=[nh])
    b = tensor_op(net, f"{at}.bias_view", "View", b, shape=[1, -1, 1, 1])
    aw = tensor_op(net, f"{at}.aw_biased", "Add", [aw, b])
    aw = tensor_op(net, f"{at}.aw_sigmoid", "Sigmoid", aw)
    if scale:
        s = net.add(f"{at}.scale", "Parameter", None, functional=True, shape=[1, nh, 1, 1])
        aw = tensor_op(net, f"{at}.aw_scale", "Mul", [aw, s])
    y = Conv(net, f"{at}.proj_conv", x, c1, c2, 3, 1, act=False)
    y = tensor_op(net, f"{at}.proj_heads", "Unflatten", y, dim=1, unflattened_size=[nh, -1])
    w = tensor_op(net, f"{at}.aw_col", "Unsqueeze", aw, dim=2)
    y = tensor_op(net, f"{at}.weighted", "Mul", [y, w])
    return tensor_op(net, f"{at}.out", "Flatten", y, start_dim=1, end_dim=2)


def C2fAttn(net, at, x, c1, c2, n=1, ec=128, nh=1, gc=512, shortcut=False, g=1, e=0.5):
    c = int(c2 * e)
    y = Conv(net, f"{at}.cv1", x, c1, 2 * c, 1, 1)
    ch = tensor_op(net, f"{at}.chunk", "Chunk", y, chunks=2, dim=1)
    ys = [f"{ch}:0", f"{ch}:1"]
    for j in range(n):
        ys.append(Bottleneck(net, f"{at}.m.{j}", ys[-1], c, c, shortcut, g, ((3, 3), (3, 3)), 1.0))
    ys.append(MaxSigmoidAttnBlock(net, f"{at}.attn", ys[-1], text(net), c, c, nh, ec, gc))
    return _cat_conv(net, at, ys, (3 + n) * c, c2)


def ImagePoolingAttn(net, at, xs, ec=256, ch=(), ct=512, nh=8, k=3, scale=False):
    """Updates the text embeddings (its output is theirs, read by the rows below)."""
    if len(xs) != len(ch) or ec % nh:
        raise _Refused(f"ImagePoolingAttn needs one input per channel count and {nh} | {ec}")
    hc = ec // nh
    parts = []
    for i, (x, c) in enumerate(zip(xs, ch)):
        y = net.add(
            f"{at}.projections.{i}", "Conv2d", x, in_channels=c, out_channels=ec, kernel_size=1
        )
        y = net.add(f"{at}.im_pools.{i}", "AdaptiveMaxPool2d", y, output_size=[k, k])
        parts.append(tensor_op(net, f"{at}.patches{i}", "Flatten", y, start_dim=2))
    x = tensor_op(net, f"{at}.patches", "Cat", parts, dim=-1)
    x = tensor_op(net, f"{at}.patches_t", "Transpose", x, dim0=1, dim1=2)
    t = text(net)
    q = linear(net, f"{at}.query.1", layer_norm(net, f"{at}.query.0", t, ct), ct, ec)
    kk = linear(net, f"{at}.key.1", layer_norm(net, f"{at}.key.0", x, ec), ec, ec)
    v = linear(net, f"{at}.value.1", layer_norm(net, f"{at}.value.0", x, ec), ec, ec)
    q, kk, v = (
        tensor_op(net, f"{at}.{n}_heads", "Unflatten", y, dim=2, unflattened_size=[nh, hc])
        for n, y in (("q", q), ("k", kk), ("v", v))
    )
    aw = tensor_op(net, f"{at}.scores", "Einsum", [q, kk], equation="bnmc,bkmc->bmnk")
    aw = tensor_op(net, f"{at}.scores_scaled", "Div", aw, value=hc**0.5)
    aw = tensor_op(net, f"{at}.softmax", "Softmax", aw, dim=-1)
    y = tensor_op(net, f"{at}.mix", "Einsum", [aw, v], equation="bmnk,bkmc->bnmc")
    y = linear(
        net, f"{at}.proj", tensor_op(net, f"{at}.mix_flat", "Flatten", y, start_dim=2), ec, ct
    )
    if scale:
        s = net.add(f"{at}.scale", "Parameter", None, functional=True, shape=[1])
        y = tensor_op(net, f"{at}.scaled", "Mul", [y, s])
    net.text = tensor_op(net, f"{at}.text", "Add", [y, t])
    return net.text


def _normalize(net, at, x, dim):
    """``F.normalize(x, dim=dim)``: x over its 2-norm along dim, at least 1e-12."""
    n = tensor_op(net, f"{at}.norm", "Norm", x, dim=[dim], keepdim=True)
    n = tensor_op(net, f"{at}.norm_min", "Pointwise", n, op="clamp", min=1e-12)
    return tensor_op(net, at, "Div", [x, n])


def contrastive(net, at, x, w, embed, with_bn):
    """ContrastiveHead / BNContrastiveHead: the map's embeddings against the text's, scaled."""
    if with_bn:
        x = net.add(f"{at}.norm", "BatchNorm2d", x, num_features=embed, **BN)
    else:
        x = _normalize(net, f"{at}.x_unit", x, 1)
    w = _normalize(net, f"{at}.w_unit", w, -1)
    y = tensor_op(
        net,
        f"{at}.logits",
        "MatMul",
        [w, tensor_op(net, f"{at}.x_flat", "Flatten", x, start_dim=2)],
    )
    like = tensor_op(net, f"{at}.map", "Slice", x, dim=1, start=0, end=1)
    like = tensor_op(net, f"{at}.map_rows", "Expand", like, shape=[-1, TEXT[0], -1, -1])
    y = tensor_op(net, f"{at}.logits_map", "ViewAs", [y, like])
    s = net.add(f"{at}.logit_scale", "Parameter", None, functional=True, shape=[])
    s = tensor_op(net, f"{at}.logit_scale_exp", "Pointwise", s, op="exp")
    b = net.add(f"{at}.bias", "Parameter", None, functional=True, shape=[1])
    if not with_bn:
        net.leaves += 1  # ContrastiveHead: a module of parameters alone
    return tensor_op(net, f"{at}.out", "Add", [tensor_op(net, f"{at}.scaled", "Mul", [y, s]), b])

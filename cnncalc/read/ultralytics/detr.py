"""RT-DETR's head (RTDETRDecoder) as its eval forward runs: each level projected and flattened,
the top ``nq`` anchors selected by their best class score, ``ndl`` decoder layers (self-attention,
multi-scale deformable attention, a feed-forward), each refining the boxes, and the postprocess
(top ``nq`` of queries x classes). The denoising embedding and the score heads of the layers
before the last serve training alone: held, never run."""

from __future__ import annotations

from .net import BN, _Refused, layer_norm, linear, tensor_op
from .rtdetr import MLP, _gather_rows, _inverse_sigmoid, _residual
from .yolo26 import _held


def MSDeformAttn(net, at, query, refer, levels, d, nh, nl, npt):
    """``levels``: each level's (map's shape by heads (bs·nh, dh, h, w), tokens) pair; the value
    projection, a position-wise linear, runs on each level's tokens (the same module, the same
    MACs as on their concatenation)."""
    dh = d // nh
    so = linear(net, f"{at}.sampling_offsets", query, d, nh * nl * npt * 2)
    so = tensor_op(net, f"{at}.offsets", "Unflatten", so, dim=2, unflattened_size=[nh, nl * npt, 2])
    aw = linear(net, f"{at}.attention_weights", query, d, nh * nl * npt)
    aw = tensor_op(net, f"{at}.weights", "Unflatten", aw, dim=2, unflattened_size=[nh, nl * npt])
    aw = tensor_op(net, f"{at}.softmax", "Softmax", aw, dim=-1)
    # sampling_locations = xy + offsets / n_points * wh * 0.5 (reference boxes of 4)
    rb = tensor_op(
        net, f"{at}.refer", "Unsqueeze", refer, dim=2
    )  # the layer's refer_bbox.unsqueeze(2)
    rb = tensor_op(net, f"{at}.refer_points", "Unsqueeze", rb, dim=2)  # refer_bbox[:, :, None]
    xy = tensor_op(net, f"{at}.refer_xy", "Slice", rb, dim=-1, start=0, end=2)
    wh = tensor_op(net, f"{at}.refer_wh", "Slice", rb, dim=-1, start=2, end=4)
    loc = tensor_op(net, f"{at}.offsets_scaled", "Div", so, value=npt)
    loc = tensor_op(net, f"{at}.offsets_wh", "Mul", [loc, wh])
    loc = tensor_op(net, f"{at}.offsets_half", "Mul", loc, value=0.5)
    loc = tensor_op(net, f"{at}.locations", "Add", [xy, loc])
    g = tensor_op(net, f"{at}.grids2", "Mul", loc, value=2)
    g = tensor_op(net, f"{at}.grids", "Sub", g, value=1)
    g = tensor_op(net, f"{at}.grids_t", "Permute", g, dims=[0, 2, 1, 3, 4])
    g = tensor_op(net, f"{at}.grids_flat", "Flatten", g, start_dim=0, end_dim=1)
    g = tensor_op(net, f"{at}.grids_split", "Split", g, split_size_or_sections=npt, dim=-2)
    sampled = []
    for i, (fmap, tokens) in enumerate(levels):
        name = f"{at}.value_proj"
        v = linear(net, name if i == 0 else f"{name}.level{i}", tokens, d, d, name if i else None)
        v = tensor_op(net, f"{at}.value{i}.heads", "Unflatten", v, dim=2, unflattened_size=[nh, dh])
        v = tensor_op(net, f"{at}.value{i}.t", "Permute", v, dims=[0, 2, 3, 1])
        v = tensor_op(net, f"{at}.value{i}.flat", "Flatten", v, start_dim=0, end_dim=1)
        v = tensor_op(net, f"{at}.value{i}", "ReshapeAs", [v, fmap])  # (bs·nh, dh, h, w)
        sampled.append(tensor_op(net, f"{at}.sample{i}", "GridSample", [v, f"{g}:{i}"]))
    s = tensor_op(net, f"{at}.samples", "Cat", sampled, dim=-1)
    aw = tensor_op(net, f"{at}.weights_t", "Permute", aw, dims=[0, 2, 1, 3])
    aw = tensor_op(net, f"{at}.weights_flat", "Flatten", aw, start_dim=0, end_dim=1)
    aw = tensor_op(net, f"{at}.weights_col", "Unsqueeze", aw, dim=1)
    y = tensor_op(net, f"{at}.weighted", "Mul", [s, aw])
    y = tensor_op(net, f"{at}.sum", "Sum", y, dim=[-1])
    y = tensor_op(net, f"{at}.out_heads", "Unflatten", y, dim=0, unflattened_size=[-1, nh])
    y = tensor_op(net, f"{at}.out_flat", "Flatten", y, start_dim=1, end_dim=2)
    y = tensor_op(net, f"{at}.out_t", "Transpose", y, dim0=1, dim1=2)
    y = tensor_op(net, f"{at}.out", "Contiguous", y)
    return linear(net, f"{at}.output_proj", y, d, d)


def _layer(net, at, x, refer, pos, levels, hd, nh, nl, npt, d_ffn, dropout):
    q = tensor_op(net, f"{at}.with_pos", "Add", [x, pos])
    qt = tensor_op(net, f"{at}.q_t", "Transpose", q, dim0=0, dim1=1)
    et = tensor_op(net, f"{at}.embed_t", "Transpose", x, dim0=0, dim1=1)
    a = net.add(
        f"{at}.self_attn", "MultiheadAttention", [qt, qt, et], embed_dim=hd, num_heads=nh,
        dropout=dropout,
    )  # fmt: skip
    t = tensor_op(net, f"{at}.self_attn_t", "Transpose", f"{a}:0", dim0=0, dim1=1)
    x = _residual(net, at, x, t, "norm1", hd, "dropout1", dropout)
    qc = tensor_op(net, f"{at}.cross_q", "Add", [x, pos])
    t = MSDeformAttn(net, f"{at}.cross_attn", qc, refer, levels, hd, nh, nl, npt)
    x = _residual(net, at, x, t, "norm2", hd, "dropout2", dropout)
    y = linear(net, f"{at}.linear1", x, hd, d_ffn)
    y = net.add(f"{at}.act", "ReLU", y)
    y = net.add(f"{at}.dropout3", "Dropout", y, p=dropout)
    y = linear(net, f"{at}.linear2", y, d_ffn, hd)
    return _residual(net, at, x, y, "norm3", hd, "dropout4", dropout)


def RTDETRDecoder(
    net, at, xs, nc=80, ch=(512, 1024, 2048), hd=256, nq=300, ndp=4, nh=8, ndl=6, d_ffn=1024,
    dropout=0.0, act=None, eval_idx=-1, nd=100, label_noise_ratio=0.5, box_noise_scale=1.0,
    learnt_init_query=False,
):  # fmt: skip
    nl = len(ch)
    if nl == 0 or len(xs) != nl:
        raise _Refused("RTDETRDecoder needs one input in from per channel count")
    if act is not None or learnt_init_query:
        raise _Refused("RTDETRDecoder with act or learnt_init_query is not read yet")
    if eval_idx not in (-1, ndl - 1):
        raise _Refused(f"RTDETRDecoder with eval_idx {eval_idx} (not the last layer) is not read")
    if hd % nh:
        raise _Refused(f"hidden dim {hd} must be divisible by the {nh} heads")
    levels, tokens = [], []
    for i, (x, c) in enumerate(zip(xs, ch)):
        p = f"{at}.input_proj.{i}"
        y = net.add(
            f"{p}.0", "Conv2d", x, in_channels=c, out_channels=hd, kernel_size=1, bias=False
        )
        y = net.add(f"{p}.1", "BatchNorm2d", y, num_features=hd, **BN)
        t = tensor_op(net, f"{p}.tokens", "Flatten", y, start_dim=2)
        t = tensor_op(net, f"{p}.tokens_t", "Permute", t, dims=[0, 2, 1])
        like = tensor_op(net, f"{p}.heads", "Unflatten", y, dim=1, unflattened_size=[nh, hd // nh])
        like = tensor_op(net, f"{p}.by_heads", "Flatten", like, start_dim=0, end_dim=1)
        levels.append((like, t))  # the shape a level's values take, by heads
        tokens.append(t)
    feats = tensor_op(net, f"{at}.feats", "Cat", tokens, dim=1)
    # the anchors and their validity, one row per token (made from the levels' sizes)
    anchors = tensor_op(net, f"{at}.anchors", "Slice", feats, dim=2, start=0, end=4)
    valid = tensor_op(net, f"{at}.valid_mask", "Slice", feats, dim=2, start=0, end=1)
    y = tensor_op(net, f"{at}.masked", "Mul", [valid, feats])
    features = layer_norm(
        net, f"{at}.enc_output.1", linear(net, f"{at}.enc_output.0", y, hd, hd), hd
    )
    scores = linear(net, f"{at}.enc_score_head", features, hd, nc)
    best = tensor_op(net, f"{at}.best", "Amax", scores, dim=[-1])
    top = tensor_op(net, f"{at}.topk", "TopK", best, k=nq, dim=1, at_most=True)
    embed = _gather_rows(net, f"{at}.top_k_features", features, f"{top}:1", hd)
    top_anchors = _gather_rows(net, f"{at}.top_k_anchors", anchors, f"{top}:1", 4)
    refer = MLP(net, f"{at}.enc_bbox_head", embed, hd, hd, 4, 3)
    refer = tensor_op(net, f"{at}.refer_bbox", "Add", [refer, top_anchors])
    enc_bboxes = tensor_op(net, f"{at}.enc_bboxes", "Sigmoid", refer)
    enc_scores = _gather_rows(net, f"{at}.enc_scores", scores, f"{top}:1", nc)
    # the decoder: every layer runs in eval, the boxes refined after each; the last one scores
    refer = tensor_op(net, f"{at}.decoder.refer", "Sigmoid", refer)
    head = f"{at}.query_pos_head"
    out = embed
    for i in range(ndl):
        d = f"{at}.decoder.layers.{i}"
        pos = MLP(
            net, head if i == 0 else f"{d}.query_pos", refer, 4, 2 * hd, hd, 2, head if i else None
        )
        out = _layer(net, d, out, refer, pos, levels, hd, nh, nl, ndp, d_ffn, dropout)
        bbox = MLP(net, f"{at}.dec_bbox_head.{i}", out, hd, hd, 4, 3)
        inv = _inverse_sigmoid(net, f"{d}.inverse_refer", refer)
        refer = tensor_op(
            net, f"{d}.refined", "Sigmoid", tensor_op(net, f"{d}.bbox_sum", "Add", [bbox, inv])
        )
    for i in range(ndl - 1):  # the score heads of the layers before the last: training only
        _held(net, f"{at}.dec_score_head.{i}.weight", "Parameter", shape=[nc, hd])
        _held(net, f"{at}.dec_score_head.{i}.bias", "Parameter", shape=[nc])
        net.leaves += 1
    score = linear(net, f"{at}.dec_score_head.{ndl - 1}", out, hd, nc)
    _held(net, f"{at}.denoising_class_embed.weight", "Parameter", shape=[nc, hd])
    net.leaves += 1
    dec_bboxes = tensor_op(net, f"{at}.dec_bboxes", "Stack", [refer], dim=0)
    dec_scores = tensor_op(net, f"{at}.dec_scores", "Stack", [score], dim=0)
    # postprocess: the top nq of queries x classes, as (box, score, label) rows
    boxes = tensor_op(net, f"{at}.post.boxes", "Squeeze", dec_bboxes, dim=[0])
    s = tensor_op(net, f"{at}.post.scores", "Squeeze", dec_scores, dim=[0])
    s = tensor_op(net, f"{at}.post.sigmoid", "Sigmoid", s)
    s = tensor_op(net, f"{at}.post.flat", "Flatten", s, start_dim=1)
    top = tensor_op(net, f"{at}.post.topk", "TopK", s, k=nq, dim=1, at_most=True)
    q = tensor_op(net, f"{at}.post.query_div", "Div", f"{top}:1", value=nc)
    q = tensor_op(net, f"{at}.post.query_idx", "Pointwise", q, op="floor")
    boxes = _gather_rows(net, f"{at}.post.boxes_top", boxes, q, 4)
    sc = tensor_op(net, f"{at}.post.score", "Unsqueeze", f"{top}:0", dim=-1)
    lab = tensor_op(net, f"{at}.post.label_base", "Mul", q, value=nc)
    lab = tensor_op(net, f"{at}.post.label_sub", "Sub", [f"{top}:1", lab])
    lab = tensor_op(net, f"{at}.post.label", "Unsqueeze", lab, dim=-1)
    y = tensor_op(net, f"{at}.y", "Cat", [boxes, sc, lab], dim=-1)
    net.outputs = [y, dec_bboxes, dec_scores, enc_bboxes, enc_scores]
    return y

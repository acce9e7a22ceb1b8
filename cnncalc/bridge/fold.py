"""What the walk reads of a graph's patterns before its layers. Tensors the forward makes from
sizes alone (``torch.zeros``, ``arange``, ``meshgrid``, a mask written into with item assignment):
each such computation is folded into one ``Constant`` of its shape and dtype where a layer first
reads it; an operation FlopCounterMode counts (a product, a convolution, attention) is never
folded: it stays a layer, its inputs Constants. Value writes into a copy of a parameter, and
convs whose weight the forward standardises, are found here too."""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx

MAKERS = {torch.zeros, torch.ones, torch.full, torch.empty, torch.rand, torch.randn, torch.eye}
MAKERS |= {torch.zeros_like, torch.ones_like, torch.full_like, torch.empty_like}
MAKERS |= {torch.rand_like, torch.randn_like, torch.arange, torch.linspace, torch.tensor}
METHODS = {"new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"}  # sizes of x, not x

_COUNTED = {operator.matmul, torch.matmul, torch.bmm, torch.mm, torch.einsum, torch.addmm}
_COUNTED |= {torch.baddbmm, F.linear, F.conv1d, F.conv2d, F.conv3d, F.scaled_dot_product_attention}
_COUNTED |= {"matmul", "bmm", "mm", "addmm", "baddbmm"}


def hashable(target) -> bool:
    try:
        hash(target)
    except TypeError:
        return False
    return True


def is_static(node, is_tensor, static: set) -> bool:
    """Whether ``node`` computes a tensor from sizes and other such tensors only (``static``: the
    nodes found so far); ``is_tensor``: whether a node argument is a tensor."""
    if node.op not in ("call_function", "call_method") or not hashable(node.target):
        return False
    if node.target in _COUNTED:
        return False
    if node.target in MAKERS or node.target in METHODS:
        return True
    tensors: list = []
    if node.target in ("to", "type_as"):  # x.to(w): w gives only the dtype and device
        fx.node.map_arg(node.args[:1], tensors.append)
    else:
        fx.node.map_arg((node.args, node.kwargs), tensors.append)
    return all(a in static for a in tensors if is_tensor(a))


def writes_into(node) -> bool:
    """An item assignment (``mask[h0:h1, w0:w1] = k``): in place, its value None."""
    return node.op == "call_function" and node.target is operator.setitem


_FILLS = {"zero_", "fill_"}  # in place, values only
_PARTS = {operator.getitem, "narrow", "select", "view"}


def value_writes(graph) -> tuple[set, list[str]]:
    """Writes of values into a copy of a parameter that nothing reads but the copy itself
    (Swin V2's ``qkv_bias = self.qkv.bias.clone(); qkv_bias[n : 2 * n].zero_()``): the nodes to
    pass over (the write and the part it writes into) and the parameters so copied. Shapes,
    parameters and MACs are those of the parameter itself; the values are not the spec's."""
    skip: set = set()
    copied: list[str] = []
    for node in graph.nodes:
        if node.op != "call_method" or node.target not in _FILLS or node.users:
            continue
        chain, cur = [node], node.args[0]
        while isinstance(cur, fx.Node) and cur.target in _PARTS and len(cur.users) == 1:
            chain.append(cur)
            cur = cur.args[0]
        src = cur.args[0] if isinstance(cur, fx.Node) and cur.target == "clone" else None
        if len(chain) > 1 and isinstance(src, fx.Node) and src.op == "get_attr":
            skip.update(chain)
            copied.append(src.target)
    return skip, copied


def standardised(graph) -> tuple[dict, set]:
    """Convs whose weight the forward standardises (timm's StdConv2d: ``F.batch_norm`` of
    ``weight.reshape(1, out, -1)`` in training mode, without statistics, reshaped back; with
    ScaledStdConv2d's ``(gain * scale).view(-1)`` as the norm's weight): {conv node: (weight,
    gain or None, scale, eps)} and the nodes that compute the weight (passed over)."""
    found, skip = {}, set()
    for node in graph.nodes:
        if node.op != "call_function" or node.target is not F.conv2d or len(node.args) < 2:
            continue
        back = node.args[1]
        if not (isinstance(back, fx.Node) and back.target in ("reshape_as", "view_as")):
            continue
        bn, w = back.args[0], back.args[1]
        if not (isinstance(bn, fx.Node) and bn.target is F.batch_norm and w.op == "get_attr"):
            continue
        flat = bn.args[0]
        kw = dict(
            zip(("input", "running_mean", "running_var", "weight", "bias", "training"), bn.args)
        )
        kw |= bn.kwargs
        if kw.get("running_mean") is not None or kw.get("bias") is not None:
            continue
        if not kw.get("training") or not (isinstance(flat, fx.Node) and flat.args[0] is w):
            continue
        nodes, gain, scale = [back, bn, flat], None, 1.0
        g = kw.get("weight")
        if g is not None:  # (gain * scale).view(-1)
            prod = g.args[0] if isinstance(g, fx.Node) and g.target == "view" else None
            if not (isinstance(prod, fx.Node) and prod.target is operator.mul):
                continue
            gain, scale = prod.args
            if not (isinstance(gain, fx.Node) and gain.op == "get_attr"):
                continue
            if not isinstance(scale, (int, float)):
                continue
            nodes += [g, prod]
        if any(len(n.users) != 1 for n in nodes):
            continue
        found[node] = (w, gain, float(scale), float(kw.get("eps", 1e-5)))
        skip.update(nodes)
    return found, skip

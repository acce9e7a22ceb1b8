"""Sequences and attention: Embedding, RNN/LSTM/GRU, MultiheadAttention and
scaled_dot_product_attention, with torch's shape rules and parameter names.

MACs are what ``FlopCounterMode`` counts on the CPU, halved: the recurrent kinds run their
products as ``addmm``/``mm`` (all counted), except an LSTM without projections, which the CPU runs
in oneDNN's fused kernel (nothing counted); attention counts its projections and the two batched
products where torch runs them as ``bmm``, and nothing inside the fused CPU kernel
(``_scaled_dot_product_flash_attention_for_cpu``), which torch picks for 4-D query, key and value
of one head size; a MultiheadAttention that took torch's fast path (``fast_path: true``, the
fused ``_native_multi_head_attention`` of an eval forward without gradients) counts nothing.
"""

from __future__ import annotations

from .base import (
    INFER,
    REQUIRED,
    Kind,
    LayerError,
    Out,
    check_size,
    choice,
    dims,
    flag,
    integer,
    number,
    optional,
    prod,
    register,
)


class Embedding(Kind):
    """A lookup table: integer indices of any shape -> (*shape, embedding_dim)."""

    def infer(self, a, x):
        if a["padding_idx"] is not None and not (
            -a["num_embeddings"] <= a["padding_idx"] < a["num_embeddings"]
        ):
            raise LayerError(
                f"padding_idx must be within num_embeddings ({a['num_embeddings']}), found "
                f"{a['padding_idx']}",
                "padding_idx",
            )
        return Out(
            shape=(*x, a["embedding_dim"]),
            params=[("weight", (a["num_embeddings"], a["embedding_dim"]))],
        )

    def explain(self, a, x, out):
        return [
            f"each of the {prod(x):,} indices picks a row of {a['embedding_dim']} values from "
            f"a table of {a['num_embeddings']:,} rows: {dims(x)} -> {dims(out)}; no MACs"
        ]


_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
MAX_RNN_LAYERS = 5_000  # as a spec's layers: each stacked layer holds its own tensors


class Recurrent(Kind):
    """RNN, LSTM, GRU: ``from: [x]``, ``[x, h0]`` or (LSTM) ``[x, h0, c0]``; three outputs for an
    LSTM (output, h_n, c_n), two for the others (output, h_n)."""

    inputs = (1, 3)
    size_keys = ("input_size",)

    def infer(self, a, xs, names=()):
        x = xs[0]
        if len(x) not in (2, 3):
            raise LayerError(
                f"expects a 2-D (unbatched) or 3-D input, but the incoming tensor {dims(x)} is "
                f"{len(x)}-D"
            )
        lstm = self.type == "LSTM"
        if len(xs) > (3 if lstm else 2):
            raise LayerError(f"takes the input and at most {2 if lstm else 1} states", "from")
        batched = len(x) == 3
        seq, n = (x[1], x[0]) if batched and a["batch_first"] else (x[0], x[1] if batched else 1)
        fin = check_size(a, "input_size", x[-1], "features", x)
        h, layers, d = a["hidden_size"], a["num_layers"], 2 if a["bidirectional"] else 1
        if layers > MAX_RNN_LAYERS:
            raise LayerError(
                f"num_layers {layers:,} is more than the {MAX_RNN_LAYERS:,} a spec may stack",
                "num_layers",
            )
        proj = a.get("proj_size") or 0
        if proj >= h:
            raise LayerError(
                f"proj_size ({proj}) must be smaller than hidden_size ({h})", "proj_size"
            )
        hout = proj or h
        gate = _GATES[self.type] * h
        params, macs = [], 0
        for k in range(layers):
            width = fin if k == 0 else hout * d
            for sfx in ("", "_reverse")[:d]:
                params += [(f"weight_ih_l{k}{sfx}", (gate, width))]
                params += [(f"weight_hh_l{k}{sfx}", (gate, hout))]
                if a["bias"]:
                    params += [(f"bias_ih_l{k}{sfx}", (gate,)), (f"bias_hh_l{k}{sfx}", (gate,))]
                if proj:
                    params += [(f"weight_hr_l{k}{sfx}", (proj, h))]
                macs += seq * n * (gate * (width + hout) + proj * h)
        if lstm and not proj:
            macs = 0  # the CPU's oneDNN kernel: FlopCounterMode sees no product
        out = (n, seq, d * hout) if batched and a["batch_first"] else (*x[:-1], d * hout)
        state = (d * layers, n, hout) if batched else (d * layers, hout)
        cell = (d * layers, n, h) if batched else (d * layers, h)
        for k, s in enumerate(xs[1:], 1):
            want = state if k == 1 else cell
            if tuple(s) != want:
                raise LayerError(
                    f"its {'h0' if k == 1 else 'c0'} '{names[k] if k < len(names) else k}' is "
                    f"{dims(s)}, but torch expects {dims(want)}",
                    "from",
                )
        outs = [out, state, cell] if lstm else [out, state]
        return Out(shape=out, outputs=outs, params=params, macs=macs)

    def module(self, kwargs):
        return f"{self.type}Steps", kwargs  # the states as inputs and outputs, flat

    def explain(self, a, xs, out):
        h = a["hidden_size"]
        return [
            f"{a['num_layers']} layer(s) of {_GATES[self.type]} gate(s) × {h} units"
            + (", both directions" if a["bidirectional"] else "")
            + f": {dims(xs[0])} -> {dims(out)}, and the last state of every layer",
        ]


def _recurrent(type_: str) -> Recurrent:
    args = {
        "input_size": (optional(integer()), INFER),
        "hidden_size": (integer(), REQUIRED),
        "num_layers": (integer(), 1),
        "bias": (flag, True),
        "batch_first": (flag, False),
        "dropout": (number(0, 1), 0.0),
        "bidirectional": (flag, False),
    }
    if type_ == "RNN":
        args["nonlinearity"] = (choice("tanh", "relu"), "tanh")
    if type_ == "LSTM":
        args["proj_size"] = (integer(0), 0)
    return Recurrent(type_, args)


class MultiheadAttention(Kind):
    """torch.nn.MultiheadAttention: ``from: [query, key, value]``; its outputs are the attention
    output and, with ``need_weights`` (a forward argument, written here), the weights."""

    inputs = (3, 3)

    def infer(self, a, xs, names=()):
        q, k, v = xs
        e, heads = a["embed_dim"], a["num_heads"]
        if e % heads:
            raise LayerError(f"embed_dim ({e}) must be divisible by num_heads ({heads})")
        kdim, vdim = a["kdim"] or e, a["vdim"] or e
        if len(q) not in (2, 3) or len(k) != len(q) or len(v) != len(q):
            raise LayerError(
                f"query, key and value must all be 2-D (unbatched) or 3-D, found {dims(q)}, "
                f"{dims(k)}, {dims(v)}",
                "from",
            )
        for x, want, what in ((q, e, "query"), (k, kdim, "key"), (v, vdim, "value")):
            if x[-1] != want:
                raise LayerError(f"the {what} {dims(x)} must have {want} features", "from")
        bf = a["batch_first"] and len(q) == 3
        seq = (lambda x: x[1]) if bf else (lambda x: x[0])
        n = (q[0] if bf else q[1]) if len(q) == 3 else 1
        if len(q) == 3 and (k[0 if bf else 1] != n or v[0 if bf else 1] != n):
            raise LayerError("query, key and value must have the same batch size", "from")
        if seq(k) != seq(v):
            raise LayerError("key and value must have the same sequence length", "from")
        L, S = seq(q), seq(k) + a["add_bias_kv"] + a["add_zero_attn"]
        params = (
            [("in_proj_weight", (3 * e, e))]
            if kdim == vdim == e
            else [("q_proj_weight", (e, e)), ("k_proj_weight", (e, kdim))]
            + [("v_proj_weight", (e, vdim))]
        )
        if a["bias"]:
            params.append(("in_proj_bias", (3 * e,)))
        if a["add_bias_kv"]:
            params += [("bias_k", (1, 1, e)), ("bias_v", (1, 1, e))]
        params += [("out_proj.weight", (e, e))] + [("out_proj.bias", (e,))] * a["bias"]
        macs = n * (L * e * e + seq(k) * e * kdim + seq(v) * e * vdim) + n * L * e * e
        # the products run as bmm with weights, or as the math kernel where training drops out
        # attention; else in the fused kernel, which FlopCounterMode does not see into
        if a["need_weights"] or (a["training"] and a["dropout"] > 0):
            macs += 2 * n * L * S * e
        if a["fast_path"]:  # torch's fused kernel (eval, no grad, self-attention): no product seen
            macs = 0
        outs = [(*q[:-1], e)]
        if a["need_weights"]:
            w = (L, S) if a["average_attn_weights"] else (heads, L, S)
            outs.append((n, *w) if len(q) == 3 else w)
        return Out(shape=outs[0], outputs=outs, params=params, macs=macs)

    def module(self, kwargs):
        return "Attention", kwargs

    def explain(self, a, xs, out):
        return [
            f"{a['num_heads']} heads of {a['embed_dim'] // a['num_heads']} features: query "
            f"{dims(xs[0])} attends over key {dims(xs[1])}; output {dims(out)}"
        ]


class ScaledDotProductAttention(Kind):
    """F.scaled_dot_product_attention: ``from: [query, key, value]`` (or with a mask, 4): softmax(q
    kᵀ · scale) v, shape (..., L, Ev)."""

    inputs = (3, 4)

    def infer(self, a, xs, names=()):
        q, k, v = xs[:3]
        if len(q) < 2 or len(k) < 2 or len(v) < 2:
            raise LayerError("query, key and value must be at least 2-D", "from")
        if q[-1] != k[-1] or k[-2] != v[-2]:
            raise LayerError(
                f"query {dims(q)}, key {dims(k)} and value {dims(v)} do not fit: q and k share "
                "their last dim, k and v their sequence",
                "from",
            )
        lead = q[:-2]
        out = (*lead, q[-2], v[-1])
        fused = q[-1] == v[-1] and len(q) == 4 and not a["enable_gqa"]
        if a["kernel"] is None:  # torch's CPU flash kernel takes a 2-D or 4-D mask only
            fused = fused and (len(xs) < 4 or len(xs[3]) in (2, 4))
        else:
            fused = a["kernel"] == "flash"
        macs = 0 if fused else prod(lead) * q[-2] * k[-2] * (q[-1] + v[-1])
        return Out(shape=out, macs=macs)

    def laid_out(self, a, xs, strides, out):
        # torch's CPU flash kernel takes q, k and v only with a last dim of stride 1; else the
        # math kernel runs, whose two products FlopCounterMode counts
        q, k, v = xs[:3]
        qkv = list(zip(xs[:3], strides[:3]))
        if out.macs or a["kernel"] or all(st is None or x[-1] == 1 or st[-1] == 1 for x, st in qkv):
            return out
        out.macs = prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])
        return out

    def module(self, kwargs):
        return "ScaledDotProduct", kwargs

    def explain(self, a, xs, out):
        q, k, v = xs[:3]
        return [f"each of {q[-2]} queries attends over {k[-2]} keys: {dims(q)} -> {dims(out)}"]


register(
    Embedding(
        "Embedding",
        {
            "num_embeddings": (integer(), REQUIRED),
            "embedding_dim": (integer(), REQUIRED),
            "padding_idx": (optional(integer(None)), None),
            "max_norm": (optional(number(0)), None),
            "norm_type": (number(), 2.0),
            "scale_grad_by_freq": (flag, False),
            "sparse": (flag, False),
        },
    ),
    *(_recurrent(t) for t in ("RNN", "LSTM", "GRU")),
    MultiheadAttention(
        "MultiheadAttention",
        {
            "embed_dim": (integer(), REQUIRED),
            "num_heads": (integer(), REQUIRED),
            "dropout": (number(0, 1), 0.0),
            "bias": (flag, True),
            "add_bias_kv": (flag, False),
            "add_zero_attn": (flag, False),
            "kdim": (optional(integer()), None),
            "vdim": (optional(integer()), None),
            "batch_first": (flag, False),
            "need_weights": (flag, True),
            "average_attn_weights": (flag, True),
            "fast_path": (flag, False),
            "training": (flag, False),
        },
    ),
    ScaledDotProductAttention(
        "ScaledDotProductAttention",
        {
            "dropout_p": (number(0, 1), 0.0),
            "is_causal": (flag, False),
            "scale": (optional(number()), None),
            "enable_gqa": (flag, False),
            # the kernel torch ran (an import records it): flash counts no MACs, math its two
            # products; none: torch 2.13's CPU pick by shapes, mask and layout. A recorded
            # kernel is taken as given: torch 2.14 runs 3-D inputs on the flash kernel that 2.13
            # runs on the math one, and the layout the books derive can differ from torch's
            # after a pool that keeps a channels-last input channels-last
            "kernel": (optional(choice("flash", "math")), None),
        },
    ),
)

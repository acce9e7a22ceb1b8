"""BatchNorm, InstanceNorm, GroupNorm, LayerNorm and LocalResponseNorm."""

from __future__ import annotations

from .base import (
    INFER,
    REQUIRED,
    Kind,
    LayerError,
    Out,
    check_size,
    dims,
    flag,
    int_list,
    integer,
    number,
    optional,
    prod,
    register,
)

_STATS = [("running_mean", "C"), ("running_var", "C"), ("num_batches_tracked", None)]


def _tensors(c: int, affine: bool, stats: bool):
    params = [("weight", (c,)), ("bias", (c,))] if affine else []
    buffers = [(name, (c,) if size else ()) for name, size in _STATS] if stats else []
    return params, buffers


class BatchNorm(Kind):
    size_keys = ("num_features",)
    size_blind = True  # in eval mode: its one size-dependent refusal is training mode's

    def infer(self, a, x):
        ok = (2, 3) if self.n == 1 else (self.n + 2,)
        if len(x) not in ok:
            want = " or ".join(f"{d}-D" for d in ok)
            raise LayerError(
                f"expects a {want} (batched) input, but the incoming tensor {dims(x)} is {len(x)}-D"
            )
        c = check_size(a, "num_features", x[1], "channels", x)
        params, buffers = _tensors(c, a["affine"], a["track_running_stats"])
        out = Out(shape=x, params=params, buffers=buffers, rf="same")
        if prod(x) // c == 1:
            out.warnings.append(
                f"the incoming tensor {dims(x)} has 1 value per channel: torch refuses it "
                "in training mode (use a batch above 1)"
            )
            out.train_refusal = (
                f"the incoming tensor {dims(x)} has 1 value per channel, which training mode "
                "refuses"
            )
        return out

    def saves(self, a, xs, out, grads):
        # input, batch mean and inverse std, and the running statistics (buffers) when tracked
        c = xs[0][1]
        stats = [("buffer", (c,), "act")] * 2 if a["track_running_stats"] else []
        return [("in", 0)] + [("new", (c,), "act")] * 2 + stats

    def backward(self, a, xs, out, grads):
        # the kernel makes the input's gradient even where no input needs one
        return [("grad", 0) if grads[0] else ("tmp", xs[0], "act"), ("params",)]


class InstanceNorm(Kind):
    size_keys = ("num_features",)

    def infer(self, a, x):
        n = self.n
        if len(x) not in (n + 1, n + 2):
            raise LayerError(
                f"expects a {n + 1}-D or {n + 2}-D input, but the incoming tensor "
                f"{dims(x)} is {len(x)}-D"
            )
        c = check_size(a, "num_features", x[-n - 1], "channels", x)
        if not a["track_running_stats"] and prod(x[-n:]) == 1:
            raise LayerError(
                "needs more than 1 spatial element per channel to normalize, but the "
                f"incoming tensor is {dims(x)}"
            )
        params, buffers = _tensors(c, a["affine"], a["track_running_stats"])
        return Out(shape=x, params=params, buffers=buffers, rf="same")

    def saves(self, a, xs, out, grads):
        # batch norm over a (1, N·C, ...) view: statistics per sample and channel
        x, n = xs[0], self.n
        nc = prod(x[: len(x) - n])
        # the statistics in the activation dtype; the weight and running statistics repeated
        # per sample: with a weight in its dtype (float32 under autocast), without one cast to
        # the input's
        stats = "param" if a["affine"] else "act"
        repeated = [("new", (nc,), stats)] * (a["affine"] + 2 * a["track_running_stats"])
        return [("in", 0)] + [("new", (nc,), "act")] * 2 + repeated

    def forward_temps(self, a, xs, out, grads=(), strides=()):
        # the bias repeated per sample (not kept), and the running statistics' per-channel means
        nc = prod(xs[0][: len(xs[0]) - self.n])
        c = a["num_features"]
        # (the means in the repeated statistics' dtype; the input's cast back to the buffer's)
        after = ("after", (c,), "param") if a["affine"] else ("after", (c,), "act", "cast")
        return [("before", (nc,), "param")] * a["affine"] + [after] * 2 * a["track_running_stats"]

    def backward(self, a, xs, out, grads):
        # batch norm's kernel on the (1, N·C, ...) view: the input's gradient (needed or not),
        # then the repeated weight's and bias's, summed per channel in a second node
        nc = prod(xs[0][: len(xs[0]) - self.n])
        first = ("grad", 0) if grads[0] else ("tmp", xs[0], "act")
        if not a["affine"]:
            return [first]
        return [first, ("tmp", (nc,), "param"), ("tmp", (nc,), "param"), ("release",), ("params",)]


class GroupNorm(Kind):
    size_keys = ("num_channels",)
    autocast = "weight"

    def infer(self, a, x):
        if len(x) < 2:
            raise LayerError(
                "expects an (N, C, ...) input of at least 2 dims, but the incoming tensor "
                f"{dims(x)} is {len(x)}-D"
            )
        c = check_size(a, "num_channels", x[1], "channels", x)
        if c % a["num_groups"]:
            raise LayerError(
                f"num_channels ({c}) must be divisible by num_groups ({a['num_groups']})",
                "num_groups",
            )
        if x[0] * c // a["num_groups"] * prod(x[2:]) == 1:  # torch checks this in every mode
            raise LayerError(
                f"the incoming tensor {dims(x)} gives each group a single value to "
                "normalize; torch refuses it"
            )
        params, _ = _tensors(c, a["affine"], False)
        return Out(shape=x, params=params[: 1 + a["bias"]], rf="same")

    def saves(self, a, xs, out, grads):
        return [("in", 0)] + [("new", (xs[0][0], a["num_groups"]), "act")] * 2

    def module(self, kwargs):
        # torch's GroupNorm has a weight and a bias or neither; a weight alone (timm's
        # GroupNorm1NoBias) is one with its bias set to None
        return ("GroupNorm" if kwargs.pop("bias") else "GroupNormNoBias"), kwargs


class LayerNorm(Kind):
    def infer(self, a, x):
        ns = a["normalized_shape"]
        if any(s < 1 for s in ns):
            raise LayerError(
                f"normalized_shape must hold positive sizes, found {list(ns)}", "normalized_shape"
            )
        if len(x) < len(ns) or tuple(x[len(x) - len(ns) :]) != ns:
            raise LayerError(
                f"normalized_shape is {list(ns)}, but the incoming tensor {dims(x)} ends "
                f"in {list(x[-len(ns) :])}",
                "normalized_shape",
            )
        params = []
        if a["elementwise_affine"]:
            params = [("weight", ns)] + ([("bias", ns)] if a["bias"] else [])
        return Out(shape=x, params=params, rf="same")

    def saves(self, a, xs, out, grads):
        x = xs[0]
        lead = x[: len(x) - len(a["normalized_shape"])]
        return [("in", 0)] + [("new", lead, "act")] * 2


class RMSNorm(LayerNorm):
    """nn.RMSNorm: x over the root mean square of its last dims (``eps`` None: the dtype's
    machine epsilon), times ``weight``; no bias, no MACs."""

    def infer(self, a, x):
        return super().infer({**a, "bias": False}, x)


class LocalResponseNorm(Kind):
    autocast = "fp32"

    def infer(self, a, x):
        if len(x) < 3:
            raise LayerError(
                f"expects an input of 3 or more dims, but the incoming tensor {dims(x)} is "
                f"{len(x)}-D"
            )
        return Out(shape=x, rf="same")

    def saves(self, a, xs, out, grads):
        # x·x padded over channels and pooled, its power, and the input (torch's functional form)
        x = xs[0]
        padded = (x[0], 1, x[1] + a["size"] - 1, *x[2:])
        return [("in", 0), ("new", padded, "act"), ("new", x, "act"), ("new", x, "act")]

    saved_without_grad = False  # its functional form frees each step as it goes

    def forward_temps(self, a, xs, out, grads=(), strides=()):
        # without a gradient, the most alive beside the output: the padded square, or two
        # input-sized steps (the pooled square and its scaled sum)
        x = xs[0]
        padded = (x[0], 1, x[1] + a["size"] - 1, *x[2:])
        return [] if any(grads) else [("before", (max(prod(padded), 2 * prod(x)),), "act")]

    def backward(self, a, xs, out, grads):
        # torch's functional form, node by node (x / d, d = (k + α·avg(pad(x·x)))^β): the
        # division's two gradients, the power's, the scale's, the pooling's, the pad's, x·x's
        # two, summed with the division's into the input's
        x = xs[0]
        padded = (x[0], 1, x[1] + a["size"] - 1, *x[2:])
        t = ("tmp", x, "act")
        return [
            *[t] * 4, ("drop", 2), ("drop", 1), ("drop", 0), t, ("release_in",), ("unsave", 3),
            *[t] * 3, ("drop", 6), ("drop", 5), ("drop", 3), ("unsave", 2),
            t, ("drop", 7),
            ("tmp", padded, "act"), ("drop", 8), ("unsave", 1),
            t, ("drop", 9),
            t, t, ("drop", 10), ("unsave", 0),
            t, ("drop", 4), ("grad", 0), ("drop", 13), ("drop", 11), ("drop", 12),
        ]  # fmt: skip


_EPS = (number(0.0), 1e-5)
_MOMENTUM = (optional(number()), 0.1)


def _batch_args(stats: bool) -> dict:
    """BatchNorm's and InstanceNorm's arguments; they differ in the defaults of affine and
    tracking."""
    return {
        "num_features": (optional(integer()), INFER),
        "eps": _EPS,
        "momentum": _MOMENTUM,
        "affine": (flag, stats),
        "track_running_stats": (flag, stats),
    }


for _n in (1, 2, 3):
    register(
        BatchNorm(f"BatchNorm{_n}d", _batch_args(True), n=_n),
        InstanceNorm(f"InstanceNorm{_n}d", _batch_args(False), n=_n),
    )

register(
    GroupNorm(
        "GroupNorm",
        {
            "num_groups": (integer(), REQUIRED),
            "num_channels": (optional(integer()), INFER),
            "eps": _EPS,
            "affine": (flag, True),
            "bias": (flag, True),
        },
    ),
    LayerNorm(
        "LayerNorm",
        {
            "normalized_shape": (int_list, REQUIRED),
            "eps": _EPS,
            "elementwise_affine": (flag, True),
            "bias": (flag, True),
        },
    ),
    RMSNorm(
        "RMSNorm",
        {
            "normalized_shape": (int_list, REQUIRED),
            "eps": (optional(number(0.0)), None),
            "elementwise_affine": (flag, True),
        },
    ),
    LocalResponseNorm(
        "LocalResponseNorm",
        {
            "size": (integer(), REQUIRED),
            "alpha": (number(), 1e-4),
            "beta": (number(), 0.75),
            "k": (number(), 1.0),
        },
    ),
)

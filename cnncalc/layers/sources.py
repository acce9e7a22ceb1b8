"""Tensors that come from no layer: a model's further inputs (``Input``: its second, third, ...
positional or keyword input) and tensors its forward creates from sizes (``Constant``:
``torch.zeros(x.size(0), 64)``, ``ones``, ``full``, ``arange``)."""

from __future__ import annotations

from .base import (
    REQUIRED,
    Kind,
    LayerError,
    Out,
    choice,
    dims,
    flag,
    integer,
    prod,
    register,
    schema,
)

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8")
DTYPES += ("bool",)


@schema({"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 64})
def _shape(v, key):
    if (
        isinstance(v, list)
        and len(v) <= 64
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in v)
    ):
        return tuple(v)
    raise LayerError(f"{key} must be a list of at most 64 positive sizes, found {v!r}", key)


class Source(Kind):
    inputs = (0, 0)

    def infer(self, a, xs, names=()):
        return Out(shape=a["shape"])

    def explain(self, a, xs, out):
        what = "an input of the model" if self.type == "Input" else "a tensor the forward makes"
        lead = ", its first dim the input's batch" if a.get("batched") else ""
        return [f"{what}: {dims(out)} {a['dtype']} ({prod(out):,} values){lead}, no parameters"]

    def module(self, kwargs):
        return self.type, kwargs


class Buffer(Source):
    """A buffer a module owns without a submodule (a positional-encoding table): counted as a
    buffer, never a parameter, and named as the layer (no suffix)."""

    def infer(self, a, xs, names=()):
        return Out(shape=a["shape"], buffers=[("", a["shape"])])

    def explain(self, a, xs, out):
        return [f"a buffer {dims(out)} {a['dtype']} ({prod(out):,} values), named as the layer"]

    def module(self, kwargs):
        return "Buf", kwargs


register(
    Buffer("Buffer", {"shape": (_shape, REQUIRED), "dtype": (choice(*DTYPES), "float32")}),
    Source("Input", {"shape": (_shape, REQUIRED), "dtype": (choice(*DTYPES), "float32")}),
    Source(
        "Constant",
        {
            "shape": (_shape, REQUIRED),
            "dtype": (choice(*DTYPES), "float32"),
            # its first dim is the input's batch size (torch.zeros(x.size(0), 64), an expand
            # to x.shape[0]): the engine sets it, so --batch reaches it
            "batched": (flag, False),
        },
    ),
)


class Index(Kind):
    """``x[index]`` (``x[:, index]`` with ``dim``): the rows an integer tensor picks, as torch's
    indexing with one index tensor: the shape ``x[:dim] + index + x[dim + 1:]``; no MACs."""

    inputs = (2, 2)

    def infer(self, a, xs, names=()):
        x, index = xs
        d = a["dim"]
        if not 0 <= d < len(x):
            raise LayerError(f"dim {d} is not a dim of the indexed tensor {dims(x)}", "dim")
        return Out(shape=(*x[:d], *index, *x[d + 1 :]))

    def explain(self, a, xs, out):
        x, index = xs
        return [f"the {prod(index):,} entries of an index {dims(index)} pick along dim {a['dim']}"]

    def module(self, kwargs):
        return "Index", kwargs


register(Index("Index", {"dim": (integer(0), 0)}))

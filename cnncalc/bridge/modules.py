"""Modules for the layers torch.nn lacks: Add, Mul, Div, Cat, Split/Chunk, MatMul, views,
reductions,
StochasticDepth, and the reader of a parameter a module owns directly."""

from __future__ import annotations

import torch
from torch import nn

from .picks import (  # noqa: F401 (built by name)
    Gather,
    GridSample,
    Index,
    Interpolate,
    Maximum,
    Minimum,
    Roll,
    TensorUnfold,
    TopK,
)
from .products import Einsum, ScaledDotProduct  # noqa: F401
from .std_conv import FunctionalConv2d, StdConv2d  # noqa: F401


class Cat(nn.Module):
    """torch.cat along ``dim``."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _Arith(nn.Module):
    """Two or more tensors combined left to right, or one tensor and a constant ``value``."""

    op = staticmethod(torch.add)

    def __init__(self, value=None):
        super().__init__()
        self.value = value

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = self.op(out, x)
        return out if self.value is None else self.op(out, self.value)

    def extra_repr(self) -> str:
        return "" if self.value is None else f"value={self.value}"


class Add(_Arith):
    """Element-wise sum of two or more tensors (broadcasting), or of a tensor and a constant."""

    op = staticmethod(torch.add)


class Mul(_Arith):
    """Element-wise product of two or more tensors (broadcasting), or of a tensor and a constant."""

    op = staticmethod(torch.mul)


class Sub(_Arith):
    """A tensor minus another (broadcasting) or minus a constant."""

    op = staticmethod(torch.sub)


class Div(_Arith):
    """A tensor divided by another (broadcasting) or by a constant."""

    op = staticmethod(torch.div)


class MatMul(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


class Param:
    """Reads a parameter registered on a parent module (not a module itself, so the name gets no
    suffix)."""

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.owner, self.attr = None, None

    def register(self, owner: nn.Module, attr: str) -> None:
        owner.register_parameter(attr, nn.Parameter(torch.randn(self.shape) * 0.1 + 1))
        self.owner, self.attr = owner, attr

    def parameters(self, recurse: bool = False):
        return iter([getattr(self.owner, self.attr)])

    def __call__(self):
        return getattr(self.owner, self.attr)


class View(nn.Module):
    def __init__(self, shape, reshape: bool = False):
        super().__init__()
        self.shape, self.reshape = tuple(shape), reshape

    def forward(self, x):
        return x.reshape(self.shape) if self.reshape else x.view(self.shape)


class ViewAs(nn.Module):
    def __init__(self, reshape: bool = False):
        super().__init__()
        self.reshape = reshape

    def forward(self, x, like):
        return x.reshape_as(like) if self.reshape else x.view_as(like)


class UpsampleAs(nn.Module):
    def __init__(self, mode: str = "nearest", align_corners=None):
        super().__init__()
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x, like):
        return nn.functional.interpolate(
            x, size=like.shape[2:], mode=self.mode, align_corners=self.align_corners
        )


class Contiguous(nn.Module):
    def forward(self, x):
        return x.contiguous()


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return torch.permute(x, self.dims)


class Transpose(nn.Module):
    def __init__(self, dim0, dim1):
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x):
        return torch.transpose(x, self.dim0, self.dim1)


class Squeeze(nn.Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.squeeze() if self.dim is None else x.squeeze(tuple(self.dim))


class Unsqueeze(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.unsqueeze(self.dim)


class Split(nn.Module):
    """torch.split or torch.chunk along ``dim``: a tuple of views."""

    def __init__(self, dim=0, split_size_or_sections=None, chunks=None):
        super().__init__()
        self.dim, self.sections, self.chunks = dim, split_size_or_sections, chunks

    def forward(self, x):
        if self.chunks is not None:
            return torch.chunk(x, self.chunks, self.dim)
        s = self.sections
        return torch.split(x, s if isinstance(s, int) else list(s), self.dim)


class Reduce(nn.Module):
    def __init__(self, op: str, dim=None, keepdim=False):
        super().__init__()
        self.op, self.dim, self.keepdim = op, dim, keepdim

    def forward(self, x):
        dim = list(range(x.dim())) if self.dim is None else list(self.dim)
        return getattr(torch, self.op)(x, dim=dim, keepdim=self.keepdim)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth's semantics, without torchvision."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise


class GroupNormNoBias(nn.GroupNorm):
    """nn.GroupNorm with a weight and no bias (timm's GroupNorm1NoBias)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bias = None


class Stack(nn.Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.stack(xs, self.dim)


class Expand(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.expand(self.shape)


class Slice(nn.Module):
    """``x[..., start:end:step]`` along one dim: a view."""

    def __init__(self, dim, start=None, end=None, step=1):
        super().__init__()
        self.dim, self.index = dim, slice(start, end, step)

    def forward(self, x):
        return x[(slice(None),) * (self.dim % x.dim()) + (self.index,)]


class Select(nn.Module):
    """``x[..., index]`` along one dim: a view without that dim."""

    def __init__(self, dim, index):
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x):
        return x.select(self.dim, self.index)


class Norm(nn.Module):
    def __init__(self, p=2.0, dim=None, keepdim=False):
        super().__init__()
        self.p, self.dim, self.keepdim = p, dim, keepdim

    def forward(self, x):
        dim = list(range(x.dim())) if self.dim is None else list(self.dim)
        return torch.norm(x, p=self.p, dim=dim, keepdim=self.keepdim)


class Unbind(nn.Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return torch.unbind(x, self.dim)


_DTYPE = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16}
_DTYPE |= {"bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32}
_DTYPE |= {"int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}


class Input(nn.Module):
    """A further input of the net: :class:`~cnncalc.bridge.build.SpecNet` hands it the tensor."""

    def __init__(self, shape, dtype="float32"):
        super().__init__()
        self.shape, self.dtype = tuple(shape), _DTYPE[dtype]
        self.device = torch.empty(0).device  # where the net is built

    def forward(self):
        return self.example(self.device)

    def _apply(self, fn, recurse=True):  # .double(), .to(device): as a tensor of it would go
        probe = fn(torch.empty(0, dtype=self.dtype, device=self.device))
        self.dtype, self.device = probe.dtype, probe.device
        return super()._apply(fn, recurse)

    def example(self, device=None):
        if self.dtype.is_floating_point:
            return torch.randn(self.shape, dtype=self.dtype, device=device)
        return torch.zeros(self.shape, dtype=self.dtype, device=device)  # valid indices


class Constant(Input):
    """A tensor the forward makes from sizes (zeros); ``batched``: its shape has the batch's size
    already (the analysis gave it)."""

    def __init__(self, shape, dtype="float32", batched=False):
        super().__init__(shape, dtype)

    def forward(self):
        return torch.zeros(self.shape, dtype=self.dtype, device=self.device)


def _steps(cls):
    class Steps(cls):
        """The recurrent module with its states as inputs and outputs, flat: (x[, h0[, c0]]) ->
        (output, h_n[, c_n])."""

        def forward(self, x, *states):
            state = (states if len(states) > 1 else states[0]) if states else None
            out, last = super().forward(x, state)
            return (out, *last) if isinstance(last, tuple) else (out, last)

    Steps.__name__ = Steps.__qualname__ = f"{cls.__name__}Steps"
    return Steps


LSTMSteps, GRUSteps, RNNSteps = _steps(nn.LSTM), _steps(nn.GRU), _steps(nn.RNN)


class Attention(nn.MultiheadAttention):
    """nn.MultiheadAttention with its forward's ``need_weights`` fixed; its outputs flat."""

    def __init__(
        self, need_weights=True, average_attn_weights=True, fast_path=False, training=False, **kw
    ):
        super().__init__(**kw)
        self.need_weights, self.average = need_weights, average_attn_weights

    def forward(self, q, k, v):
        out, w = super().forward(
            q, k, v, need_weights=self.need_weights, average_attn_weights=self.average
        )
        return (out, w) if self.need_weights else (out,)


class Unpool(nn.Module):
    """nn.MaxUnpool1d/2d/3d with the forward's output_size fixed."""

    def __init__(self, n, kernel_size, stride=None, padding=0, output_size=None):
        super().__init__()
        cls = getattr(nn, f"MaxUnpool{n}d")
        self.unpool, self.output_size = cls(kernel_size, stride, padding), output_size

    def forward(self, x, indices):
        return self.unpool(x, indices, self.output_size)


class Pointwise(nn.Module):
    """torch's element-wise function ``op`` (``pow``'s exponent, ``clamp``'s bounds)."""

    def __init__(self, op, exponent=None, min=None, max=None):
        super().__init__()
        self.op, self.exponent, self.min, self.max = op, exponent, min, max

    def forward(self, x):
        if self.op == "pow":
            return torch.pow(x, self.exponent)
        if self.op == "clamp":
            return torch.clamp(x, self.min, self.max)
        return getattr(torch, self.op)(x)


class Buf(Param):
    """Reads a buffer registered on a parent module (zeros of its shape and dtype)."""

    def __init__(self, shape, dtype="float32"):
        super().__init__(shape)
        self.dtype = _DTYPE[dtype]

    def register(self, owner: nn.Module, attr: str) -> None:
        owner.register_buffer(attr, torch.zeros(self.shape, dtype=self.dtype))
        self.owner, self.attr = owner, attr

    def parameters(self, recurse: bool = False):
        return iter([])

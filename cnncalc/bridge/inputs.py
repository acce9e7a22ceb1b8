"""A model's example inputs, as torchinfo's users give them: sizes (with ``dtypes`` and
``batch_dim``) or tensors, several of them, a dict of keyword inputs, and keyword arguments of the
forward; bound to the forward's parameters, on fake tensors or real ones."""

from __future__ import annotations

import inspect

import torch

from .trace import ImportFailed

_ROLES = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class Size:
    """An input given by its size: made as torchinfo makes it (random floats; integer types from
    zeros, valid indices for any embedding)."""

    def __init__(self, shape: tuple[int, ...], dtype: torch.dtype):
        self.shape, self.dtype = shape, dtype

    def make(self, device=None):
        if self.dtype.is_floating_point or self.dtype.is_complex:
            return torch.randn(self.shape, dtype=self.dtype, device=device)
        return torch.zeros(self.shape, dtype=self.dtype, device=device)


def _make(item, device=None):
    if isinstance(item, Size):
        return item.make(device)
    if isinstance(item, torch.Tensor):
        return item.to(device) if device == "meta" else item
    if isinstance(item, (tuple, list)):
        return type(item)(_make(x, device) for x in item)
    if isinstance(item, dict):
        return {k: _make(x, device) for k, x in item.items()}
    return item


def on_meta(model):
    """A context in which the model's parameters and buffers are meta tensors of their shapes
    (and ``requires_grad``): every operation computes shapes only, with no data and no memory;
    the model's own tensors are untouched and back in place after."""
    from torch.nn.utils.stateless import _reparametrize_module

    held = [*model.named_parameters(remove_duplicate=False)]
    held += [*model.named_buffers(remove_duplicate=False)]
    metas = {n: torch.empty_like(t, device="meta").requires_grad_(t.requires_grad) for n, t in held}
    return _reparametrize_module(model, metas, tie_weights=True)


class Inputs:
    """Positional inputs, keyword inputs, and keyword arguments that are not tensors."""

    def __init__(self, args: list, kwargs: dict | None = None, extra: dict | None = None):
        self.args, self.kwargs, self.extra = list(args), dict(kwargs or {}), dict(extra or {})
        self.device = None  # where sizes are made: the model's own device

    @classmethod
    def sized(cls, *shapes: tuple[int, ...]) -> Inputs:
        return cls([Size(tuple(s), torch.float32) for s in shapes])

    def shapes(self) -> list[tuple[int, ...]]:
        def walk(x):
            if isinstance(x, (Size, torch.Tensor)):
                return [tuple(x.shape)]
            if isinstance(x, (tuple, list)):
                return [s for v in x for s in walk(v)]
            if isinstance(x, dict):
                return [s for v in x.values() for s in walk(v)]
            return []

        return walk([*self.args, *self.kwargs.values()])

    def make(self, meta: bool = False) -> tuple[list, dict]:
        """The example tensors: on the meta device (shapes only), else real."""
        d = "meta" if meta else self.device
        return [_make(x, d) for x in self.args], {k: _make(x, d) for k, x in self.kwargs.items()}

    def bind(self, model, meta: bool = False) -> tuple[dict, dict]:
        """(forward parameter -> its example value, the other parameters' fixed values: the
        non-tensor keyword arguments given and every default left)."""
        try:
            sig = inspect.signature(model.forward)
        except (TypeError, ValueError):
            raise ImportFailed("the model's forward has no signature to bind inputs to") from None
        args, kwargs = self.make(meta)
        try:
            bound = sig.bind_partial(*args, **kwargs, **self.extra)
        except TypeError as e:
            raise ImportFailed(f"the inputs do not fit the model's forward: {e}") from None
        values = {k: v for k, v in bound.arguments.items() if k not in self.extra}
        fixed = {k: v for k, v in bound.arguments.items() if k in self.extra}
        for name, p in sig.parameters.items():
            if name in bound.arguments or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.default is p.empty:
                raise ImportFailed(f"the model's forward needs its argument '{name}' as an input")
            fixed[name] = p.default
        return values, fixed

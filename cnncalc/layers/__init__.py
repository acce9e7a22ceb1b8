"""The layer kinds, one family a file, all registered in ``REGISTRY`` by torch class name."""

# isort: off
# imported to register, in this order (the order `cnncalc schema` lists the kinds)
from . import conv, elementwise, linear, reshape, views, merge, norm, pad, pool, reduce  # noqa: F401
from . import einsum, pointwise, sequence, sources, windows, pick  # noqa: F401

# isort: on
from .base import REGISTRY, REQUIRED, Kind, LayerError, Out, Shape

__all__ = ["REGISTRY", "REQUIRED", "Kind", "LayerError", "Out", "Shape"]

"""The layer kinds, one family a file, all registered in ``REGISTRY`` by torch class name."""

from . import conv, elementwise, linear, merge, norm, pad, pool, reduce, reshape  # noqa: F401  (they register)
from .base import REGISTRY, REQUIRED, Kind, LayerError, Out, Shape

__all__ = ["REGISTRY", "REQUIRED", "Kind", "LayerError", "Out", "Shape"]

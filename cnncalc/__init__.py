"""cnncalc: shapes, parameters and MACs of convolutional nets from a YAML spec, exactly as torch
computes them.

>>> import cnncalc
>>> a = cnncalc.analyze("configs/lenet.yaml")          # a path, a dict (a parsed spec) or YAML text
>>> a.output, a.total_params, a.total_macs
((1, 10), 81194, 274656)
>>> a.to_dict() == json.loads(`cnncalc shapes configs/lenet.yaml --format json`)   # doctest: +SKIP

The API lives in ``cnncalc.api``; ``import cnncalc`` imports neither torch nor the command line;
``summary`` imports torch when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, SpecError

__version__ = "0.2.0"  # the one source of the version: pyproject.toml reads it from here

if TYPE_CHECKING:  # pragma: no cover
    from .api import Analysis, analyze, summary

__all__ = ["__version__", "analyze", "summary", "Analysis", "Diagnostic", "SpecError"]


def __getattr__(name: str):
    """``analyze``, ``summary`` and ``Analysis`` from ``cnncalc.api``, imported on first use."""
    if name in ("analyze", "summary", "Analysis"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")

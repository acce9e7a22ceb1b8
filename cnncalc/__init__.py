"""cnncalc: shapes, parameters and MACs of convolutional nets from a YAML spec, exactly as torch computes them.

>>> import cnncalc
>>> a = cnncalc.analyze("configs/lenet.yaml")          # a path, a dict (a parsed spec) or YAML text
>>> a.output, a.total_params, a.total_macs
((1, 10), 81194, 274656)
>>> a.to_dict() == json.loads(`cnncalc shapes configs/lenet.yaml --format json`)   # doctest: +SKIP

``import cnncalc`` imports neither torch nor the command line; ``summary`` imports torch when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .diagnostics import Diagnostic, SpecError

__version__ = "0.2.0"  # the one source of the version: pyproject.toml reads it from here

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Analysis

__all__ = ["__version__", "analyze", "summary", "Analysis", "Diagnostic", "SpecError"]


def _is_file(path: str) -> bool:
    """A file, or Ultralytics' scaled name of one (``yolov8n.yaml`` for ``yolov8.yaml``)."""
    import os

    from .ultralytics import unscaled

    return os.path.isfile(path) or os.path.isfile(unscaled(path))


def analyze(
    spec: Any, *, batch: int | None = None, scale: str | None = None, imgsz: int | None = None
) -> Analysis:
    """Analyse a spec: a path to a YAML file, a dict (a parsed spec) or YAML text.

    Returns the :class:`~cnncalc.engine.Analysis` (``to_dict()`` is ``shapes --format json``,
    ``params_dict()`` is ``params --format json``, ``memory().to_dict()`` is ``memory --format json``;
    it renders as Markdown in a notebook). A bad spec
    raises :class:`SpecError`, whose ``diagnostics`` hold path, line, col, severity and message.
    ``scale`` and ``imgsz`` are for an Ultralytics model YAML (``yolov8n.yaml`` is ``yolov8.yaml`` at scale n).
    """
    import os

    from .engine import analyze as _analyze
    from .spec import load, parse

    if isinstance(spec, dict):
        import yaml

        text, path = yaml.safe_dump(spec, sort_keys=False), "<dict>"
        load_it = lambda: parse(text, path, scale, imgsz)  # noqa: E731
    elif isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and "\n" not in spec and _is_file(spec)
    ):
        path = os.fspath(spec)
        load_it = lambda: load(path, scale, imgsz)  # noqa: E731
    elif isinstance(spec, str):
        text, path = spec, "<text>"
        load_it = lambda: parse(text, path, scale, imgsz)  # noqa: E731
    else:
        raise TypeError(f"analyze() takes a path, a dict or YAML text, not {type(spec).__name__}")
    from .spec import READ

    saved = dict(
        READ
    )  # the command line's options (a command run in this process) are not the caller's
    READ.update(scale=None, imgsz=None, set={})
    try:
        result = _analyze(load_it(), batch)
    except SpecError as e:
        e.diagnostics = [Diagnostic.of(path, e)]
        raise
    finally:
        READ.update(saved)
    result.path = path
    return result


def summary(model, input_size, *, name: str | None = None) -> Analysis:
    """The torchinfo-style entry point: trace a torch module (``cnncalc import``) and analyse it.

    >>> cnncalc.summary(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (2, 3, 32, 32)).output  # doctest: +SKIP
    (2, 8, 30, 30)
    """
    from .bridge.importer import import_model

    imported = import_model(model, tuple(input_size), name or type(model).__name__)
    result = analyze(imported.text)
    result.unused = imported.unused
    return result


def __getattr__(name: str):
    if name == "Analysis":
        from .engine import Analysis

        return Analysis
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")

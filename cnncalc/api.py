"""The public API, composed from the rooms below: read a spec, find its facts, and an
:class:`Analysis` that renders itself (``to_dict``, ``params_dict``, Markdown) and runs analyses
(``memory``) on them. The engine's facts stay plain data; this is the thin object on top."""

from __future__ import annotations

import os
from typing import Any

from . import model
from .diagnostics import Diagnostic, SpecError
from .read import ReadOptions, load, parse


class Analysis(model.Analysis):
    """The facts of one spec (:class:`cnncalc.model.Analysis`), with its outputs."""

    @classmethod
    def of(cls, facts: model.Analysis) -> Analysis:
        out = cls.__new__(cls)
        out.__dict__.update(facts.__dict__)
        return out

    def to_dict(self) -> dict:
        """What ``cnncalc shapes --format json`` prints."""
        from .show.render import diag_json, shapes_json

        return {**shapes_json(self), "diagnostics": [diag_json(d) for d in self.diagnostics]}

    def params_dict(self) -> dict:
        """What ``cnncalc params --format json`` prints."""
        from .show.render import params_json

        return params_json(self)

    def memory(self, dtype: str = "float32", optimizer: str = "sgd", **step):
        """One training step's memory: its sums and its peak (``.peak``: bytes, where it falls,
        what is alive then; ``step``: ``step="steady"|"first"``, ``foreach=True``,
        ``loss="cross_entropy"|"mse"``, ``amp=None|"bfloat16"|"float16"``); ``to_dict()`` is
        ``cnncalc memory --format json``."""
        from .analyses.memory import memory

        return memory(self, dtype, optimizer, **step)

    def fit(self, limit: str | int, dtype: str = "float32", optimizer: str = "sgd", **step) -> int:
        """The largest batch whose step's peak (in CUDA's 512-byte blocks) fits in ``limit``
        (``"24GiB"`` or bytes), as ``cnncalc memory --fit``; 0 if not even batch 1."""
        from .analyses.memory import fit, parse_size
        from .engine import analyze as engine

        if getattr(self, "_spec", None) is None:
            raise ValueError("fit needs the analysis of a spec (cnncalc.analyze)")
        size = parse_size(limit) if isinstance(limit, str) else int(limit)
        return fit(lambda n: engine(self._spec, n), size, dtype, optimizer, **step)

    def _repr_markdown_(self) -> str:
        from .show.render import shapes_text

        return shapes_text(self, markdown=True)


def facts(spec: model.Spec, batch: int | None = None) -> model.Analysis:
    """The engine's facts of a spec, and for an Ultralytics model YAML its own summary line."""
    from .engine import analyze as engine

    a = engine(spec, batch)
    if spec.ultralytics is not None:
        from .analyses.ultralytics import summary

        a.ultralytics = summary(spec, a)
    return a


def _is_file(path: str) -> bool:
    """A file, or Ultralytics' scaled name of one (``yolov8n.yaml`` for ``yolov8.yaml``)."""
    from .read.ultralytics import unscaled

    return os.path.isfile(path) or os.path.isfile(unscaled(path))


def analyze(
    spec: Any, *, batch: int | None = None, scale: str | None = None, imgsz: int | None = None
) -> Analysis:
    """Analyse a spec: a path to a YAML file, a dict (a parsed spec) or YAML text.

    Returns the :class:`Analysis` (``to_dict()`` is ``shapes --format json``, ``params_dict()`` is
    ``params --format json``, ``memory().to_dict()`` is ``memory --format json``; it renders as
    Markdown in a notebook). A bad spec raises :class:`SpecError`, whose ``diagnostics`` hold
    path, line, col, severity and message. ``scale`` and ``imgsz`` are for an Ultralytics model
    YAML (``yolov8n.yaml`` is ``yolov8.yaml`` at scale n).
    """
    options = ReadOptions(scale, imgsz)
    if isinstance(spec, dict):
        import yaml

        text, path = yaml.safe_dump(spec, sort_keys=False), "<dict>"
        load_it = lambda: parse(text, path, options)  # noqa: E731
    elif isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and "\n" not in spec and _is_file(spec)
    ):
        path = os.fspath(spec)
        load_it = lambda: load(path, options)  # noqa: E731
    elif isinstance(spec, str):
        text, path = spec, "<text>"
        load_it = lambda: parse(text, path, options)  # noqa: E731
    else:
        raise TypeError(f"analyze() takes a path, a dict or YAML text, not {type(spec).__name__}")
    try:
        spec_ = load_it()
        result = Analysis.of(facts(spec_, batch))
    except SpecError as e:
        e.diagnostics = [Diagnostic.of(path, e)]
        raise
    result.path = path
    result._spec = spec_  # for analyses at other batches (fit)
    return result


def summary(model, input_size, *, name: str | None = None, mode: str | None = None) -> Analysis:
    """The torchinfo-style entry point: trace a torch module (``cnncalc import``) and analyse it.

    >>> cnncalc.summary(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (2, 3, 32, 32)).output  #
    doctest: +SKIP
    (2, 8, 30, 30)
    """
    from .bridge.importer import ImportFailed, import_model

    if mode not in (None, "eval", "train"):
        raise SpecError(f"mode must be 'train', 'eval' or None (the model's own), not {mode!r}")
    if mode == "train":
        raise SpecError(
            "mode='train': cnncalc traces the eval forward only, for now; pass mode='eval' "
            "(a model whose training forward differs, GoogLeNet's aux heads say, differs there)"
        )
    if mode is None and model.training:
        import warnings

        warnings.warn(
            "the model is in training mode; cnncalc traced its eval forward (mode='eval'): "
            "where the training forward differs (aux heads, drop paths), so do its numbers",
            stacklevel=2,
        )
    try:
        imported = import_model(model, tuple(input_size), name or type(model).__name__)
    except ImportFailed as e:  # one line naming the operation, as cnncalc.SpecError
        raise SpecError(str(e)) from None
    result = Summary.of(analyze(imported.text))
    result.unused = imported.unused
    named = dict(model.named_parameters())
    unused = [named[n] for n in imported.unused if n in named]
    result.unused_params = sum(p.numel() for p in unused)
    result.unused_trainable = sum(p.numel() for p in unused if p.requires_grad)
    return result


class Summary(Analysis):
    """What ``summary`` returns: the imported spec's analysis, whose totals count every parameter
    of the module, those its forward never reaches included (``unused``, ``unused_params``: they
    cost memory and optimizer state), as ``sum(p.numel() for p in model.parameters())`` does."""

    unused: list[str] = []
    unused_params = 0
    unused_trainable = 0

    @property
    def total_params(self) -> int:
        return super().total_params + self.unused_params

    @property
    def trainable_params(self) -> int:
        return super().trainable_params + self.unused_trainable

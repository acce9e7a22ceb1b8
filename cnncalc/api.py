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


def summary(
    model,
    input_size=None,
    input_data=None,
    *,
    batch_dim: int | None = None,
    dtypes=None,
    device=None,
    mode: str | None = None,
    depth: int = 3,
    col_names=None,
    verbose: int = 1,
    name: str | None = None,
    **forward_kwargs,
) -> Summary:
    """torchinfo's call, cnncalc's numbers: trace a torch module (as ``cnncalc import``), check
    the spec against torch (parameters, buffers, outputs, FlopCounterMode's MACs) and print its
    table (``verbose`` 1; 0: quiet). Each argument means what it means in ``torchinfo.summary``;
    ``mode`` is "train", "eval" or None (the model's own). The model comes back exactly as it
    came. What cnncalc cannot import raises :class:`SpecError`, one line.

    >>> s = cnncalc.summary(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (2, 3, 32, 32))
    ... # doctest: +SKIP
    >>> s.total_params, s.total_macs, s.output  # doctest: +SKIP
    (224, 172800, (2, 8, 30, 30))
    """
    from .show.summary import COLUMNS, DEFAULT_COLUMNS

    if isinstance(mode, str):
        mode = mode.lower()
    elif mode is not None:  # torchinfo's Mode enum
        mode = str(getattr(mode, "value", mode)).lower()
    if mode not in (None, "eval", "train", "same"):
        raise SpecError(f"mode must be 'train', 'eval' or None (the model's own), not {mode!r}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise SpecError(f"depth must be an integer >= 0, found {depth!r}")
    if verbose not in (0, 1, 2):
        raise SpecError(f"verbose must be 0, 1 or 2, found {verbose!r}")
    columns = DEFAULT_COLUMNS if col_names is None else col_names
    if isinstance(columns, str) or not all(c in COLUMNS for c in columns):
        bad = columns if isinstance(columns, str) else [c for c in columns if c not in COLUMNS]
        raise SpecError(f"col_names: unknown {bad!r}; the columns are {', '.join(COLUMNS)}")
    for key in ("row_settings", "col_width", "cache_forward_pass"):  # torchinfo's display
        forward_kwargs.pop(key, None)  # options: taken, the table keeps its own layout
    from .bridge.importer import ImportFailed
    from .bridge.summary import inputs_of, summarize, torchinfo_mult_adds, totals

    try:
        inputs = inputs_of(input_size, input_data, batch_dim, dtypes, device, forward_kwargs)
        imported = summarize(
            model, inputs, None if mode == "same" else mode, name or type(model).__name__
        )
    except ImportFailed as e:  # one line naming the operation, as cnncalc.SpecError
        raise SpecError(str(e)) from None
    result = Summary.of(imported.analysis)
    result.path, result._spec = "<summary>", imported.spec
    result.spec = imported.text
    result.unused = imported.unused
    result.total_params, result.trainable_params = totals(model)
    result.total_macs = imported.macs
    result.mult_adds = torchinfo_mult_adds(imported.model, imported.analysis)
    result.total_mult_adds = sum(result.mult_adds.values())
    named = dict(model.named_parameters())
    result.unused_params = sum(named[n].numel() for n in imported.unused if n in named)
    result.depth, result.columns = depth, tuple(columns)
    if verbose:
        print(result)
    return result


class Summary(Analysis):
    """What ``summary`` returns: the imported spec's analysis (``memory()``, ``fit()`` and the
    rest work on it), its table as ``str()``, and the totals of the module itself:
    ``total_params`` (every parameter, those the forward never reaches included: ``unused``,
    ``unused_params``; they cost memory and optimizer state), ``trainable_params``
    (``requires_grad``), ``total_macs`` (FlopCounterMode / 2 on the traced forward) and
    ``total_mult_adds`` (torchinfo's rule); ``spec`` is the imported spec's YAML."""

    unused: list[str] = []
    unused_params = 0
    total_params = 0
    trainable_params = 0
    total_macs = 0
    total_mult_adds = 0
    mult_adds: dict[str, int] = {}  # layer -> its mult-adds by torchinfo's rule
    spec = ""
    depth = 3
    columns = ("output_size", "num_params")

    @property
    def analysis(self) -> Analysis:
        out = Analysis.of(self)
        out.__dict__.pop("total_params", None)
        return out

    def __str__(self) -> str:
        from .show.summary import summary_text

        lines = [
            ("Total params", f"{self.total_params:,}"),
            ("Trainable params", f"{self.trainable_params:,}"),
            ("Non-trainable params", f"{self.total_params - self.trainable_params:,}"),
        ]
        if self.unused:
            shown = ", ".join(self.unused[:4]) + (", ..." if len(self.unused) > 4 else "")
            lines.append(
                (
                    "Not reached by the forward",
                    f"{self.unused_params:,} params in {len(self.unused)} tensors ({shown})",
                )
            )
        lines += [
            ("MACs (FlopCounterMode / 2)", f"{self.total_macs:,}"),
            ("Total mult-adds (torchinfo's rule)", f"{self.total_mult_adds:,}"),
        ]
        return summary_text(self, lines, self.depth, self.columns, self.mult_adds)

    def __repr__(self) -> str:
        return str(self)

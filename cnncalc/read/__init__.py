"""Ways in: text -> :class:`~cnncalc.model.Spec`. ``load`` and ``parse`` pick the reader: cnncalc's
own YAML (``spec``), or an Ultralytics model YAML (``ultralytics``), told apart by its keys."""

from __future__ import annotations

from ..diagnostics import SpecError
from ..model import Spec
from .files import NotAFile, read_text
from .options import DEFAULT, ReadOptions
from .yamlpos import Map, loads

__all__ = ["NotAFile", "ReadOptions", "load", "parse", "read_text"]


def load(path: str, options: ReadOptions = DEFAULT, *, scale=None, imgsz=None) -> Spec:
    """Read and parse a spec file ('-': standard input; an Ultralytics model YAML too:
    ``yolov8n.yaml`` reads ``yolov8.yaml`` at scale n). ``scale`` and ``imgsz``, where given,
    stand for ``options``' own."""
    import os

    from .yamlpos import clamp

    options = _given(options, scale, imgsz)
    real = path
    if path != "-" and not os.path.exists(path):
        from .ultralytics import unscaled

        if os.path.isfile(unscaled(path)):
            real = unscaled(path)
    text = read_text(real)
    try:
        spec = parse(text, path, options)
    except SpecError as e:
        e.pos = clamp(text, e.pos)  # every position a real place in the file
        raise
    spec.path = "<stdin>" if path == "-" else path
    return spec


def parse(
    text: str, path: str = "<spec>", options: ReadOptions = DEFAULT, *, scale=None, imgsz=None
) -> Spec:
    """Parse spec text into a :class:`Spec`; raises SpecError at the offending value."""
    options = _given(options, scale, imgsz)
    doc = loads(text)
    if isinstance(doc, Map) and "backbone" in doc and "head" in doc:  # Ultralytics' model YAML
        from .ultralytics.reader import spec_of

        return spec_of(doc, path, options)
    from .spec import read

    return read(doc, options)


def _given(options: ReadOptions, scale, imgsz) -> ReadOptions:
    if scale is None and imgsz is None:
        return options
    return ReadOptions(scale or options.scale, imgsz or options.imgsz, options.sizes)

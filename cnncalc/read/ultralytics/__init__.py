"""Ultralytics model YAML: ``backbone:``/``head:`` rows of ``[from, repeats, module, args]``, read
the
way Ultralytics' ``parse_model`` reads them, into cnncalc layers named as its modules name their
tensors (``model.22.cv2.0.0.conv.weight``).

``reader`` reads the rows (channels, scales, arguments); ``modules`` and ``heads`` hold one function
per Ultralytics module, adding the layers its ``forward`` runs. Ultralytics' own summary line is an
analysis: ``cnncalc.analyses.ultralytics``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...diagnostics import Pos

SCALE = re.compile(r"yolo(e-)?[v]?\d+([nslmx])")
UNSCALED = re.compile(r"(\d+)([nslmx])(.+)?$")
IMGSZ = 640


def scale_of(path: str) -> str:
    """``yolov8n.yaml`` -> ``n`` (Ultralytics' guess_model_scale); ``""`` when the name has none."""
    m = SCALE.search(Path(path).stem)
    return m.group(2) if m else ""


def unscaled(path: str) -> str:
    """``dir/yolov8n-seg.yaml`` -> ``dir/yolov8-seg.yaml``: the file a scaled name stands for."""
    p = Path(path)
    return str(p.with_name(UNSCALED.sub(r"\1\3", p.name)))


@dataclass
class Row:
    """One ``[from, repeats, module, args]`` row as Ultralytics prints it in its model table."""

    index: int
    frm: object
    n: int
    module: str
    args: list
    pos: Pos
    prefix: str
    out: str = ""  # the cnncalc layer (or ``layer:k``) holding the row's output
    first: int = 0  # its layers are spec.layers[first:last]
    last: int = 0


@dataclass
class Model:
    """What the reader knows beyond the layers: rows, Ultralytics' leaf-module count, what THOP
    sees."""

    title: str
    task: str
    ch: int
    imgsz: tuple[int, int]
    rows: list[Row]
    leaves: int
    functional: set  # layers that are tensor operations in Ultralytics' forward, not modules
    heads: list[str] = field(default_factory=list)  # the Detect head's inputs (its strides)
    held: set = field(default_factory=set)  # tensors held, never run (no warning: none reach out)

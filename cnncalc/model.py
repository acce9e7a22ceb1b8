"""The waist: the plain data every room shares (a read spec, and the facts the engine finds).

Readers in ``read/`` make a :class:`Spec`; ``engine.analyze`` turns it into an :class:`Analysis`;
the analyses, views, bridges and the command line read these. Data only: no method here renders
or computes more than a sum of its own fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .diagnostics import Diagnostic, Pos
from .layers import Kind
from .layers.base import prod


@dataclass
class LayerSpec:
    """One layer as written: its kind, its arguments (torch defaults filled in) and where it
    stands."""

    name: str
    type: str
    kind: Kind
    args: dict
    inputs: list[str] | None  # `from`; None: the layer above
    pos: Pos
    vpos: dict = field(default_factory=dict)  # argument -> position of its value
    written: dict = field(default_factory=dict)  # the arguments as written (blocks substituted)
    origin: tuple | None = (
        None  # (block type, use name, use line) for a layer expanded from a block
    )
    trainable: bool = True  # `trainable: false` freezes its parameters
    shares: str | None = None  # `shares: LAYER`: that layer's module called again (its tensors)
    pruned: tuple[str, ...] = ()  # `pruned: [weight]`: held as torch.nn.utils.prune holds them
    frozen: tuple[str, ...] = ()  # `frozen: [bias]`: these tensors alone are not trained
    tied: dict = field(default_factory=dict)  # `tied: {weight: emb.weight}`: another's tensor

    def context(self) -> str:
        """`` (in block 'B' used by 'layer2' at line 30)`` for an expanded layer, else ``""``."""
        if self.origin is None:
            return ""
        if isinstance(self.origin, str):  # an Ultralytics row
            return f" ({self.origin})"
        block, use, line = self.origin
        return f" (in block '{block}' used by '{use}' at line {line})"

    def at(self, key: str | None) -> Pos:
        return self.vpos.get(key, self.pos) if key else self.pos


@dataclass
class Spec:
    input: tuple[int, ...]
    layers: list[LayerSpec]
    input_dtype: str = "float32"  # `input_dtype:` (integer indices for an Embedding)
    name: str | None = None
    path: str = "<spec>"
    blocks: dict = field(default_factory=dict)  # block name -> its definition, as written
    written_layers: list = field(
        default_factory=list
    )  # the top-level layers as written (block uses unexpanded)
    outputs: list[str] | None = (
        None  # `outputs:` the tensors the net returns; None: the last layer's
    )
    outputs_pos: list = field(default_factory=list)
    ultralytics: object = (
        None  # an Ultralytics model YAML's rows and facts (cnncalc.read.ultralytics.Model)
    )
    symbols: dict = field(
        default_factory=dict
    )  # input dims given as names and not set: name -> their dims
    input_pos: Pos | None = None
    notes: list = field(default_factory=list)  # (position, message) warnings of the reading itself


class Tensor:
    """A parameter or buffer: its full name, shape and element count."""

    __slots__ = ("name", "shape", "count")

    def __init__(self, name: str, shape: tuple[int, ...]):
        self.name, self.shape, self.count = name, shape, prod(shape)

    def __eq__(self, other):
        return isinstance(other, Tensor) and (self.name, self.shape) == (other.name, other.shape)

    def __repr__(self) -> str:
        return f"Tensor({self.name!r}, {self.shape})"


@dataclass(frozen=True)
class Field:
    """Receptive field per spatial dim: size, jump and the centre of output position 0."""

    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]


@dataclass
class LayerResult:
    name: str
    type: str
    inputs: tuple[str, ...]
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    params: list[Tensor]
    buffers: list[Tensor]
    macs: int
    kwargs: dict
    pos: Pos
    field: Field | None = None
    default_input: bool = True  # takes the layer above (no `from`)
    written: dict = dataclasses.field(default_factory=dict)  # the arguments as written in the spec
    output_shapes: tuple | None = (
        None  # every output of a layer with several (``name:0``, ``name:1``, ...)
    )
    trainable: bool = True
    shares: str | None = None  # the layer whose module (and tensors) this call uses again
    pruned: tuple[str, ...] = ()  # its tensors held as weight_orig and weight_mask
    frozen: tuple[str, ...] = ()  # its tensors (attributes) that are not trained
    tied: dict = dataclasses.field(default_factory=dict)  # attribute -> the tensor it is (tied)
    copies: bool = False  # a reshape that had to copy a non-contiguous input (no view of it exists)
    # per input: its strides where a view left it non-contiguous, else None
    input_strides: tuple = ()

    @property
    def param_count(self) -> int:
        return sum(t.count for t in self.params)


@dataclass
class LayerWarning:
    pos: Pos
    message: str


@dataclass
class Analysis:
    name: str | None
    input: tuple[int, ...]
    layers: list[LayerResult]
    warnings: list[LayerWarning] = field(default_factory=list)
    flattens: list[tuple[str, int, tuple[int, ...]]] = field(
        default_factory=list
    )  # (layer, size, factors)
    outputs: list[tuple[str, tuple[int, ...]]] = field(
        default_factory=list
    )  # what the net returns, in order

    path: str = "<spec>"
    # for an Ultralytics model YAML: its summary by its rules (cnncalc.analyses.ultralytics.Summary)
    ultralytics: object = None
    model: object = None  # and its rows (cnncalc.read.ultralytics.Model)
    # tensor -> its strides where a view left it non-contiguous (the others are contiguous)
    strides: dict = field(default_factory=dict)
    input_dtype: str = "float32"
    by_name: dict = field(default_factory=dict, repr=False, compare=False)  # name -> LayerResult
    batch_size: int | None = None  # the input's first dim where it is the batch

    @property
    def output(self) -> tuple[int, ...]:
        return self.outputs[0][1] if self.outputs else self.layers[-1].output_shape

    @property
    def diagnostics(self) -> list:
        """The warnings as diagnostics (path, line, col, severity, message)."""
        return [
            Diagnostic(self.path, w.pos[0], w.pos[1], "warning", w.message) for w in self.warnings
        ]

    @property
    def tensors(self) -> list[Tensor]:
        return [t for layer in self.layers for t in layer.params]

    @property
    def buffers(self) -> list[Tensor]:
        return [t for layer in self.layers for t in layer.buffers]

    @property
    def total_params(self) -> int:
        return sum(t.count for t in self.tensors)

    @property
    def trainable_params(self) -> int:
        return sum(
            t.count
            for layer in self.layers
            if layer.trainable
            for t in layer.params
            if t.name.rsplit(".", 1)[-1] not in layer.frozen
        )

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

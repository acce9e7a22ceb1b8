"""The peak memory of one training step (FORMAT.md section 15), from the layers' declarations.

The step is the tutorial's loop: zero_grad to None, forward, loss, backward, optimizer step,
played as torch plays it, storage by storage (``autograd.py`` keeps the books): every tensor is
allocated by the op that makes it and freed when its last holder lets go. The peak is the most
bytes alive at once; ``peak_bytes_cuda`` rounds each storage up to CUDA's 512-byte blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import SpecError
from ..engine import base
from ..layers.base import prod
from ..model import Analysis
from .autograd import DTYPES, _forward, _Pool
from .backward import _backward, reached_by_loss

PHASES = ("forward", "loss", "backward", "optimizer")


@dataclass
class Peak:
    step: str
    foreach: bool
    loss: str
    amp: str | None
    peak_bytes: int
    peak_bytes_cuda: int
    peak_phase: str
    peak_layer: str | None
    peak_breakdown: dict[str, int]
    forward_peak_bytes: int
    phase_peak_bytes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "step": self.step,
            "foreach": self.foreach,
            "loss": self.loss,
            "amp": self.amp,
            "peak_bytes": self.peak_bytes,
            "peak_bytes_cuda": self.peak_bytes_cuda,
            "peak_phase": self.peak_phase,
            "peak_layer": self.peak_layer,
            "peak_breakdown": dict(self.peak_breakdown),
            "forward_peak_bytes": self.forward_peak_bytes,
            "phase_peak_bytes": dict(self.phase_peak_bytes),
        }


# kinds whose training step (what autograd saves, what backward allocates) is not declared yet
UNMODELLED = {"Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention", "ScaledDotProductAttention"}
UNMODELLED |= {
    "Buffer",
    "Index",
    "Pointwise",
    "Einsum",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "Unfold",
    "Fold",
    "TopK",
    "Gather",
    "GridSample",
    "RMSNorm",
    "StdConv2d",
    "FunctionalConv2d",
    "TensorUnfold",
    "Maximum",
    "Minimum",
}


def _unmodelled(layer) -> str | None:
    """What of a layer the books do not model, or None."""
    if layer.type in UNMODELLED:
        return f"{layer.type} layers"
    if layer.type in ("Input", "Constant") and layer.kwargs.get("dtype") != "float32":
        return "a non-float32 tensor"
    if layer.kwargs.get("antialias"):
        return "an antialiased interpolation"
    if layer.kwargs.get("return_indices"):
        return "a pool's indices"
    if layer.frozen:
        return "a layer frozen in part"
    if layer.tied:
        return "tied weights"
    if layer.pruned:
        return "a pruned layer (its weight made from weight_orig and the mask)"
    return None


def modelled(a: Analysis) -> None:
    """A located refusal for a net whose training step the books do not model (yet): never a
    silently wrong peak."""
    for layer in a.layers:
        what = _unmodelled(layer)
        if what is not None:
            raise SpecError(
                f"layer '{layer.name}' ({layer.type}): memory does not model the training step "
                f"of {what} yet; shapes, params and verify take it",
                layer.pos,
                layer.name,
            )


def peak(
    a: Analysis,
    dtype: str = "float32",
    optimizer: str = "sgd",
    step: str = "steady",
    foreach: bool = True,
    loss: str = "cross_entropy",
    amp: str | None = None,
    log: list | None = None,
) -> Peak:
    """The peak of one training step of ``a`` (FORMAT.md section 15); ``log`` (a list) hears
    every allocation and free."""
    modelled(a)
    size = DTYPES[dtype]
    pool = _Pool()
    pool.log = log
    params = _params(a, size)
    outputs = [base(name) for name, _ in a.outputs] or [a.layers[-1].name]
    reached = reached_by_loss(a, outputs)
    # the optimizer keeps state for (and steps) the parameters that get a gradient
    trained = [(layer, n) for layer, n, _, t in params if t and layer in reached]
    for _, n, _, _ in params:
        pool.alloc(n, "params")
    for t in a.buffers:
        pool.alloc(t.count * (8 if t.name.endswith("num_batches_tracked") else size), "buffers")
    pool.alloc(prod(a.input) * size, "inputs")
    shapes = _output_shapes(a, outputs)
    for shape in shapes:
        if loss == "mse":
            pool.alloc(prod(shape) * size, "inputs")
        else:
            pool.alloc(prod(shape[:1] + shape[2:] if len(shape) > 1 else ()) * 8, "inputs")
    if step == "steady":
        _state(pool, optimizer, trained)
    low = {"bfloat16": 2, "float16": 2}.get(amp) if amp else None
    fwd = _forward(pool, a, size, outputs, low)
    pool.enter("loss")
    _, heads = _loss(pool, fwd, outputs, shapes, size, loss, low)  # the loss lives to the end
    pool.enter("backward")
    _backward(pool, a, fwd, heads, size)
    pool.enter("optimizer")
    if step == "first":
        _state(pool, optimizer, trained)
    _update(pool, optimizer, foreach, trained)
    pool.snapshot()
    phases = {p: pool.phase_peak.get(p, 0) for p in PHASES}
    return Peak(
        step=step,
        foreach=foreach,
        loss=loss,
        amp=amp,
        peak_bytes=pool.peak[0],
        peak_bytes_cuda=pool.peak[1],
        peak_phase=pool.at[0],
        peak_layer=pool.at[1],
        peak_breakdown=pool.breakdown,
        forward_peak_bytes=phases["forward"],
        phase_peak_bytes=phases,
    )


def _params(a: Analysis, size: int) -> list[tuple[str, int, str, bool]]:
    """(layer, bytes, tensor name, trained) of every parameter, in ``model.parameters()``
    order."""
    out = []
    for layer in a.layers:
        for p in layer.params:
            out.append((layer.name, p.count * size, p.name, layer.trainable))
    return out


def _output_shapes(a: Analysis, outputs: list[str]) -> list[tuple[int, ...]]:
    by = {layer.name: layer for layer in a.layers}
    named = dict(a.outputs)
    return [tuple(named.get(o, by[o].output_shape)) for o in outputs]


def _loss(pool, f, outputs, shapes, size, loss, amp):
    """The loss of each output, summed: the tensors it makes and what its backward holds
    (autocast runs it in float32, on a cast of a low output); then autocast's cache goes."""
    heads = []
    total = None
    for o, shape in zip(outputs, shapes):
        cast = None
        if amp is not None and f.dt[o] != 4:
            size = 4
            cast = pool.alloc(prod(shape) * 4, "activations")
        n = prod(shape) * size
        if loss == "mse":  # it keeps its input (the cast) for backward
            term = pool.alloc(size, "activations")
            heads.append((o, n, [cast] if cast is not None else [], []))
        else:
            logp = pool.alloc(n, "activations")
            term = pool.alloc(size, "activations")
            weight = pool.alloc(size, "activations")
            heads.append((o, n, [logp, weight], [logp]))
            pool.drop(cast)
        if total is None:
            total = term
        else:
            new = pool.alloc(size, "activations")
            pool.drop(total)
            pool.drop(term)
            total = new
    for sid in f.cache:  # autocast's exit clears its cache of parameter casts
        pool.drop(sid)
    return total, heads


def _state(pool: _Pool, optimizer: str, trained) -> None:
    """The optimizer's state: momentum one buffer a parameter, Adam a step (a float32 scalar)
    and two."""
    for _, n in trained:
        if optimizer == "momentum":
            pool.alloc(n, "optimizer_state")
        elif optimizer in ("adam", "adamw"):
            pool.alloc(4, "optimizer_state")
            pool.alloc(n, "optimizer_state")
            pool.alloc(n, "optimizer_state")


def _update(pool: _Pool, optimizer: str, foreach: bool, trained) -> None:
    """The update's own temporaries: SGD's are in place; Adam's denominator
    (``exp_avg_sq.sqrt() / c``) is one parameter's size at a time in the for-loop (the last
    one's lives on into the next), all at once with foreach."""
    if optimizer not in ("adam", "adamw") or not trained:
        return
    if foreach:
        pool.drop(pool.alloc(4, "temporaries"))  # the step's increment, a scalar tensor
        temps = [pool.alloc(n, "temporaries") for _, n in trained]
        for t in reversed(temps):
            pool.drop(t)
        return
    before = None
    for _, n in trained:
        sqrt = pool.alloc(n, "temporaries")
        denom = pool.alloc(n, "temporaries")
        pool.drop(sqrt)
        pool.drop(before)
        before = denom
    pool.drop(before)

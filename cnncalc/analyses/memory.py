"""One training step's memory, to the byte, from the layers' declarations of what autograd keeps.

- ``params_bytes``: the parameters in the chosen dtype; ``grads_bytes``: one gradient each;
- ``optimizer_bytes``: SGD keeps nothing, momentum one buffer a parameter, Adam/AdamW two;
- ``buffers_bytes``: running statistics in the dtype, ``num_batches_tracked`` as int64;
- ``saved_activation_bytes``: the tensors autograd keeps for backward in one training-mode forward
  (unique storages, parameters excluded), each layer declaring what its backward needs
  (``Kind.saves``); a layer keeps nothing when no input needs a gradient and it has no parameters;
- ``inference_peak_bytes``: the most activation bytes alive at once in an inference forward, each
  tensor (the input too) freed after its last use, a view living as long as its base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from ..diagnostics import SpecError, cut
from ..engine import base
from ..layers import REGISTRY
from ..layers.base import prod
from ..model import Analysis
from .autograd import DTYPES, ITEM, OPTIMIZERS, saves, storages
from .peak import Peak, modelled, peak


@dataclass
class Memory:
    dtype: str
    optimizer: str
    batch: int
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    buffers_bytes: int
    saved_activation_bytes: int
    inference_peak_bytes: int
    per_layer: dict[str, int] = field(default_factory=dict)
    peak: Peak | None = None  # the peak of the whole step (FORMAT.md section 15)

    def to_dict(self, fit_batch: int | None = None) -> dict:
        """What ``cnncalc memory --format json`` prints."""
        out = {
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "batch": self.batch,
            "params_bytes": self.params_bytes,
            "grads_bytes": self.grads_bytes,
            "optimizer_bytes": self.optimizer_bytes,
            "buffers_bytes": self.buffers_bytes,
            "saved_activation_bytes": self.saved_activation_bytes,
            "layers": [{"name": name, "saved_bytes": b} for name, b in self.per_layer.items()],
            "total_bytes": self.total_bytes,
            "inference_peak_bytes": self.inference_peak_bytes,
        }
        if self.peak is not None:
            out.update(self.peak.to_dict())
        if fit_batch is not None:
            out["fit_batch"] = fit_batch
        return out

    @property
    def total_bytes(self) -> int:
        return (
            self.params_bytes
            + self.grads_bytes
            + self.optimizer_bytes
            + self.buffers_bytes
            + self.saved_activation_bytes
        )


def memory(
    a: Analysis, dtype: str = "float32", optimizer: str = "sgd", known: Peak | None = None, **step
) -> Memory:
    """One training step's memory: the sums of section 7 and the peak of section 15 (``step``:
    :func:`peak`'s options, step, foreach, loss, amp; ``known``: the peak, found already)."""
    modelled(a)
    size = DTYPES[dtype]
    params = a.total_params * size
    buffers = sum(
        t.count * (8 if t.name.endswith("num_batches_tracked") else size) for t in a.buffers
    )
    trainable = a.trainable_params * size
    owner, storage = storages(a, size)
    grad = {"input": False}
    saved: dict[str, int] = {}
    per_layer: dict[str, int] = {}
    for layer in a.layers:
        kind = REGISTRY[layer.type]
        grads = [grad[s] for s in layer.inputs]
        sid = owner[layer.name]
        trains = bool(layer.params) and layer.trainable
        grad[layer.name] = any(grads) or trains
        for k in range(len(layer.output_shapes or ())):
            grad[f"{layer.name}:{k}"] = grad[layer.name]
        share = 0
        if any(grads) or trains:
            for n, item in enumerate(saves(kind, layer, grads, trains)):
                if item[0] == "in":
                    key = owner[layer.inputs[item[1]]]
                    if key is None:
                        continue  # a parameter: not an activation
                elif item[0] == "out":
                    key = sid
                else:
                    key = f"{layer.name}#{n}"
                    storage[key] = prod(item[1]) * ITEM.get(item[2], size)
                if key not in saved:
                    saved[key] = storage[key]
                    share += storage[key]
        per_layer[layer.name] = share
    return Memory(
        dtype=dtype,
        optimizer=optimizer,
        batch=a.input[0],
        params_bytes=params,
        grads_bytes=trainable,
        optimizer_bytes=trainable * OPTIMIZERS[optimizer],
        buffers_bytes=buffers,
        saved_activation_bytes=sum(saved.values()),
        inference_peak_bytes=_inference_peak(a, size),
        per_layer=per_layer,
        peak=known or peak(a, dtype, optimizer, **step),
    )


def _inference_peak(a: Analysis, size: int) -> int:
    """Walk the forward pass: allocate each new output, free storages after their last reader."""
    owner, nbytes = storages(a, size)
    last_use = {"input": -1}
    for i, layer in enumerate(a.layers):
        for s in layer.inputs:
            last_use[base(s)] = i
    for name, _ in a.outputs or [(a.layers[-1].name, None)]:
        last_use[base(name)] = len(a.layers)  # the outputs are returned
    alive_until: dict[str, int] = {"input": last_use["input"]}
    for i, layer in enumerate(a.layers):
        sid = owner[layer.name]
        if sid is None:
            continue
        alive_until[sid] = max(alive_until.get(sid, -1), last_use.get(layer.name, i))
    live = nbytes["input"]
    peak = live
    ends: dict[int, list[str]] = {}
    for sid, end in alive_until.items():
        ends.setdefault(end, []).append(sid)
    for sid in ends.pop(-1, []):
        live -= nbytes[sid]
    for i, layer in enumerate(a.layers):
        if owner[layer.name] == layer.name:
            live += nbytes[layer.name]
        peak = max(peak, live)
        for sid in ends.get(i, []):
            live -= nbytes[sid]
    return peak


MAX_FIT = 1 << 80  # bytes: past every device and machine by far


def parse_size(text: str) -> int:
    """``16GiB``, ``512MiB``, ``2GB``, ``1.5TB``, ``1000000`` -> bytes: a positive, finite size
    (ValueError, worded for the option, otherwise)."""
    units = {
        "": 1,
        "b": 1,
        "kb": 10**3,
        "mb": 10**6,
        "gb": 10**9,
        "tb": 10**12,
        "kib": 1 << 10,
        "mib": 1 << 20,
        "gib": 1 << 30,
        "tib": 1 << 40,
    }
    m = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([a-z]*)\s*", text.lower())
    if m is None:
        raise ValueError(
            f"expected a size such as 24GiB, 512MiB or 2000000 (a positive number and a unit), "
            f"found {cut(repr(text), 40)}"
        )
    if m.group(2) not in units:
        raise ValueError(
            f"unknown size unit in {text!r}; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
        )
    size = int(Fraction(m.group(1)) * units[m.group(2)])
    if size < 1:
        raise ValueError(f"{text!r} is less than one byte")
    if size > MAX_FIT:
        raise ValueError(f"{text!r} is more than the {MAX_FIT:,} bytes any machine holds")
    return size


# the work one fit may do, in layers and their inputs analysed: each batch it tries analyses every
# layer and runs the step, and it tries four at least (1, 2, and the two either side of the
# boundary): about a second
MAX_FIT_WORK = 16_000


class FitTooLong(ValueError):
    """A fit that would analyse the net more times than MAX_FIT_WORK allows (a usage
    error: the batches can still be compared one by one)."""


def fit_probes(a: Analysis) -> int:
    """The batches a fit of ``a``'s net may try (FitTooLong below the four any fit needs)."""
    work = len(a.layers) + sum(len(layer.inputs) for layer in a.layers)
    probes = MAX_FIT_WORK // max(work, 1)
    if probes < 4:
        raise FitTooLong(
            f"the net's {len(a.layers):,} layers and their inputs are {work:,} to analyse at "
            "each batch, and a fit tries four at least: more than the "
            f"{MAX_FIT_WORK:,} a fit may analyse (a chain of at most {MAX_FIT_WORK // 8:,} "
            "layers); compare batches one at a time with --batch"
        )
    return probes


def fit(
    a_at,
    limit: int,
    dtype: str,
    optimizer: str,
    start: int = 1,
    peaks=None,
    probes: int | None = None,
    **step,
) -> int:
    """The largest batch whose training step's peak (in CUDA's blocks) fits in ``limit`` bytes
    (0 if not even batch 1); ``a_at(batch)`` analyses the spec at that batch; ``step`` holds
    :func:`peak`'s other options; ``probes``: the batches it may try (FitTooLong past them).

    The exact peak is close to affine in the batch, and CUDA's block rounding adds a slowly
    changing waste on top: each step is a Newton step on the rounded peak with the exact peak's
    slope between the two latest batches, checked at the batch it lands on and the next;
    bisection where it does not land inside the bracket (a batch that fits, one that does not).
    """
    seen: dict[int, tuple[int, int]] = {}
    peaks = {} if peaks is None else peaks  # batch -> its Peak, for the caller to reuse

    def total(n):  # (rounded, exact) peak; a batch the net refuses does not fit
        if n not in seen:
            if probes is not None and len(seen) >= probes:
                raise FitTooLong(
                    f"the search tried {len(seen):,} batches without closing in, the most a fit "
                    f"of this net may try ({MAX_FIT_WORK:,} layers and inputs analysed); compare "
                    "batches one at a time with --batch"
                )
            try:
                p = peaks[n] = peak(a_at(n), dtype, optimizer, **step)
                seen[n] = (p.peak_bytes_cuda, p.peak_bytes)
            except SpecError:
                seen[n] = (limit + 1, limit + 1)
        return seen[n]

    if total(1)[0] > limit:
        return 0
    lo, hi, last = 1, None, [1, 2]
    while hi is None or hi - lo > 1:
        (n0, n1) = last[-2:]
        (c1, e1), (_, e0) = total(n1), total(n0)
        slope = max(e1 - e0, 1) / (n1 - n0) if n1 != n0 else 1
        guess = n1 + int((limit - c1) // slope)
        top = hi if hi is not None else (1 << 40) + 1
        if not lo < guess < top:
            guess = (
                (lo + top) // 2
                if hi is not None
                else min(guess, top - 1)
                if guess >= top
                else lo + 1
            )
        near = hi is not None and hi - lo <= 64  # close in: one batch a step, by bisection
        if near:
            guess = (lo + hi) // 2
        for n in (guess,) if near else (guess, guess + 1):  # the boundary, where it lands
            if not lo < n < top:
                continue
            last.append(n)
            if total(n)[0] <= limit:
                lo = n
                if lo >= 1 << 40:
                    return lo
            else:
                hi = n
                break
    return lo

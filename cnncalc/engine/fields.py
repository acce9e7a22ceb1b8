"""Receptive fields: a layer's step (effective kernel, stride, left padding) applied to the
fields of its inputs."""

from __future__ import annotations

from ..model import Field

CONST = Field((), (), ())  # the field of a parameter: it reads no input position


def field(rf, ins: list[Field | None]) -> Field | None:
    """r = r_in + (k_eff − 1)·j_in; j = j_in·s; start = start_in + ((k_eff − 1)/2 − p_left)·j_in."""
    ins = [f for f in ins if f is not CONST]
    if rf is None or not ins or any(f is None for f in ins):
        return None
    if rf == "same":
        if len(ins) == 1:
            return ins[0]
        if len({f.jump for f in ins}) != 1 or len({len(f.size) for f in ins}) != 1:
            return None
        lo = [min(f.start[d] - (f.size[d] - 1) / 2 for f in ins) for d in range(len(ins[0].size))]
        hi = [max(f.start[d] + (f.size[d] - 1) / 2 for f in ins) for d in range(len(ins[0].size))]
        return Field(
            tuple(int(h - l) + 1 for l, h in zip(lo, hi)),
            ins[0].jump,
            tuple((l + h) / 2 for l, h in zip(lo, hi)),
        )
    f = ins[0]
    m, n = len(rf), len(f.size)
    if m > n:
        return None
    size, jump, start = list(f.size), list(f.jump), list(f.start)
    for d, (k, s, p) in zip(range(n - m, n), rf):
        size[d] = size[d] + (k - 1) * jump[d]
        start[d] = start[d] + ((k - 1) / 2 - p) * jump[d]
        jump[d] = jump[d] * s
    return Field(tuple(size), tuple(jump), tuple(float(v) for v in start))

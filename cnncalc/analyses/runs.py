"""A set of sizes read as runs (``[first, last, step]``) and a period: how a sweep's exact sets are
described ("every multiple of 32 from 32"), with nothing extrapolated."""

from __future__ import annotations


def runs(values: list[int]) -> list[list[int]]:
    """Sorted sizes as runs ``[first, last, step]``: the longest arithmetic progressions,
    greedily."""
    out: list[list[int]] = []
    i, n = 0, len(values)
    while i < n:
        if i + 1 == n:
            out.append([values[i], values[i], 1])
            break
        step = values[i + 1] - values[i]
        j = i + 1
        while j + 1 < n and values[j + 1] - values[j] == step:
            j += 1
        if j == i + 1 and j + 1 < n and values[j + 1] - values[j] != step:
            # two values that start no longer progression: the first alone
            if step != 1:
                out.append([values[i], values[i], 1])
                i += 1
                continue
        out.append([values[i], values[j], step])
        i = j + 1
    return out


def describe(run: list[int]) -> str:
    """``[32, 4096, 32]`` -> "every multiple of 32 from 32 to 4096 (128 sizes)"."""
    first, last, step = run
    count = (last - first) // step + 1
    if count == 1:
        return f"{first}"
    if step == 1:
        return f"{first} to {last} ({count:,} sizes)"
    if first % step == 0:
        return f"every multiple of {step} from {first} to {last} ({count:,} sizes)"
    return f"sizes ≡ {first % step} (mod {step}) from {first} to {last} ({count:,} sizes)"


def period(values: list[int], lo: int, hi: int) -> tuple[int, int] | None:
    """(P, T): the smallest period P such that from T on a size is in the set exactly when size + P
    is, seen over
    at least two whole periods of the range (T as small as that P allows); None where no period
    shows."""
    member = bytearray(hi - lo + 1)
    for v in values:
        member[v - lo] = 1
    n = len(member)
    for p in range(1, n // 3 + 1):
        t = n - p  # scan down for the last disagreement between x and x + p
        while t > 0 and member[t - 1] == member[t - 1 + p]:
            t -= 1
        if n - t >= 2 * p and t <= n // 2:
            return p, lo + t
    return None


def describe_set(values: list[int], lo: int, hi: int) -> str:
    """A set of sizes in words: its runs, or a period where one shows ("8 to 15 mod 16, from 24
    to 255")."""
    if not values:
        return "none"
    rs = runs(values)
    if len(rs) <= 3:
        return "; ".join(describe(r) for r in rs)
    found = period(values, lo, hi)
    if found is None:
        return "; ".join(describe(r) for r in rs[:6]) + (
            f"; ... ({len(rs):,} runs)" if len(rs) > 6 else ""
        )
    p, t = found
    head = [v for v in values if v < t]
    tail = [v for v in values if v >= t]
    residues = sorted({v % p for v in tail})
    parts = []
    for r in runs(residues):
        a, b, step = r
        parts.append(
            f"{a}" if a == b else f"{a} to {b}" if step == 1 else f"{a} to {b} step {step}"
        )
    if residues == [0]:
        body = f"every multiple of {p} from {tail[0]} to {tail[-1]}"
    else:
        body = f"sizes ≡ {', '.join(parts)} (mod {p}) from {tail[0]} to {tail[-1]}"
    text = f"{body} ({len(tail):,} sizes)"
    return "; ".join([*(describe(r) for r in runs(head)), text]) if head else text

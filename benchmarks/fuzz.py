"""A long fuzz campaign over every command (the suite runs a derandomized sample of the same cases).

    .venv/bin/python benchmarks/fuzz.py [CASES] [FIRST_SEED]

Prints each case that breaks the contract (see tests/fuzz.py), the peak memory of the process,
and a summary line; exits 1 if any case broke it.
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fuzz import case, run_case  # noqa: E402


def main(argv):
    n = int(argv[0]) if argv else 10_000
    first = int(argv[1]) if len(argv) > 1 else 1_000_000
    bad = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        for seed in range(first, first + n):
            text = case(random.Random(seed))
            problems = run_case(text, path)
            if problems:
                bad += 1
                print(f"seed {seed}: {problems[:3]}\n  {text[:300]!r}", flush=True)
            done = seed - first + 1
            if done % 250 == 0:  # a campaign cut short still says how far it went
                print(
                    f"... {done:,} cases (seeds {first}..{seed}), {bad:,} broke the contract, "
                    f"{time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{n:,} cases, {bad:,} broke the contract, {time.perf_counter() - t0:.0f} s, peak "
        f"RSS {peak:.0f} MiB"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

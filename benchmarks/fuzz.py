"""A long fuzz campaign over every command (the suite runs a derandomized sample of the same cases).

    .venv/bin/python benchmarks/fuzz.py [CASES] [FIRST_SEED] [--jobs J]

Prints each case that breaks the contract (see tests/fuzz.py), the peak memory of the processes,
and a summary line; exits 1 if any case broke it. ``--jobs`` runs the seeds in J processes (each
case's CPU time is its own process's, so the bound holds per case however many run).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fuzz import case, run_case  # noqa: E402

_path: Path | None = None


def _one(seed: int) -> tuple[int, list[str], str]:
    global _path
    if _path is None:
        _path = Path(tempfile.mkdtemp(prefix=f"cnncalc-fuzz-{os.getpid()}-")) / "spec.yaml"
    text = case(random.Random(seed))
    return seed, run_case(text, _path), text[:300]


def main(argv):
    jobs = 1
    if "--jobs" in argv:
        k = argv.index("--jobs")
        jobs = int(argv[k + 1])
        argv = argv[:k] + argv[k + 2 :]
    n = int(argv[0]) if argv else 10_000
    first = int(argv[1]) if len(argv) > 1 else 1_000_000
    bad = done = 0
    t0 = time.perf_counter()
    seeds = range(first, first + n)
    with multiprocessing.Pool(jobs, maxtasksperchild=500) as pool:
        for seed, problems, head in pool.imap(_one, seeds):
            done += 1
            if problems:
                bad += 1
                print(f"seed {seed}: {problems[:3]}\n  {head!r}", flush=True)
            if done % 250 == 0:  # a campaign cut short still says how far it went
                print(
                    f"... {done:,} cases (seeds {first}..{seed}), {bad:,} broke the contract, "
                    f"{time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{n:,} cases, {bad:,} broke the contract, {time.perf_counter() - t0:.0f} s, peak "
        f"RSS {peak:.0f} MiB"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

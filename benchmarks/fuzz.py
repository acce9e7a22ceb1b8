"""A long fuzz campaign over every command (the suite runs a derandomized sample of the same cases).

    .venv/bin/python benchmarks/fuzz.py [CASES] [FIRST_SEED] [--jobs J]

Prints each case that breaks the contract (see tests/fuzz.py), the peak memory of the processes,
and a summary line; exits 1 if any case broke it. A case flagged on wall time alone (over the
hang's bound within its CPU bound: the machine busy with other work) is run again alone at the
end, and counts as broken only if it is flagged again. ``--jobs`` runs the seeds in J processes
(each case's CPU time is its own process's, so the bound holds per case however many run).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fuzz import case, run_case  # noqa: E402

LIMIT = 2.0  # seconds of CPU a command may take (run_case's bound)

_path: Path | None = None


def _one(seed: int) -> tuple[int, list[str], str]:
    global _path
    if _path is None:
        _path = Path(tempfile.mkdtemp(prefix=f"cnncalc-fuzz-{os.getpid()}-")) / "spec.yaml"
    text = case(random.Random(seed))
    return seed, run_case(text, _path), text[:300]


def _waited(problem: str) -> bool:
    """A command over the wall-time bound (a hang's) within its CPU bound: ``cmd: 14.9 s, 0.4 s
    of CPU``."""
    m = re.search(r": ([\d.]+) s, ([\d.]+) s of CPU$", problem)
    return bool(m) and float(m.group(2)) <= LIMIT < float(m.group(1))


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
    waited = []  # flagged on wall time alone (a machine busy with other work): run again alone
    with multiprocessing.Pool(jobs, maxtasksperchild=500) as pool:
        for seed, problems, head in pool.imap(_one, seeds):
            done += 1
            if problems and all(_waited(p) for p in problems):
                waited.append(seed)
                print(f"seed {seed}: wall time only, run again at the end: {problems[:3]}")
            elif problems:
                bad += 1
                print(f"seed {seed}: {problems[:3]}\n  {head!r}", flush=True)
            if done % 250 == 0:  # a campaign cut short still says how far it went
                print(
                    f"... {done:,} cases (seeds {first}..{seed}), {bad:,} broke the contract, "
                    f"{time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
    with multiprocessing.Pool(1, maxtasksperchild=1) as pool:  # alone, one process each
        for seed, problems, head in pool.imap(_one, waited):
            if problems:
                bad += 1
                print(f"seed {seed} (run again alone): {problems[:3]}\n  {head!r}", flush=True)
    if waited:
        print(f"{len(waited):,} cases flagged on wall time alone were run again alone")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{n:,} cases, {bad:,} broke the contract, {time.perf_counter() - t0:.0f} s, peak "
        f"RSS {peak:.0f} MiB"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

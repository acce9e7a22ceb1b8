"""Every command on specs at the documented limits, each run as a user runs it (a fresh
``cnncalc`` process): its CPU time (user + system, start-up included) and peak memory, against the
contract's bound of 2 s of CPU and 2 GiB.

    .venv/bin/python benchmarks/limits.py [--quick]

Prints one line per spec and command, the worst ratio to the bound, and exits 1 if any run is over
it (or ends with another status than 0, 1 or 2).
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fuzz import heavy_expressions, many_inputs  # noqa: E402

from cnncalc.read.blocks import MAX_LAYERS  # noqa: E402

CPU_BOUND = 2.0  # seconds
RSS_BOUND = 2 << 30  # bytes
CNNCALC = str(Path(sys.executable).parent / "cnncalc")
COMMANDS = [
    ["shapes"],
    ["shapes", "--format", "json"],
    ["params"],
    ["memory"],
    ["memory", "--fit", "24GiB"],
    ["explain"],
    ["expand"],
    ["check"],
    ["sizes", "--range", "1:64"],
    ["draw"],
    ["draw", "--format", "html"],
    ["draw", "--format", "mermaid"],
]


def specs() -> dict[str, str]:
    n = MAX_LAYERS
    conv = "{type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}"
    out = {
        f"{n:,} Conv2d": "input: [1, 4, 8, 8]\nlayers:\n" + f"  - {conv}\n" * n,
        f"{n:,} BatchNorm1d, each warning": "input: [1, 4]\nlayers:\n"
        + "  - {type: BatchNorm1d}\n" * n,
        f"{n:,} Linear": "input: [2, 8]\nlayers:\n" + "  - {type: Linear, out_features: 8}\n" * n,
    }
    lines = ["input: [2, 4, 8, 8]", "layers:", f"  - {{name: c0, {conv[1:]}"]
    for i in range(1, n // 2):
        lines.append(f"  - {{name: c{i}, {conv[1:]}")
        lines.append(f"  - {{name: a{i}, type: Add, from: [c{i}, c{i - 1}]}}")
    out[f"{n:,} layers, residual adds"] = "\n".join(lines) + "\n"
    out[f"a 7-layer block used {n // 7:,} times"] = (
        "input: [2, 4, 8, 8]\nblocks:\n  R:\n    layers:\n"
        "      - {name: c1, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, "
        "bias: false}\n"
        "      - {name: b1, type: BatchNorm2d}\n      - {name: r, type: ReLU}\n"
        "      - {name: c2, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, "
        "bias: false}\n"
        "      - {name: b2, type: BatchNorm2d}\n"
        "      - {name: add, type: Add, from: [b2, input]}\n      - {name: out, type: ReLU}\n"
        f"layers:\n  - {{name: stage, type: R, repeat: {n // 7}}}\n"
    )
    # the fuzz harness's heaviest generated cases, the seeds that make each one largest
    for label, make, want in (
        ("expressions at every limit at once", heavy_expressions, 40_000),
        ("a merge of 20,000 inputs", many_inputs, 100_000),
    ):
        best = max((make(random.Random(s)) for s in range(200)), key=len)
        out[f"{label} ({len(best) // 1000:,} KB)"] = best
        assert len(best) >= want, (label, len(best))
    return out


def run(args: list[str]) -> tuple[float, int, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([CNNCALC, *args], capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, after.ru_maxrss * 1024, p.returncode


def main(argv) -> int:
    quick = "--quick" in argv
    worst, bad = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in specs().items():
            path = Path(tmp) / "spec.yaml"
            path.write_text(text)
            for cmd in COMMANDS[:4] if quick else COMMANDS:
                args = [cmd[0], str(path), *cmd[1:]]
                if cmd[0] == "draw":
                    fmt = cmd[cmd.index("--format") + 1] if "--format" in cmd else "svg"
                    args += ["-o", os.path.join(tmp, f"out.{fmt}")]
                cpu, rss, rc = run(args)
                ratio = cpu / CPU_BOUND
                worst = max(worst, ratio)
                over = ratio > 1 or rss > RSS_BOUND or rc not in (0, 1, 2)
                bad += over
                print(
                    f"{label:<46} {' '.join(cmd):<22} {cpu:6.2f} s CPU  {ratio:5.2f} x bound  "
                    f"{rss / 2**20:6.0f} MiB  exit {rc}{'  OVER' if over else ''}",
                    flush=True,
                )
    print(f"worst: {worst:.2f} x the 2 s bound; {bad} runs over the bound")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

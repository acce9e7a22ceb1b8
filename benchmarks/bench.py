"""Speed and memory of cnncalc against `python -c "import torch"`, as ratios (issue budgets).

Run: .venv/bin/python benchmarks/bench.py   (medians of several runs, a warm-up first)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnncalc.read.blocks import MAX_LAYERS

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CNNCALC = [PY, "-m", "cnncalc"]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def timed(cmd: list[str], runs: int = RUNS) -> float:
    """Median wall time of a command, after one warm-up run."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_kib(cmd: list[str]) -> int:
    """Peak resident memory of one run (KiB), measured in a fresh wrapper process."""
    code = (
        "import resource, subprocess, sys\n"
        f"subprocess.run({cmd!r}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    return int(subprocess.run([PY, "-c", code], capture_output=True, text=True).stdout)


def sequential(n: int) -> str:
    kinds = [
        "{type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}",
        "{type: BatchNorm2d}",
        "{type: ReLU}",
    ]
    return "input: [1, 8, 16, 16]\nlayers:\n" + "".join(f"  - {kinds[i % 3]}\n" for i in range(n))


def row(what: str, seconds: float, torch_s: float, budget: float | None) -> str:
    ratio = seconds / torch_s
    verdict = "" if budget is None else ("  ok" if ratio <= budget else "  OVER BUDGET")
    limit = "" if budget is None else f" (budget {budget:.2f})"
    return f"{what:<52} {seconds * 1000:8.1f} ms  {ratio:6.3f} x import torch{limit}{verdict}"


def main() -> None:
    # byte-compile cnncalc first, as a regular (non-editable) pip install does: where
    # PYTHONDONTWRITEBYTECODE is set, an editable checkout would otherwise be compiled on every run
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "cnncalc")], check=True)
    resnet50 = str(ROOT / "configs" / "resnet50.yaml")
    tmp = Path(tempfile.mkdtemp(prefix="cnncalc-bench-"))
    try:
        (tmp / "seq1k.yaml").write_text(sequential(1_000))
        (tmp / "seq5k.yaml").write_text(sequential(MAX_LAYERS))
        many = tmp / "many"
        many.mkdir()
        lenet = (ROOT / "configs" / "lenet.yaml").read_text()
        for i in range(200):
            (many / f"net{i:03}.yaml").write_text(
                lenet.replace("out_features: 10", f"out_features: {10 + i}")
            )

        print(
            f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {RUNS} "
            "runs each (median)"
        )
        torch_s = timed([PY, "-c", "import torch"])
        label = 'python -c "import torch"'
        print(f"{label:<52} {torch_s * 1000:8.1f} ms")
        print(
            f"{'python -c pass (interpreter start)':<52} {timed([PY, '-c', 'pass']) * 1000:8.1f} ms"
        )
        json50 = timed([*CNNCALC, "shapes", resnet50, "--format", "json"])
        table50 = timed([*CNNCALC, "shapes", resnet50])
        k1 = timed([*CNNCALC, "shapes", str(tmp / "seq1k.yaml"), "--format", "json"])
        k10 = timed(
            [*CNNCALC, "shapes", str(tmp / "seq5k.yaml"), "--format", "json"],
            runs=max(3, RUNS // 2),
        )
        check200 = timed([*CNNCALC, "check", str(many)])
        print(row("shapes resnet50 --format json", json50, torch_s, 0.10))
        print(row("shapes resnet50 (table) minus json", table50 - json50, torch_s, 0.05))
        print(row("shapes 1,000-layer spec --format json", k1, torch_s, None))
        print(row(f"shapes {MAX_LAYERS:,}-layer spec (the limit) --format json", k10, torch_s, 0.6))
        print(
            f"{'5k / 1k layers time ratio':<52} {k10 / k1:8.2f}      (budget 5)  "
            f"{'ok' if k10 / k1 <= 5 else 'OVER BUDGET'}"
        )
        print(row("check over 200 tutorial-sized specs", check200, torch_s, 0.3))
        mem50 = timed([*CNNCALC, "memory", resnet50, "--batch", "64"])
        print(row("memory resnet50 --batch 64 (the step's peak)", mem50, torch_s, 0.15))
        fit50 = timed([*CNNCALC, "memory", resnet50, "--fit", "24GiB"], runs=3)
        print(row("memory resnet50 --fit 24GiB", fit50, torch_s, None))
        draw50 = timed([*CNNCALC, "draw", resnet50, "-o", str(tmp / "r50.svg")])
        print(row("draw resnet50 -o r50.svg", draw50, torch_s, 0.5))
        sweep50 = timed([*CNNCALC, "sizes", resnet50, "--range", "1:4096"])
        print(row("sizes resnet50 --range 1:4096 (H and W together)", sweep50, torch_s, 0.5))
        # Ultralytics model YAML (the table by rows and its summary, THOP's proxy analyses
        # included); set
        # ULTRALYTICS_YAML to some of its own files, separated by the path separator (e.g.
        # .../cfg/models/v8/yolov8n.yaml, read as yolov8.yaml at n; .../rt-detr/rtdetr-x.yaml)
        yolos = [
            str(ROOT / "tests" / "ultralytics" / "yolo91m-seg.yaml"),
            str(ROOT / "tests" / "ultralytics" / "yolo83s-detr.yaml"),
            *filter(None, os.environ.get("ULTRALYTICS_YAML", "").split(os.pathsep)),
        ]
        for y in yolos:
            print(row(f"shapes {Path(y).name}", timed([*CNNCALC, "shapes", y]), torch_s, 0.15))
        mem = peak_kib([*CNNCALC, "shapes", resnet50, "--format", "json"])
        print(
            f"{'peak memory, shapes resnet50':<52} {mem / 1024:8.1f} MiB  (budget 40)  "
            f"{'ok' if mem < 40 * 1024 else 'OVER BUDGET'}"
        )
        try:
            import torchinfo  # noqa: F401
        except ImportError:
            print("torchinfo is not installed: no comparison against it")
        else:
            code = (
                f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
                "import torch, torchinfo\nfrom torchref import ResNet, Bottleneck\n"
                "torchinfo.summary(ResNet(Bottleneck, [3, 4, 6, 3]), input_size=(1, 3, "
                "224, 224), verbose=0)"
            )
            ti = timed([PY, "-c", code], runs=3)
            print(row("torchinfo.summary(ResNet-50)", ti, torch_s, None))
            print(f"{'cnncalc json / torchinfo on ResNet-50':<52} {json50 / ti:8.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ultralytics' own numbers for model YAMLs, and how cnncalc's reader compares with them.

Dev-time only, in a separate venv (never in the README's set-up or CI); Ultralytics is AGPL, so it
is
run here, never copied into the repository, and models are built from YAML only (no weights):

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install torch==2.14.1 torchvision==0.29.1
    ultralytics pyyaml 'typer<0.21'
    /tmp/oracle/bin/pip install --no-deps -e .
    /tmp/oracle/bin/python benchmarks/ultralytics_truth.py [--write] [--imgsz N] [CONFIG ...]

With --all: every config Ultralytics ships, at every scale it declares. CONFIG is a path, or the
name of a config Ultralytics ships (`yolov8n.yaml`: `yolov8.yaml` at scale
n).
Without CONFIG: every test config under tests/ultralytics/ and the shipped list below. For each:
build the
model as Ultralytics does, take its summary (`model_info`: layers, parameters, gradients, GFLOPs),
its
parameter and buffer names and shapes, MACs (FlopCounterMode / 2 of an eval forward at 1xchxNxN) and
the
output shapes, then compare cnncalc's reading of the same file. `--write` stores the numbers for the
test configs as tests/ultralytics/truth.json, which the suite reads (with the pinned torch, without
Ultralytics).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "ultralytics"
SHIPPED = """yolov3-tiny.yaml yolov3.yaml yolov3-spp.yaml yolov5n.yaml yolov5s.yaml yolov5m.yaml
    yolov5n-p6.yaml yolov8n.yaml yolov8s.yaml yolov8m.yaml yolov8l.yaml yolov8n-seg.yaml
    yolov8s-seg.yaml yolov8n-cls.yaml yolov8s-cls.yaml yolov8n-pose.yaml yolov8n-obb.yaml
    yolov8n-p2.yaml yolov8n-p6.yaml yolov8n-seg-p6.yaml yolov8n-ghost.yaml yolov8n-ghost-p2.yaml
    yolo11n.yaml yolo11s.yaml yolo11m.yaml yolo11l.yaml yolo11n-seg.yaml yolo11s-seg.yaml
    yolo11n-cls.yaml yolo11m-cls.yaml yolo11n-pose.yaml yolo11n-obb.yaml
    yolov8n-cls-resnet50.yaml yolov9t.yaml yolov9s.yaml yolov9m.yaml yolov9c.yaml yolov9e.yaml
    yolov9c-seg.yaml yolov9e-seg.yaml yolov10n.yaml yolov10s.yaml yolov10m.yaml yolov10b.yaml
    yolov10l.yaml yolov10x.yaml yolo12n.yaml yolo12s.yaml yolo12l.yaml yolo12n-seg.yaml
    yolo12n-pose.yaml yolo12n-obb.yaml yolo12n-cls.yaml yolo26n.yaml yolo26s.yaml yolo26n-p2.yaml
    yolo26n-p6.yaml yolo26n-obb.yaml yolo26n-cls.yaml yolo26n-seg.yaml yolo26n-pose.yaml
    yolo26n-sem.yaml yolo26n-depth.yaml rtdetr-l.yaml rtdetr-x.yaml rtdetr-resnet50.yaml
    rtdetr-resnet101.yaml yolov8-rtdetr.yaml yolov8s-world.yaml yolov8s-worldv2.yaml yoloe-v8s.yaml
    yoloe-11s-seg.yaml yoloe-26s.yaml yoloe-26s-seg.yaml""".split()
# the test configs (written for cnncalc in Ultralytics' format), under scaled names where they have
# scales, and sizes
TEST_RUNS = [
    ("yolo90n.yaml", 640),
    ("yolo90s.yaml", 640),
    ("yolo90n.yaml", 320),
    ("yolo91n-seg.yaml", 640),
    ("yolo91m-seg.yaml", 640),
    ("yolo92-cls.yaml", 640),
    ("yolo92-cls.yaml", 224),
    ("yolo93n-pose.yaml", 640),
    ("yolo94-tiny.yaml", 640),
    ("yolo94-tiny.yaml", 96),
    ("yolo95n-obb.yaml", 640),
    ("yolo95m-obb.yaml", 640),
    ("yolo97-gelan.yaml", 640),
    ("yolo97-gelan.yaml", 160),
    ("yolo98n-nmsfree.yaml", 640),
    ("yolo98s-nmsfree.yaml", 224),
    ("yolo99n-area.yaml", 640),
    ("yolo99l-area.yaml", 256),
    ("yolo88n-e2e.yaml", 640),
    ("yolo89n-e2e-obb.yaml", 320),
    ("yolo87n-e2e-seg.yaml", 384),
    ("yolo86n-e2e-pose.yaml", 320),
    ("yolo85n-sem.yaml", 320),
    ("yolo84n-depth.yaml", 256),
    ("yolo96-cls.yaml", 640),
    ("yolo96-cls.yaml", 160),
    ("yolo96-cls.yaml", 100),
    ("yolo92-cls.yaml", 64),
    ("yolo83n-detr.yaml", 640),
    ("yolo83s-detr.yaml", 96),
    ("yolo83n-detr.yaml", 32),
    ("yolo82n-world.yaml", 640),
    ("yolo82s-world.yaml", 224),
    ("yolo81-worldv2.yaml", 640),
    ("yolo81-worldv2.yaml", 96),
    ("yolo80n-e2e-pose.yaml", 640),
    ("yolo80n-e2e-pose.yaml", 160),
    ("yolo79n-prompt.yaml", 640),
    ("yolo79n-prompt.yaml", 128),
    ("yolo78n-e2e-prompt-seg.yaml", 640),
    ("yolo78n-e2e-prompt-seg.yaml", 128),
]


def build(cfg: str):
    """The Ultralytics model for a config, as its trainers build it (task from the head)."""
    from ultralytics.nn import tasks

    d = tasks.yaml_model_load(cfg)
    task = tasks.guess_model_task(d) or "detect"
    cls = {
        "detect": tasks.DetectionModel,
        "segment": tasks.SegmentationModel,
        "classify": tasks.ClassificationModel,
        "pose": tasks.PoseModel,
        "obb": tasks.OBBModel,
        "semantic": tasks.SemanticSegmentationModel,
        "depth": tasks.DepthModel,
    }[task]
    if d["head"][-1][2] == "RTDETRDecoder":  # RT-DETR's own model class (the same parse_model)
        cls = tasks.RTDETRDetectionModel
    if d["head"][-1][2] == "WorldDetect":  # YOLO-World's: it feeds the text embeddings
        cls = tasks.WorldModel
    if d["head"][-1][2].startswith("YOLOE"):  # YOLOE's: it feeds the class prompt embeddings
        cls = tasks.YOLOESegModel if "Segment" in d["head"][-1][2] else tasks.YOLOEModel
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        model = cls(d, verbose=False)
    return model, d


def shapes(out) -> list:
    """Every tensor of an output (tuples, lists and dicts walked in order), as shapes."""
    if isinstance(out, torch.Tensor):
        return [list(out.shape)]
    if isinstance(out, dict):
        return [s for v in out.values() for s in shapes(v)]
    if isinstance(out, (list, tuple)):
        return [s for v in out for s in shapes(v)]
    return []


def truth(cfg: str, imgsz: int, sweep: bool = True) -> dict:
    from ultralytics.utils.torch_utils import model_info

    model, d = build(cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        layers, params, grads, gflops = model_info(model, verbose=True, imgsz=imgsz)
    ch = d.get("channels", 3)
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = model(torch.zeros(1, ch, imgsz, imgsz))
    # the square input sizes 1..160 the model runs at (the sizes sweep of the test configs)
    sizes = []
    if imgsz == 640 and sweep:
        for x in range(1, 161):
            try:
                with torch.no_grad():
                    model(torch.zeros(1, ch, x, x))
                sizes.append(x)
            except Exception:  # any refusal of torch's or Ultralytics' own
                pass
    return {
        "sizes": sizes,
        "imgsz": imgsz,
        "ultralytics": {
            "layers": layers,
            "parameters": params,
            "gradients": grads,
            "gflops": gflops,
        },
        "parameters": {n: list(p.shape) for n, p in model.named_parameters()},
        "frozen": [n for n, p in model.named_parameters() if not p.requires_grad],
        "buffers": {n: list(b.shape) for n, b in model.named_buffers()},
        "macs": fc.get_total_flops() // 2,
        "outputs": shapes(out),
    }


def ours(path: str, imgsz: int) -> dict:
    from cnncalc.api import facts as analyze
    from cnncalc.read import load

    a = analyze(load(path, imgsz=imgsz))
    return {
        "ultralytics": a.ultralytics.to_dict(),
        "parameters": {t.name: list(t.shape) for t in a.tensors},
        "frozen": [t.name for r in a.layers if not r.trainable for t in r.params],
        "buffers": {t.name: list(t.shape) for t in a.buffers},
        "macs": a.total_macs,
        "outputs": [list(shape) for _, shape in a.outputs],
    }


def compare(want: dict, got: dict) -> list[str]:
    diffs = []
    for key in ("ultralytics", "macs", "outputs", "frozen"):
        if want[key] != got[key]:
            diffs.append(f"{key}: ultralytics {want[key]} cnncalc {got[key]}")
    for key in ("parameters", "buffers"):
        if want[key] != got[key]:
            w, g = want[key], got[key]
            missing = [n for n in w if n not in g][:3]
            extra = [n for n in g if n not in w][:3]
            shape = [n for n in w if n in g and w[n] != g[n]][:3]
            order = list(w) != list(g) and not missing and not extra
            diffs.append(
                f"{key}: missing {missing} extra {extra} shape {shape}"
                + (" (order)" if order else "")
            )
    return diffs


def main(argv: list[str]) -> int:
    write = "--write" in argv
    imgsz = 640
    if "--imgsz" in argv:
        imgsz = int(argv[argv.index("--imgsz") + 1])
        argv = [a for i, a in enumerate(argv) if a != "--imgsz" and argv[i - 1] != "--imgsz"]
    names = [a for a in argv if not a.startswith("--")]
    if "--all" in argv:  # every model YAML Ultralytics ships, at every scale it declares
        names = every_shipped()
    tests = [(str(TESTS / name), size) for name, size in TEST_RUNS]
    runs = [(n, imgsz) for n in names] if names else [*tests, *((n, imgsz) for n in SHIPPED)]
    store, exact = {}, 0
    for cfg, size in runs:
        t0 = time.perf_counter()
        try:
            want = truth(cfg, size, sweep=Path(cfg).parent == TESTS)  # stored: the suite reads it
        except Exception as e:  # a config Ultralytics itself cannot build
            print(f"{Path(cfg).name:28} {size:4} ultralytics failed: {type(e).__name__}: {e}")
            continue
        if Path(cfg).parent == TESTS:
            store[f"{Path(cfg).name}@{size}"] = want
        path = cfg if Path(cfg).parent == TESTS else str(shipped_path(cfg))
        try:
            got = ours(path, size)
        except Exception as e:
            print(f"{Path(cfg).name:28} {size:4} REFUSED {type(e).__name__}: {str(e)[:200]}")
            continue
        diffs = compare(want, got)
        exact += not diffs
        u = want["ultralytics"]
        line = f"{u['layers']} layers, {u['parameters']:,} params, {u['gflops']:.1f} GFLOPs"
        print(
            f"{Path(cfg).name:28} {size:4} {'exact' if not diffs else 'WRONG'}  {line}  "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        for d in diffs:
            print("    " + d[:300])
    print(f"exact: {exact} of {len(runs)}")
    if write:  # merged into what is stored: a run of some configs updates theirs alone
        path = TESTS / "truth.json"
        store = {**(json.loads(path.read_text()) if path.exists() else {}), **store}
        path.write_text(json.dumps(store, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(store)} runs to {TESTS / 'truth.json'}")
    return 0


def every_shipped() -> list[str]:
    """Each shipped config under the name of each of its scales (yolov8-seg.yaml at n:
    yolov8n-seg.yaml); a config of no scales, or one whose name has no number, as it is."""
    import re

    import ultralytics
    import yaml

    names = []
    for p in sorted((Path(ultralytics.__file__).parent / "cfg" / "models").rglob("*.yaml")):
        scales = list((yaml.safe_load(p.read_text()) or {}).get("scales") or {})
        named = re.match(r"^\D*\d+([a-z])", p.stem)  # yolov10b.yaml: its scale in its name
        if not scales or not re.match(r"^\D*\d+", p.stem) or (named and named[1] in scales):
            names.append(str(p))
            continue
        names += [re.sub(r"^(\D*\d+)", rf"\g<1>{k}", p.stem) + ".yaml" for k in scales]
    return names


def shipped_path(cfg: str) -> Path:
    """Where a shipped config lives, under its scaled name (which need not exist: the reader
    unifies it)."""
    import ultralytics

    base = Path(ultralytics.__file__).parent / "cfg" / "models"
    import re

    for p in base.rglob(Path(cfg).name):  # shipped under its own name (yolov9s.yaml)
        return p
    unified = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", Path(cfg).stem) + ".yaml"
    for p in base.rglob(unified):
        return p.with_name(cfg)
    return Path(cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

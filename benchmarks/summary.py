"""cnncalc.summary as torchinfo's users call it, on model-and-input cases checked against torch.

Dev-time only, in the oracle venv (see ``zoo.py``; torchinfo installed there too):

    /tmp/oracle/bin/python benchmarks/summary.py [--time]

The cases: those of ``tests/summary_cases.py`` (small nets, bare layers, several inputs, keyword
inputs, dict and tuple outputs, RNNs and embeddings, attention, shared modules, modes, frozen and
pruned layers, what cannot be imported, bad arguments) and torchvision's models as users summarise
them (eval and train mode, frozen backbones, pruned layers). Each is classified by
``summary_cases.check``: exact (total, trainable, outputs and MACs = FlopCounterMode / 2 of the
forward under no_grad equal torch's, the model unchanged), refused (one line), wrong, traceback or
changed. ``--time`` measures ``cnncalc.summary`` against ``torchinfo.summary`` on ResNet-50 in one
process (after one warm-up call of each; the median of 7).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import torch
import torchvision.models as tv
from torch.nn.utils import prune

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from summary_cases import CASES, _frozen, check  # noqa: E402

import cnncalc  # noqa: E402

IMG = {"input_size": (1, 3, 224, 224)}


def _pruned_resnet():
    m = tv.resnet18()
    prune.global_unstructured(
        [(m.conv1, "weight"), (m.fc, "weight")], pruning_method=prune.L1Unstructured, amount=0.2
    )
    return m


def _head_swapped():
    m = tv.mobilenet_v3_small()
    m.requires_grad_(False)
    m.classifier[-1] = torch.nn.Linear(1024, 5)
    return m


TV = [
    ("resnet18", lambda: tv.resnet18().eval(), IMG),
    ("resnet50", lambda: tv.resnet50().eval(), IMG),
    ("resnet18 train", tv.resnet18, IMG),
    ("resnet18 frozen 30", _frozen(lambda: tv.resnet18().eval(), 30), IMG),
    ("resnet18 pruned", _pruned_resnet, IMG),
    ("vgg11", lambda: tv.vgg11().eval(), IMG),
    ("alexnet", lambda: tv.alexnet().eval(), IMG),
    ("squeezenet", lambda: tv.squeezenet1_1().eval(), IMG),
    ("densenet121", lambda: tv.densenet121().eval(), IMG),
    ("mobilenet_v2", lambda: tv.mobilenet_v2().eval(), IMG),
    ("mobilenet_v3 head swapped", _head_swapped, IMG),
    ("efficientnet_b0", lambda: tv.efficientnet_b0().eval(), IMG),
    ("shufflenet", lambda: tv.shufflenet_v2_x1_0().eval(), IMG),
    ("regnet", lambda: tv.regnet_y_400mf().eval(), IMG),
    ("convnext_tiny", lambda: tv.convnext_tiny().eval(), IMG),
    ("googlenet eval", lambda: tv.googlenet(aux_logits=True, init_weights=False).eval(), IMG),
    ("googlenet train", lambda: tv.googlenet(aux_logits=True, init_weights=False), IMG),
    (
        "inception_v3 train",
        lambda: tv.inception_v3(init_weights=False),
        {"input_size": (2, 3, 299, 299)},
    ),
    ("mnasnet", lambda: tv.mnasnet0_5().eval(), IMG),
    ("vit_b_16", lambda: tv.vit_b_16().eval(), IMG),
    ("vit_b_16 train", tv.vit_b_16, IMG),
    ("swin_t", lambda: tv.swin_t().eval(), IMG),
    ("maxvit_t", lambda: tv.maxvit_t().eval(), IMG),
    (
        "resnet18 batch_dim",
        lambda: tv.resnet18().eval(),
        {"input_size": (3, 64, 64), "batch_dim": 0},
    ),
    ("resnet18 meta", lambda: tv.resnet18().eval(), {**IMG, "device": "meta"}),
]


def cases() -> None:
    counts = Counter()
    for name, make, call in [*CASES, *TV]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            result, detail = check(make, call)
        counts[result] += 1
        print(f"{result:9} {time.perf_counter() - t:6.2f}s  {name:30} {detail[:160]}")
    total = sum(counts.values())
    print(f"\n{total} cases: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print(f"returned a summary: {counts['exact'] + counts['wrong']}/{total}")


def timing() -> None:
    import torchinfo

    model = tv.resnet50().eval()
    runs = {"torchinfo": [], "cnncalc": []}
    for i in range(8):
        t = time.perf_counter()
        torchinfo.summary(model, (1, 3, 224, 224), verbose=0)
        if i:
            runs["torchinfo"].append(time.perf_counter() - t)
        t = time.perf_counter()
        cnncalc.summary(model, (1, 3, 224, 224), verbose=0)
        if i:
            runs["cnncalc"].append(time.perf_counter() - t)
    a, b = statistics.median(runs["cnncalc"]), statistics.median(runs["torchinfo"])
    print(f"resnet50: cnncalc.summary {a:.3f} s, torchinfo.summary {b:.3f} s, ratio {a / b:.2f}")


if __name__ == "__main__":
    timing() if "--time" in sys.argv else cases()

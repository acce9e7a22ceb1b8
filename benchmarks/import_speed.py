"""`cnncalc import` of torchvision's transformers against building the model and one forward under
FlopCounterMode (what the import must not exceed). Dev-time only, in the oracle venv (see zoo.py):

    /tmp/oracle/bin/python benchmarks/import_speed.py [NAME ...]   (default: vit_b_16)

Prints, per model, the best of five runs of each, both from a fresh build of the model (random
weights, eval mode, input (1, 3, 224, 224)), and their ratio.
"""

from __future__ import annotations

import sys
import time
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnncalc.bridge.importer import import_model

warnings.filterwarnings("ignore")
SHAPE = (1, 3, 224, 224)


def forward(make) -> float:
    t = time.perf_counter()
    model = make().eval()
    with torch.no_grad(), FlopCounterMode(display=False):
        model(torch.randn(SHAPE))
    return time.perf_counter() - t


def imported(make) -> float:
    t = time.perf_counter()
    import_model(make().eval(), SHAPE, "model")
    return time.perf_counter() - t


def main(names: list[str]) -> None:
    import torchvision.models as tvm

    for name in names or ["vit_b_16"]:

        def make(n=name):
            return tvm.get_model(n)

        forward(make), imported(make)  # warm: imports, first-call caches
        ref = min(forward(make) for _ in range(5))
        ours = min(imported(make) for _ in range(5))
        print(
            f"{name}: build + forward under FlopCounterMode {ref:.2f} s, build + import "
            f"{ours:.2f} s: ratio {ours / ref:.2f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

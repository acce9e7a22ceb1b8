"""The model zoo through `cnncalc import`: the share of models whose spec equals torch in every
number.

Dev-time only, in a separate venv (never in the README's set-up or CI):

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install torch==2.14.1 torchvision==0.29.1
    timm pyyaml 'typer<0.21'
    /tmp/oracle/bin/pip install --no-deps -e .
    /tmp/oracle/bin/python benchmarks/zoo.py [--write] [--more] [--sample=SEED] [NAME ...]

``--sample=SEED``: one timm model per family (all of timm's modules), drawn with SEED.

For each model (random weights, eval mode): import it, then compare the spec's analysis with the
model
itself: parameter names and shapes, buffers, MACs (FlopCounterMode / 2 on the model) and output
shapes,
and `verify` (the spec built in torch, on meta) must agree. `--write` stores a few imported specs
and
torch's numbers for them under tests/zoo/, which the suite checks with the pinned torch.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnncalc.bridge.importer import ImportFailed, import_model
from cnncalc.bridge.verify import verify
from cnncalc.engine import analyze
from cnncalc.read import parse

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent

TV_SKIP: set[str] = set()  # every classification model, transformers included
TIMM = [
    "resnet18",
    "resnet26d",
    "resnet50d",
    "seresnext26d_32x4d",
    "ecaresnet26t",
    "skresnet18",
    "resnest14d",
    "res2net50_14w_8s",
    "regnetx_002",
    "regnety_002",
    "densenet121",
    "dla34",
    "dpn48b",
    "efficientnet_b0",
    "efficientnet_lite0",
    "tf_efficientnet_b0",
    "efficientnetv2_rw_t",
    "mixnet_s",
    "mnasnet_100",
    "mobilenetv2_100",
    "mobilenetv3_small_100",
    "mobilenetv3_large_100",
    "lcnet_050",
    "fbnetc_100",
    "spnasnet_100",
    "ghostnet_100",
    "hrnet_w18_small",
    "convnext_atto",
    "convnext_nano",
    "convnextv2_atto",
    "cspresnet50",
    "cspdarknet53",
    "darknet53",
    "vgg11",
    "repvgg_a0",
    "rexnet_100",
    "tinynet_a",
    "gernet_s",
    "nf_resnet26",
    "dm_nfnet_f0",
    "resnetv2_50",
    "inception_v3",
    "xception41",
    "selecsls42b",
    "hardcorenas_a",
    "semnasnet_075",
    "ese_vovnet19b_dw",
    "tresnet_m",
    "fastvit_t8",
]
# a second list of families, held out while the importer was written (run with --more)
TIMM_MORE = """mobileone_s0 repghostnet_050 hgnetv2_b0 inception_next_tiny cs3darknet_focus_s
    regnetz_b16 edgenext_xx_small resnet34d bat_resnext26ts botnet26t_256 halonet26t
    lambda_resnet26t gcresnet33ts eca_nfnet_l0 resnetrs50 seresnet33ts gcresnext26ts vovnet39a
    mobilenetv4_conv_small rdnet_tiny starnet_s1 ghostnetv2_100 tinynet_e mixnet_m tf_mixnet_s
    mnasnet_small lcnet_100 efficientvit_b0 resnext26ts cspresnext50 dla46_c hrnet_w18_small_v2
    legacy_seresnet18 inception_v4 inception_resnet_v2 res2next50 resnet10t wide_resnet50_2
    efficientnet_es mobilenetv1_100 ese_vovnet39b poolformer_s12 regnetv_040 fbnetv3_b dpn68
    repvit_m1 fastvit_sa12 vgg11_bn""".split()
WRITE = {
    "tv_shufflenet_v2_x0_5",
    "tv_convnext_tiny",
    "tv_efficientnet_b0",
    "tv_mnasnet0_5",
    "tv_densenet121",
    "tv_lraspp_mobilenet_v3_large",
    "tv_vit_b_16",
    "tv_swin_t",
    "tv_swin_v2_t",
    "tv_maxvit_t",
    "timm_dm_nfnet_f0",
    "timm_halonet26t",
    "timm_mvitv2_tiny",
    "timm_tresnet_m",
    "timm_tiny_vit_5m_224",
}


def models(more=False):
    import torchvision.models as tvm
    import torchvision.models.segmentation as seg

    for name in [] if more else tvm.list_models(module=tvm):
        if name not in TV_SKIP:
            yield (
                f"tv_{name}",
                (lambda n=name: tvm.get_model(n)),
                (1, 3, 299, 299) if name == "inception_v3" else (1, 3, 224, 224),
            )
    for name in [] if more else tvm.list_models(module=seg):
        yield (
            f"tv_{name}",
            (lambda n=name: tvm.get_model(n, weights_backbone=None)),
            (1, 3, 224, 224),
        )
    import timm

    for name in TIMM_MORE if more else TIMM:
        size = (
            tuple(timm.get_pretrained_cfg(name).input_size)
            if timm.get_pretrained_cfg(name)
            else (3, 224, 224)
        )
        yield f"timm_{name}", (lambda n=name: timm.create_model(n, pretrained=False)), (1, *size)


def timm_by_name(names):
    import timm

    for name in names:
        cfg = timm.get_pretrained_cfg(name)
        size = tuple(cfg.input_size) if cfg else (3, 224, 224)
        yield f"timm_{name}", (lambda n=name: timm.create_model(n, pretrained=False)), (1, *size)


def sampled(seed: int, most: int = 150_000_000):
    """One timm model per family (timm's modules), drawn at random with ``seed``: the held-out
    sample. A model of more than ``most`` parameters (counted on meta) is drawn again, up to five
    times, so the sample runs on this machine."""
    import random

    import timm

    rng = random.Random(seed)
    for family in timm.list_modules():
        names = timm.list_models(module=family)
        for _ in range(5):
            name = rng.choice(names)
            try:
                with torch.device("meta"):
                    n = sum(p.numel() for p in timm.create_model(name).parameters())
            except Exception:  # noqa: BLE001 - built for real below, where it fails as such
                n = 0
            if n <= most:
                break
        cfg = timm.get_pretrained_cfg(name)
        size = tuple(cfg.input_size) if cfg else (3, 224, 224)
        yield (
            f"timm_{name}",
            (lambda n=name: timm.create_model(n, pretrained=False)),
            (1, *size),
            family,
        )


def outputs_of(out) -> list:
    if isinstance(out, dict):
        return [t for v in out.values() for t in outputs_of(v)]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in outputs_of(v)]
    return [out]


def check(name, make, shape):
    torch.manual_seed(0)
    model = make().eval()
    imported = import_model(model, shape, name)
    a = analyze(parse(imported.text))
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            out = model(torch.randn(shape))
    except AssertionError:  # FlopCounterMode's module hooks need autograd on a few models
        with FlopCounterMode(display=False) as fc:
            out = model(torch.randn(shape))
    problems = []
    if a.total_macs != fc.get_total_flops() // 2:
        problems.append(f"MACs {a.total_macs:,} vs torch {fc.get_total_flops() // 2:,}")
    if [s for _, s in a.outputs] != [tuple(t.shape) for t in outputs_of(out)]:
        problems.append("outputs differ")
    unused = set(imported.unused)
    theirs = sorted((n, tuple(p.shape)) for n, p in model.named_parameters() if n not in unused)
    if theirs != sorted((t.name, t.shape) for t in a.tensors):
        problems.append("parameters differ")
    report = verify(a, "meta")
    if not report.ok:
        problems.append(
            "verify: "
            + "; ".join(report.problems[:2] + [r.name for r in report.rows if not r.ok][:3])
        )
    truth = {
        "params": sum(p.numel() for n, p in model.named_parameters() if n not in unused),
        "macs": fc.get_total_flops() // 2,
        "outputs": [list(t.shape) for t in outputs_of(out)],
        "unused": len(unused),
    }
    return problems, imported, truth


def main(argv):
    write = "--write" in argv
    only = [a for a in argv if not a.startswith("--")]
    exact = total = 0
    seed = next((int(a.split("=")[1]) for a in argv if a.startswith("--sample=")), None)
    cases = sampled(seed) if seed is not None else models("--more" in argv)
    if only and all(n.startswith("timm_") for n in only):  # any timm model, by name
        cases = timm_by_name([n.removeprefix("timm_") for n in only])
    for name, make, shape, *family in cases:
        if only and name not in only:
            continue
        if family:
            print(f"[{family[0]}]", end=" ", flush=True)
        total += 1
        t0 = time.perf_counter()
        try:
            problems, imported, truth = check(name, make, shape)
        except ImportFailed as e:
            print(f"REFUSED  {name}: {e}", flush=True)
            continue
        except Exception as e:  # noqa: BLE001 - a crash is reported as such
            print(
                f"CRASH    {name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                flush=True,
            )
            continue
        if problems:
            print(f"WRONG    {name}: {'; '.join(problems)}", flush=True)
            continue
        exact += 1
        print(
            f"exact    {name} ({truth['params']:,} params, {truth['macs']:,} MACs, "
            f"{time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        if write and name in WRITE:
            out = ROOT / "tests" / "zoo"
            out.mkdir(exist_ok=True)
            (out / f"{name}.yaml").write_text(imported.text)
            (out / f"{name}.json").write_text(json.dumps({**truth, "input": list(shape)}) + "\n")
    print(f"{exact} of {total} models imported exactly ({100 * exact / max(total, 1):.1f}%)")


if __name__ == "__main__":
    main(sys.argv[1:])

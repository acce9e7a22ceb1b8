"""The shipped architectures: published parameter counts, torch verification, and check."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.bridge.verify import verify
from cnncalc.cli import app
from cnncalc.engine import analyze
from cnncalc.read import load

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# Parameter counts and GMACs (224 x 224) published in torchvision's model documentation.
PUBLISHED = {
    "lenet.yaml": (81_194, None),  # the tutorial's net
    "alexnet.yaml": (61_100_840, 0.71),
    "densenet121.yaml": (7_978_856, 2.83),
    "googlenet.yaml": (6_624_904, 1.50),
    "mobilenet_v2.yaml": (3_504_872, 0.30),
    "resnet18.yaml": (11_689_512, 1.81),
    "resnet50.yaml": (25_557_032, 4.09),
    "squeezenet1_0.yaml": (1_248_424, 0.82),
    "vgg16.yaml": (138_357_544, 15.47),
    "shufflenet_unit.yaml": (
        7_598,
        None,
    ),  # one unit; test_today checks it against torchvision's InvertedResidual
    "unet.yaml": (
        7_763_074,
        None,
    ),  # no published count (its widths are the README's example): verify is the check
}


def test_every_config_is_listed():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_config_matches_published_count_and_torch(name):
    a = analyze(load(str(CONFIGS / name)))
    params, gmacs = PUBLISHED[name]
    assert a.total_params == params
    if gmacs is not None:
        assert round(a.total_macs / 1e9, 2) == gmacs
    report = verify(a, device="meta")
    assert report.ok, report.problems + [r for r in report.rows if not r.ok]


def test_check_accepts_the_configs_folder():
    r = CliRunner().invoke(app, ["check", str(CONFIGS)])
    assert r.exit_code == 0, r.output
    assert f"checked {len(PUBLISHED)} specs: {len(PUBLISHED)} ok, 0 invalid" in r.stdout

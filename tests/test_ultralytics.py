"""Ultralytics model YAML: every number against Ultralytics' own (tests/ultralytics/truth.json,
written by
benchmarks/ultralytics_truth.py from the models Ultralytics builds of these files), the built torch
model
against the analysis, and diagnostics at the row."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cnncalc.api import facts as analyze  # the engine, and Ultralytics' summary rules
from cnncalc.bridge.export import export
from cnncalc.bridge.verify import verify
from cnncalc.cli import app
from cnncalc.diagnostics import SpecError
from cnncalc.read import load, parse

HERE = Path(__file__).resolve().parent / "ultralytics"
TRUTH = json.loads((HERE / "truth.json").read_text())
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def numbers(a) -> dict:
    return {
        "ultralytics": a.ultralytics.to_dict(),
        "parameters": {t.name: list(t.shape) for t in a.tensors},
        "frozen": [t.name for r in a.layers if not r.trainable for t in r.params],
        "buffers": {t.name: list(t.shape) for t in a.buffers},
        "macs": a.total_macs,
        "outputs": [list(s) for _, s in a.outputs],
    }


@pytest.mark.parametrize("run_", sorted(TRUTH))
def test_every_number_is_ultralytics(run_):
    """Summary (layers, parameters, gradients, GFLOPs unrounded), tensor names and shapes, frozen
    tensors,
    MACs (FlopCounterMode / 2 of Ultralytics' eval forward) and the eval outputs."""
    name, size = run_.split("@")
    want = TRUTH[run_]
    got = numbers(analyze(load(str(HERE / name), imgsz=int(size))))
    for key in ("ultralytics", "macs", "outputs", "frozen", "buffers", "parameters"):
        assert got[key] == want[key], key
    assert list(got["parameters"]) == list(want["parameters"]) or sorted(
        got["parameters"]
    ) == sorted(want["parameters"])


def test_truth_covers_each_module_and_head():
    """The truth file spans detect, segment, classify, pose and obb, and sizes off the proxy
    path."""
    tasks = {json.dumps(v["outputs"][:1]) for v in TRUTH.values()}
    assert len(TRUTH) >= 14 and len(tasks) >= 6
    assert {"yolo96-cls.yaml@100", "yolo92-cls.yaml@64"} <= set(
        TRUTH
    )  # THOP's full-size run, not extrapolated


@pytest.mark.parametrize(
    "name",
    [
        "yolo91n-seg.yaml",
        "yolo93n-pose.yaml",
        "yolo94-tiny.yaml",
        "yolo95m-obb.yaml",
        "yolo96-cls.yaml",
        "yolo97-gelan.yaml",
        "yolo98n-nmsfree.yaml",
        "yolo99l-area.yaml",
        "yolo88n-e2e.yaml",
        "yolo89n-e2e-obb.yaml",
        "yolo87n-e2e-seg.yaml",
        "yolo86n-e2e-pose.yaml",
        "yolo85n-sem.yaml",
        "yolo84n-depth.yaml",
        "yolo83s-detr.yaml",
        "yolo82s-world.yaml",
        "yolo81-worldv2.yaml",
        "yolo80n-e2e-pose.yaml",
        "yolo79n-prompt.yaml",
        "yolo78n-e2e-prompt-seg.yaml",
    ],
)
def test_the_built_torch_model_agrees(name):
    """verify builds the layers as torch modules and runs them: shapes, tensors and MACs as the
    analysis."""
    a = analyze(load(str(HERE / name), imgsz=128))
    report = verify(a, "meta")
    assert report.ok, report


def test_export_builds_the_model_with_its_names_and_frozen_dfl():
    a = analyze(load(str(HERE / "yolo91n-seg.yaml"), imgsz=64))
    namespace: dict = {}
    exec(compile(export(a), "<export>", "exec"), namespace)
    model = namespace["Net"]().eval()
    assert {n: list(p.shape) for n, p in model.named_parameters()} == TRUTH["yolo91n-seg.yaml@640"][
        "parameters"
    ]
    assert [n for n, p in model.named_parameters() if not p.requires_grad] == [
        "model.15.dfl.conv.weight"
    ]
    outs = model(torch.zeros(1, 3, 64, 64))
    assert [list(o.shape) for o in outs] == [list(s) for _, s in a.outputs]


def test_the_text_embeddings_follow_the_batch():
    """YOLO-World's text embeddings are expanded to the input's batch (WorldModel's predict), so
    the text-side products grow with it: at batch 2 the MACs are twice batch 1's (Ultralytics':
    658,243,584 and 1,316,487,168 at 256, FlopCounterMode of its eval forward), and torch runs
    the built model at that batch with every number the analysis has."""
    at256 = load(str(HERE / "yolo82n-world.yaml"), imgsz=256)
    assert [analyze(at256, b).total_macs for b in (1, 2)] == [658_243_584, 1_316_487_168]
    spec = load(str(HERE / "yolo82n-world.yaml"), imgsz=64)
    one, two = analyze(spec, 1), analyze(spec, 2)
    assert two.total_macs == 2 * one.total_macs
    assert next(r for r in two.layers if r.name == "txt_feats").output_shape == (2, 80, 512)
    said = [w.message for w in one.warnings if "assumed" in w.message]
    assert said == [
        "the text embeddings are assumed as Ultralytics builds the model offline: WorldModel's "
        "(1, 80, 512) placeholder, not CLIP's for your classes (80 rows)"
    ]
    yoloe = analyze(load(str(HERE / "yolo79n-prompt.yaml"), imgsz=64), 3)
    assert [w.message for w in yoloe.warnings if "assumed" in w.message] == [
        "the class embeddings are assumed as Ultralytics builds the model offline, with no "
        "prompt given: YOLOEModel's zeros for 80 classes (the scores have 80 rows)"
    ]
    assert next(r for r in yoloe.layers if r.name == "cls_pe").output_shape == (3, 80, 512)
    report = verify(two, "cpu")
    assert report.ok, report


def test_a_world_head_refuses_classes_the_offline_text_does_not_hold(tmp_path):
    text = (HERE / "yolo81-worldv2.yaml").read_text().replace("nc: 80", "nc: 5")
    (tmp_path / "w.yaml").write_text(text)
    r = run("shapes", tmp_path / "w.yaml")
    assert r.exit_code == 1
    assert "WorldDetect with nc 5" in r.stderr and "(in row" not in r.stderr.split("error:")[0]


def test_a_scaled_name_reads_the_unscaled_file_and_scale_option():
    assert not (HERE / "yolo90s.yaml").exists()
    a = analyze(load(str(HERE / "yolo90.yaml"), scale="s"))
    assert a.ultralytics.to_dict() == TRUTH["yolo90s.yaml@640"]["ultralytics"]
    assert a.ultralytics.title == "YOLO90"  # Ultralytics names the summary after the file
    assert analyze(load(str(HERE / "yolo90s.yaml"))).ultralytics.title == "YOLO90s"


def test_shapes_prints_the_rows_and_both_summaries():
    r = run("shapes", HERE / "yolo90n.yaml", "--format", "markdown")
    assert r.exit_code == 0, r.output
    cells = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in r.stdout.splitlines()
        if line.startswith("|")
    ]
    assert cells[0][:6] == ["", "from", "n", "params", "module", "arguments"]
    rows = [row for row in cells[2:]]
    assert [row[0] for row in rows] == [str(i) for i in range(19)]
    assert rows[2][:3] == ["2", "-1", "1"] and rows[2][4] == "C2f"  # n = max(round(2 · 0.34), 1)
    params = TRUTH["yolo90n.yaml@640"]["parameters"]
    for row in rows:  # each row's parameters: Ultralytics' tensors under model.{i}
        want = sum(
            torch.Size(s).numel() for n, s in params.items() if n.startswith(f"model.{row[0]}.")
        )
        assert row[3] == f"{want:,}"
    assert (
        rows[13][1] == "[-1, -10]" and rows[13][4] == "Concat" and rows[13][6] == "[1, 96, 80, 80]"
    )  # 64 upsampled + 32 of row 3
    u = TRUTH["yolo90n.yaml@640"]["ultralytics"]
    line = (
        f"YOLO90n summary: {u['layers']} layers, {u['parameters']:,} parameters, "
        f"{u['gradients']:,} gradients, {u['gflops']:.1f} GFLOPs"
    )
    assert line in r.stdout
    assert f"MACs: {TRUTH['yolo90n.yaml@640']['macs']:,}" in r.stdout


def test_json_has_ultralytics_summary_unrounded():
    r = run("shapes", HERE / "yolo91m-seg.yaml", "--format", "json")
    out = json.loads(r.stdout)
    assert out["ultralytics"] == TRUTH["yolo91m-seg.yaml@640"]["ultralytics"]
    assert out["total_macs"] == TRUTH["yolo91m-seg.yaml@640"]["macs"]
    r = run("shapes", HERE / "yolo90n.yaml", "--format", "json", "--imgsz", "320")
    assert json.loads(r.stdout)["ultralytics"] == TRUTH["yolo90n.yaml@320"]["ultralytics"]


@pytest.mark.parametrize(
    "command",
    [
        ["params"],
        ["explain", "--layer", "model.8.m.0.attn.scores"],
        ["memory"],
        ["check"],
        ["expand"],
        ["export"],
        ["shapes", "--depth", "2"],
    ],
)
def test_every_command_reads_it(command):
    r = run(command[0], HERE / "yolo91n-seg.yaml", *command[1:])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and r.stdout.strip()


def test_expand_writes_a_spec_that_analyses_the_same(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text(run("expand", HERE / "yolo95n-obb.yaml").stdout)
    a, b = analyze(load(str(flat))), analyze(load(str(HERE / "yolo95n-obb.yaml")))
    assert numbers_without_summary(a) == numbers_without_summary(b)


def numbers_without_summary(a):
    return sorted((t.name, t.shape) for t in a.tensors), a.trainable_params, a.total_macs, a.outputs


def test_check_accepts_a_folder_of_model_yaml(tmp_path):
    for p in HERE.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text())
    r = run("check", tmp_path)
    assert r.exit_code == 0, r.output
    assert "ok, 0 invalid" in r.stdout


BASE = """nc: 3
scales:
  n: [0.5, 0.25, 1024]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 1, C2f, [128, True]]
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 0], 1, Concat, [1]]
  - [[2, 1], 1, Detect, [nc]]
"""


@pytest.mark.parametrize(
    "old,new,where,message",
    [
        (
            "C2f, [128, True]",
            "C2F, [128, True]",
            (7, 13),
            "row 2: unknown module C2F (did you mean 'C2f'?)",
        ),
        (
            "C2f, [128, True]",
            "C2fPSA, [128, True]",
            (7, 13),
            "module C2fPSA is not read by cnncalc yet",
        ),
        (
            "C2f, [128, True]",
            "TorchVision, [128, ResNet18, DEFAULT]",
            (7, 13),
            "module TorchVision builds a torchvision model by name",
        ),
        (
            "[[-1, 0], 1, Concat",
            "[[-1, 9], 1, Concat",
            (10, 6),
            "row 4: from names row 9, but rows 0 to 3",
        ),
        ("[[2, 1], 1, Detect", "[[2, -7], 1, Detect", (11, 6), "row 5: from names row -7"),
        (
            "[64, 3, 2]]",
            "[64, 3, 2, 1, 1, 1, True, 5]]",
            (5, 19),
            "row 0 (Conv): Conv takes 2 to 8 arguments (c1, c2, k, s, p, g, d, act) as "
            "Ultralytics passes them, found 9",
        ),
        (
            "[-1, 1, Conv, [128, 3, 2]]",
            "[-1, 1, Conv]",
            (6, 5),
            "row 1 must be [from, repeats, module, args]",
        ),
        (
            "[-1, 1, C2f, [128, True]]",
            "[-1, 0, C2f, [128, True]]",
            (7, 10),
            "row 2: repeats must be a positive integer",
        ),
        ("[[-1, 0], 1, Concat, [1]]", "[[-1, 1], 1, Concat, [1]]", (10, 6), "(in row 4, Concat)"),
        (
            "[-1, 1, C2f, [128, True]]",
            "[-1, 1, C2f, [true_or_not]]",
            (7, 5),
            "row 2 (C2f): C2f's first argument (output channels) must be a number",
        ),
        (
            "[-1, 1, C2f, [128, True]]",
            "[[-1, 0], 1, C2f, [128, True]]",
            (7, 5),
            "row 2 (C2f): C2f takes one input, but from lists 2",
        ),
        (
            "[-1, 1, C2f, [128, True]]",
            "[[0, 1], 1, CBFuse, [[0]]]",
            (7, 5),
            "row 2 (CBFuse): CBFuse's input row 0 is Conv, not CBLinear",
        ),
        (
            "[-1, 1, C2f, [128, True]]",
            "[-1, 1, PSA, [256]]",
            (7, 5),
            "row 2 (PSA): PSA keeps its channels: its input has 32 and its output would have 64",
        ),
        (
            "[-1, 1, C2f, [128, True]]",
            "[0, 1, CBLinear, [64]]",
            (7, 5),
            "row 2 (CBLinear): CBLinear takes [c2s, k, s, p, g]: a list of output channels",
        ),
        (
            "backbone:",
            "backbone: 7\nfoo:",
            (4, 11),
            "'backbone' must be a non-empty list of [from, repeats, module, args] rows",
        ),
    ],
)
def test_bad_rows_are_diagnosed_at_the_row(tmp_path, old, new, where, message):
    assert old in BASE
    path = tmp_path / "yolo90n.yaml"
    path.write_text(BASE.replace(old, new, 1))
    r = run("shapes", path)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert f"{path}:{where[0]}:{where[1]}: error: " in r.stderr and message in r.stderr, r.stderr


def test_the_scale_missing_or_unknown(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(BASE)
    r = run("shapes", path)  # no scale in the name: Ultralytics assumes the first, and says so
    assert (
        r.exit_code == 0
        and "warning: no model scale given" in r.stderr
        and "assuming 'n'" in r.stderr
    )
    r = run("shapes", path, "--scale", "x")
    assert (
        r.exit_code == 1
        and f"{path}:2:1: error: scale 'x' is not one of this model's scales (n)" in r.stderr
    )
    with pytest.raises(SpecError, match="--imgsz is for Ultralytics model YAML"):
        parse("input: [1, 3]\nlayers: [{type: ReLU}]\n", imgsz=320)


def test_a_channel_mismatch_is_located_at_its_row(tmp_path):
    path = tmp_path / "yolo90n.yaml"
    path.write_text(BASE.replace("[-1, 1, C2f, [128, True]]", "[-1, 1, C2PSA, [256]]"))
    r = run("check", path)
    assert r.exit_code == 1
    assert (
        f"{path}:7:5: error: row 2 (C2PSA): C2PSA keeps its channels: its input has 32 and "
        "its output would have 64" in r.stdout
    )


def test_python_api_reads_model_yaml():
    import cnncalc

    a = cnncalc.analyze(str(HERE / "yolo90n.yaml"), imgsz=320)
    assert a.to_dict()["ultralytics"] == TRUTH["yolo90n.yaml@320"]["ultralytics"]
    assert (
        cnncalc.analyze(str(HERE / "yolo90.yaml"), scale="s").total_macs
        == TRUTH["yolo90s.yaml@640"]["macs"]
    )


def test_verify_of_a_size_that_does_not_fit_runs_torch_to_that_row(tmp_path):
    r = run("verify", HERE / "yolo90n.yaml", "--imgsz", "100")
    assert r.exit_code == 1
    assert (
        "error: layer 'model.10' (Cat): cannot concatenate" in r.stderr
        and "(in row 10, Concat)" in r.stderr
    )
    assert "torch at layer 'model.10' (Cat) agrees it is invalid" in r.stderr


@pytest.mark.parametrize("run_", sorted(r for r in TRUTH if r.endswith("@640")))
def test_sizes_are_the_ones_ultralytics_runs_at(run_):
    """`cnncalc sizes` of a model YAML: the square sizes 1..160 Ultralytics' own model runs at,
    size for size."""
    from cnncalc.analyses.sizes import sweep

    name = run_.split("@")[0]
    assert sweep(load(str(HERE / name)), ["H", "W"], 1, 160).valid == TRUTH[run_]["sizes"]


def test_a_command_s_options_do_not_outlive_it():
    """--imgsz of one command is not the next command's, nor the Python API's (in one process)."""
    import cnncalc

    assert run("shapes", HERE / "yolo90n.yaml", "--imgsz", "320").exit_code == 0
    assert (
        cnncalc.analyze(str(HERE.parent.parent / "configs" / "lenet.yaml")).total_params == 81_194
    )
    r = run("shapes", HERE.parent.parent / "configs" / "lenet.yaml")
    assert r.exit_code == 0 and "Total params: 81,194" in r.stdout

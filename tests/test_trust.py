"""The edges a new user meets: CI footguns, YAML habits, messages, exports of block specs."""

from pathlib import Path

from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_check_of_a_folder_without_specs_fails(tmp_path):
    (tmp_path / "notes.txt").write_text("no specs here")
    r = run("check", tmp_path)
    assert r.exit_code == 2 and "no specs to check" in r.output


def test_check_of_a_repository_skips_tool_folders_and_other_yaml(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "net.yaml").write_text((ROOT / "configs" / "lenet.yaml").read_text())
    for d in (".venv/lib", ".git", "node_modules/x", ".github/workflows", "venv", "build"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "bad.yaml").write_text("layers: [")
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on:\n  push:\njobs:\n  test: {runs-on: x}\n")
    (tmp_path / "docker-compose.yml").write_text("services:\n  web: {image: x}\n")
    (tmp_path / "configs" / "skipme.yaml").write_text("layers: [")
    r = run("check", tmp_path, "--exclude", "skipme.yaml")
    assert r.exit_code == 0, r.output
    assert "checked 1 spec: 1 ok, 0 invalid" in r.output
    assert run("check", tmp_path).exit_code == 1  # without --exclude the broken spec is found


def test_yaml_one_one_keys_say_what_they_became(tmp_path):
    p = tmp_path / "ci.yaml"
    p.write_text("on:\n  push:\njobs: {}\n")
    r = run("check", p)
    assert "unknown top-level key True (YAML 1.1 reads an unquoted on" in r.output


def test_merge_keys_and_shared_anchors(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(
        "x-conv: &conv {type: Conv2d, kernel_size: 3, padding: 1, bias: false}\n"
        "defaults: {act: &act {type: ReLU}}\n"
        "input: [1, 3, 8, 8]\nlayers:\n  - {<<: *conv, name: c1, out_channels: 4}\n  - *act\n"
        "  - <<: [*conv]\n    name: c2\n    out_channels: 8\n    kernel_size: 1\n    padding: 0\n"
    )
    r = run("params", p, "--format", "json")
    assert r.exit_code == 0, r.output
    assert '"total": 140' in r.output  # 4·3·3·3 + 8·4·1·1, no biases: the merged keys and the written ones


def test_tabs_are_named(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("input: [1, 2]\nlayers:\n\t- {type: ReLU}\n")
    r = run("shapes", p)
    assert r.exit_code == 1 and "a tab character" in r.output and ":3:1:" in r.output


def test_plural_counts(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("input: [1, 2]\nlayers: []\n")
    assert "(1 error, 0 warnings)" in run("check", p).output

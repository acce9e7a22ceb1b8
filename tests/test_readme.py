"""The README's examples run as written."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_python_api_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    block = re.search(r"## Python API\n\n```python\n(.*?)```", README, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "(1, 10) 81194 274656",
        "['conv1.weight', 'conv1.bias']",
        "3 33 error",
        "(2, 10) 72234",
    ]


def test_quick_start_is_what_ci_runs():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    test_line = next(
        line for line in README.splitlines() if line.endswith(".venv/bin/python -m pytest")
    )
    assert test_line in ci


def test_sizes_tables_are_what_sizes_prints(monkeypatch):
    """The README's `cnncalc sizes` examples and its named-dims example, output and all."""
    from typer.testing import CliRunner

    from cnncalc.cli import app

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    blocks = re.findall(
        r"```console\n\$ cnncalc ((?:sizes|shapes docs/)[^\n]*)\n(.*?)```", README, re.S
    )
    assert len(blocks) == 3
    for command, shown in blocks:
        r = CliRunner().invoke(app, command.split())
        assert r.exit_code == 0 and r.stdout == shown


def test_the_pictures_are_what_draw_makes(monkeypatch):
    """The README's Mermaid block and its committed SVG are cnncalc draw's output as it is now."""
    from typer.testing import CliRunner

    from cnncalc.cli import app

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    block = re.search(r"```mermaid\n(.*?)```", README, re.S).group(1)
    assert CliRunner().invoke(app, ["draw", "-f", "mermaid"]).stdout == block
    svg = CliRunner().invoke(app, ["draw", "configs/shufflenet_unit.yaml"]).stdout
    assert svg == (root / "docs" / "shufflenet_unit.svg").read_text()

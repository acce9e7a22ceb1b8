"""The house keeps its shape: the layers contract, no cycle, small modules, every import resolves,
start-up imports only what a command uses, and no option outlives its command."""

import ast
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnncalc"
MODULES = sorted(PACKAGE.rglob("*.py"))
runner = CliRunner()


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_layers_contract_holds():
    """pyproject.toml's import-linter contracts, lazy imports included."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    r = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 3 kept, 0 broken." in r.stdout


def test_no_import_cycle_among_the_modules():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("cnncalc")
    cycles = []
    for m in graph.modules:
        for other in graph.find_modules_directly_imported_by(m):
            if other != m and graph.chain_exists(importer=other, imported=m):
                ancestors = (m.startswith(other + "."), other.startswith(m + "."))
                if not any(ancestors):  # a package importing its own module is no cycle
                    cycles.append((m, other))
    assert cycles == []


def test_no_module_over_400_lines():
    long = {_name(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_every_relative_import_resolves():
    """Lazy imports inside functions too: a moved module leaves no import that fails only when
    run."""
    missing = []
    for p in MODULES:
        name = _name(p)
        pkg = name if p.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            module = importlib.import_module(target)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{target}.{alias.name}")
                    except ImportError:
                        missing.append(
                            f"{p.relative_to(ROOT)}:{node.lineno}: {target}.{alias.name}"
                        )
    assert missing == []


def test_shapes_imports_only_what_it_uses():
    """``cnncalc shapes`` of a cnncalc spec imports no Ultralytics reader, draw, sizes or
    symbolic code."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnncalc", "shapes", "configs/lenet.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "|" in line}
    ours = {m for m in imported if m.startswith("cnncalc")}
    assert "cnncalc.engine" in ours  # the measurement sees cnncalc's modules
    unwanted = (
        "cnncalc.read.ultralytics",
        "cnncalc.analyses.ultralytics",
        "cnncalc.show.draw",
        "cnncalc.show.layout",
        "cnncalc.analyses.sizes",
        "cnncalc.analyses.symbolic",
        "cnncalc.bridge",
        "torch",
    )
    assert sorted(m for m in imported if m.startswith(unwanted)) == []


YOLO = ROOT / "tests" / "ultralytics" / "yolo90.yaml"
NAMED = ROOT / "docs" / "lenet_named.yaml"


def _api_answers() -> tuple:
    return (
        cnncalc.analyze(str(YOLO)).to_dict(),
        cnncalc.analyze(ROOT / "configs" / "lenet.yaml").to_dict(),
        cnncalc.analyze(str(YOLO), scale="n", imgsz=320).to_dict()["input"],
    )


def _cli_commands() -> list:
    out = []
    for args in (
        ["shapes", str(YOLO), "--scale", "s", "--imgsz", "128", "--format", "json"],
        ["shapes", str(NAMED), "--set", "H=64", "--set", "W=48", "--format", "json"],
        ["params", str(YOLO), "--imgsz", "96", "--format", "json"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
        out.append(json.loads(r.stdout))
    return out


def test_options_end_with_their_command_both_orders():
    """No module-level state: the API answers the same before and after a CLI command ran with
    --scale/--imgsz/--set in this process, and the CLI the same before and after the API."""
    before = _api_answers()
    cli_first = _cli_commands()
    assert _api_answers() == before
    assert _cli_commands() == cli_first
    assert cli_first[0]["input"] == [1, 3, 128, 128] and before[2] == [1, 3, 320, 320]
    assert cli_first[1]["input"][2:] == [64, 48]


MUTATORS = {"update", "append", "add", "clear", "pop", "popitem", "setdefault", "extend", "insert",
            "remove", "discard"}  # fmt: skip
FILLED_AT_IMPORT = {"cnncalc.layers.base": {"REGISTRY"}}  # register(...) runs as the layers load


def test_no_module_level_state_is_changed_by_a_function():
    """A module-level dict, list or set that a function changes is state that outlives a call."""
    changed = []
    for p in MODULES:
        tree = ast.parse(p.read_text())
        containers = set()
        for node in tree.body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            value = getattr(node, "value", None)
            mutable = isinstance(value, (ast.Dict, ast.List, ast.Set)) or (
                isinstance(value, ast.Call)
                and getattr(value.func, "id", "") in ("dict", "list", "set")
            )
            if mutable:
                containers |= {t.id for t in targets if isinstance(t, ast.Name)}
        containers -= FILLED_AT_IMPORT.get(_name(p), set())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Global):
                    changed.append(f"{p.relative_to(ROOT)}:{node.lineno}: global {node.names}")
                target = None
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                    for t in getattr(node, "targets", None) or [node.target]:
                        if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                            target = t.value.id
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr in MUTATORS and isinstance(node.func.value, ast.Name):
                        target = node.func.value.id
                if target in containers:
                    changed.append(f"{p.relative_to(ROOT)}:{node.lineno}: {target}")
    assert changed == []

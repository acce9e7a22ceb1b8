"""Fuzzing the command line: hostile specs of several kinds, each run through every command
in-process.

For every case: exit status 0, 1 or 2; no traceback and no internal-error diagnostic; every
PATH:LINE:COL inside the file; one line per diagnostic (nothing forged by a name with a newline);
each command within the time bound (wall and CPU), verify too where the spec is refused.
``tests/test_fuzz.py`` runs a derandomized sample in the suite, ``benchmarks/fuzz.py`` a long
campaign.
"""

from __future__ import annotations

import functools
import random
import re
import time
import zlib
from pathlib import Path

from cnncalc.read.blocks import MAX_LAYERS

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted([*(ROOT / "configs").glob("*.yaml"), *(ROOT / "tests" / "bad").glob("*.yaml")])
ULTRALYTICS = sorted(
    (ROOT / "tests" / "ultralytics").glob("*.yaml")
)  # model YAML in Ultralytics' format
ROW_JUNK = [
    "-1",
    "99",
    "-99",
    "[-1, 99]",
    "[]",
    "[[]]",
    "1000000000",
    "0",
    "-5",
    "2.5",
    "True",
    "None",
    "'nc'",
    "nc",
    "Conv",
    "C2fAttn",
    "nn.Nope",
    "nn.Upsample",
    "Detect",
    "Classify",
    "[None]",
    "[nc]",
    "[10000000000000000000]",
    "[0]",
    "[-64]",
    "[64, 3, 2, 1, 1, 1, 1, 1, 1]",
    "[64, 0]",
    "[64, 3, 0]",
    "[64, True, 0.0]",
    "['x']",
    "[[1, 2], [3]]",
    "'(' * 3",
    "[1e300]",
    "[64, 3, 2, null, 0]",
    "[0.0001]",
    "{a: 1}",
]
TOP_JUNK = [
    "nc: 0",
    "nc: -1",
    "nc: x",
    "nc: 100000000000",
    "depth_multiple: 1e9",
    "width_multiple: 0",
    "width_multiple: 1e15",
    "reg_max: 0",
    "reg_max: x",
    "kpt_shape: [0, 3]",
    "kpt_shape: 7",
    "activation: nn.Nope()",
    "activation: 5",
    "activation: nn.LeakyReLU(x)",
    "channels: 0",
    "scales: 5",
    "scales: {n: [a, b, c]}",
    "scales: {n: [0, 0, 0]}",
    "scales: {}",
    "end2end: true",
    "head: []",
    "backbone: {}",
]
COMMANDS = [
    ["shapes"],
    ["shapes", "--format", "json"],
    ["shapes", "--format", "markdown"],
    ["shapes", "--depth", "1"],
    ["params"],
    ["params", "--format", "json"],
    ["memory"],
    ["memory", "--format", "json"],
    ["explain"],
    ["expand"],
    ["check"],
    ["sizes", "--range", "1:64"],
    ["draw"],
    ["draw", "--format", "mermaid", "--depth", "1"],
]
# option values a hostile user types: one of these runs with every case (chosen by its text)
OPTIONS = [
    *(["memory", "--fit", v] for v in ("inf", "nan", "-5GB", "", "1e400", "0", "24GiB", "1.5KiB")),
    *(["memory", "--batch", v] for v in ("0", "-1", "nan", "99999999999999999999", "")),
    *(["sizes", "--range", v] for v in ("0:5", "5:1", "", "1:inf", "1:99999999999999999999")),
    *(["shapes", "--batch", v] for v in ("3", "1e3", "")),
    *(["shapes", "--set", v] for v in ("H=0", "=3", "H=inf", "H=224")),
    ["shapes", "--depth", "0"],
    ["explain", "--layer", ""],
    ["draw", "--format", "html"],
]
DIAG = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): ")
JUNK = [
    "",
    "-1",
    "0",
    "1e308",
    "nan",
    ".inf",
    "99999999999999999999999",
    "0x" + "f" * 40,
    "[]",
    "{}",
    "null",
    "true",
    "'${2*3}'",
    "\t",
    "!!bool maybe",
    "!!int ''",
    "&a [*a]",
    "*nope",
    '"\\u0000"',
    "'a\\nb'",
    "${",
    "[1, [2, [3]]]",
    "é",
    "\x1b[31m",
]
TYPES = [
    "Conv2d",
    "Linear",
    "MaxPool2d",
    "Flatten",
    "Add",
    "Cat",
    "Split",
    "Chunk",
    "View",
    "Permute",
    "Mean",
    "MatMul",
    "Parameter",
    "BatchNorm2d",
    "Upsample",
    "Unbind",
    "Slice",
    "Expand",
    "LSTM",
    "Embedding",
    "Einsum",
    "MultiheadAttention",
    "ScaledDotProductAttention",
    "Unfold",
    "Fold",
    "MaxUnpool2d",
    "Constant",
    "Input",
    "Buffer",
    "Index",
    "TopK",
    "Gather",
    "GridSample",
    "Roll",
    "RMSNorm",
    "GroupNorm",
    "StdConv2d",
    "TensorUnfold",
    "Maximum",
    "B",
]


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if not text:
            text = rng.choice(JUNK)
            continue
        i = rng.randrange(len(text))
        j = min(len(text), i + rng.randint(1, 40))
        if op == 0:
            text = text[:i] + text[j:]
        elif op == 1:
            text = text[:i] + rng.choice(JUNK) + text[j:]
        elif op == 2:
            nums = list(re.finditer(r"\d+", text))
            if nums:
                m = rng.choice(nums)
                text = (
                    text[: m.start()]
                    + rng.choice(["0", "-3", "100000", "1" + "0" * rng.randint(5, 30), "2.5"])
                    + text[m.end() :]
                )
        elif op == 3:
            lines = text.split("\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[rng.randrange(len(lines))])
            text = "\n".join(lines)
        elif op == 4:
            text = text[:i]
        elif op == 5:
            text = text[:i] + rng.choice(TYPES) + text[j:]
        elif op == 6:
            text = (
                text[:i]
                + "\n"
                + " " * rng.randint(0, 8)
                + rng.choice(["- ", "x: ", "from: ", "name: ", "when: "])
                + text[i:]
            )
        else:
            text = text[:i] + chr(rng.randint(0, 0x2FFF)) + text[i:]
    return text


def random_text(rng: random.Random) -> str:
    alphabet = "abc:-[]{},'\"&*!|>#%@`\t\n 0123456789.${}"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))


def hostile_shapes(rng: random.Random) -> str:
    dims = rng.choice([0, 1, 2, 3, 4, 5, 70, 1000])
    sizes = [
        str(rng.choice([1, 2, 3, 7, 10**6, 10**12, 10**20, 0, -1, "H", "N", "W", "x1"]))
        for _ in range(dims)
    ]
    layer = rng.choice(TYPES[:-1])
    arg = rng.choice(
        [
            "kernel_size",
            "stride",
            "padding",
            "out_channels",
            "out_features",
            "dim",
            "shape",
            "scale_factor",
            "chunks",
            "split_size_or_sections",
            "dims",
            "start",
        ]
    )
    val = rng.choice(
        ["1", "3", "-1", "10000000000", "[1, 2]", "[-1, -1]", "1e300", "0", "[]", str([1] * 70)]
    )
    return (
        f"input: [{', '.join(sizes)}]\nlayers:\n  - {{name: a, type: {layer}, {arg}: {val}}}\n "
        " - {type: ReLU}\n"
    )


def hostile_blocks(rng: random.Random) -> str:
    depth = rng.choice([1, 5, 60, 200])
    repeat = rng.choice(
        [
            "2",
            "1000000000",
            "1e100",
            "'${10**9}'",
            "'${999999999 * 999999999}'",
            "0",
            "-1",
            "'${n}'",
        ]
    )
    when = rng.choice(
        ["true", "false", "'${index > 0}'", "'${2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2*2}'"]
    )
    name = rng.choice(
        [
            "c",
            "x" * rng.choice([10, 5000]),
            "ok\\nfake.yaml:1:1: error: injected",
            "a.b",
            "input",
            ":",
        ]
    )
    blocks = [
        f'  B0:\n    args: {{n: 2}}\n    layers:\n      - {{name: "{name}", type: Conv2d, '
        f"out_channels: 2, kernel_size: 1, when: {when}}}"
    ]
    for k in range(1, depth):
        blocks.append(
            f"  B{k}:\n    args: {{n: 2}}\n    layers:\n      - {{name: s, type: B{k - 1}, "
            f"repeat: {repeat if k == 1 else 2}}}"
        )
    top = (
        f"layers:\n  - {{name: net, type: B{depth - 1}, repeat: {repeat}}}\n  - {{type: ReLU, "
        f"from: {rng.choice(['net', 'missing', 'true'])}}}\n"
    )
    return "input: [1, 2, 4, 4]\nblocks:\n" + "\n".join(blocks) + "\n" + top


def hostile_ultralytics(rng: random.Random) -> str:
    """An Ultralytics model YAML with one row element or top-level value replaced by junk."""
    lines = rng.choice(ULTRALYTICS).read_text().split("\n")
    for _ in range(rng.randint(1, 3)):
        rows = [i for i, line in enumerate(lines) if line.lstrip().startswith("- [")]
        if rng.random() < 0.7 and rows:
            i = rng.choice(rows)
            m = re.match(
                r"^(\s*- \[)(\[[^\]]*\]|[^,]+), ([^,]+), ([^,]+), (\[.*\])\](.*)$", lines[i]
            )
            if m:
                parts = list(m.groups()[1:5])
                parts[rng.randrange(4)] = rng.choice(ROW_JUNK)
                lines[i] = f"{m.group(1)}{', '.join(parts)}]{m.group(6)}"
        else:
            lines.insert(rng.randrange(len(lines)), rng.choice(TOP_JUNK))
    return "\n".join(lines)


def heavy_expressions(rng: random.Random) -> str:
    """A block at the limits at once: layers holding many long expressions, used many times."""
    term = rng.choice(["0", "k", "index", "(k if index else 1)"])
    expr = " + ".join([term] * (480 // (len(term) + 3)))
    per_name = rng.choice([1, 10, 100])
    name = "l" + "".join("${" + expr + "}" for _ in range(per_name))[: rng.choice([240, 60000])]
    uses = rng.choice([10, 500, 1000, 5000, 10000])
    repeat = rng.choice([1, 10])
    lines = [
        "input: [1, 4, 8, 8]\nblocks:\n  B:\n    args: {k: 1}\n    layers:",
        f'      - {{name: "{name}", type: ReLU, when: "${{{expr} >= 0}}"}}',
        "layers:",
    ]
    lines += [f"  - {{name: u{i}, type: B, k: {i % 7}, repeat: {repeat}}}" for i in range(uses)]
    return "\n".join(lines) + "\n"


def many_inputs(rng: random.Random) -> str:
    """A merge of thousands of inputs behind a layer with parameters, or thousands that warn."""
    n = rng.choice([100, 5000, 20000])
    if rng.random() < 0.5:
        merge = rng.choice(["Add", "Mul", "Cat", "Stack"])
        refs = ", ".join(rng.choice(["fc", "input"]) for _ in range(n))
        return (
            "input: [1, 4]\nlayers:\n  - {name: fc, type: Linear, out_features: 4}\n"
            f"  - {{name: m, type: {merge}, from: [{refs}]}}\n"
        )
    return "input: [1, 4]\nlayers:\n" + "  - {type: BatchNorm1d}\n" * min(n, MAX_LAYERS)


def at_the_limit(rng: random.Random) -> str:
    """Nets of exactly the layer limit (or one past it): chains, residual pairs, blocks
    repeated, each a kind with its own per-layer work."""
    n = MAX_LAYERS + rng.choice([0, 0, 0, 1])
    shape = rng.choice(["[1, 4, 8, 8]", "[2, 4, 8, 8]", "[1, 4, 1, 1]"])
    kind = rng.randrange(4)
    if kind == 0:
        layer = rng.choice(
            [
                "{type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}",
                "{type: BatchNorm2d}",
                "{type: ReLU}",
                "{type: MaxPool2d, kernel_size: 1}",
            ]
        )
        return f"input: {shape}\nlayers:\n" + f"  - {layer}\n" * n
    if kind == 1:
        lines = [
            f"input: {shape}",
            "layers:",
            "  - {name: c0, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}",
        ]
        merge = rng.choice(["Add", "Mul", "Cat"])
        for i in range(1, (n + 1) // 2):
            lines.append(f"  - {{name: c{i}, type: Conv2d, out_channels: 4, kernel_size: 1}}")
            lines.append(f"  - {{name: a{i}, type: {merge}, from: [c{i}, c{i - 1}]}}")
        return "\n".join(lines) + "\n"
    if kind == 2:
        return (
            f"input: {shape}\nblocks:\n  R:\n    layers:\n"
            "      - {name: c1, type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}\n"
            "      - {name: b1, type: BatchNorm2d}\n"
            "      - {name: r, type: ReLU}\n"
            "      - {name: add, type: Add, from: [r, input]}\n"
            f"layers:\n  - {{name: s, type: R, repeat: {n // 4}}}\n"
        )
    return "input: [2, 8]\nlayers:\n" + "  - {type: Linear, out_features: 8}\n" * n


VALUES = ["1", "2", "3", "-1", "0", "10000000000", "[1, 2]", "[]", "1e300", "true", "null", "x"]


def recent_kinds(rng: random.Random) -> str:
    """The kinds the vision zoo's import brought (weight standardisation, a functional conv of a
    buffer, RMSNorm, a weight-only GroupNorm, x.unfold, bounds, antialiasing, SDPA's kernel) in a
    small graph (the first k of its layers), each argument sound or, one time in twenty, hostile
    or odd."""

    def v(good: str) -> str:
        return good if rng.random() < 0.95 else rng.choice(VALUES)

    kind = rng.choice(["Maximum", "Minimum"])
    layers = [
        f"{{name: s, type: StdConv2d, out_channels: 4, kernel_size: 3, padding: {v('1')}, "
        f"gain: {v('true')}}}",
        f"{{name: r, type: RMSNorm, normalized_shape: {v(rng.choice(['[8]', '[8, 8]']))}}}",
        f"{{name: g, type: GroupNorm, num_groups: {v('2')}, bias: {v('false')}}}",
        f"{{name: w, type: Buffer, shape: {v('[4, 1, 3, 3]')}}}",
        f"{{name: f, type: FunctionalConv2d, from: [g, w], groups: {v('4')}, padding: {v('1')}}}",
        f"{{name: m, type: {kind}, from: [f, {rng.choice(['g', 's', 'w', 'r'])}]}}",
        f"{{name: u, type: TensorUnfold, dimension: {v('2')}, size: {v('4')}, step: {v('2')}}}",
        f"{{name: up, type: Upsample, from: m, scale_factor: {v('0.5')}, mode: bilinear, "
        f"antialias: {v('true')}}}",
        f"{{name: q, type: Reshape, from: m, shape: {v('[1, 4, 64]')}}}",
        f"{{name: a, type: ScaledDotProductAttention, from: [q, q, q], "
        f"kernel: {v(rng.choice(['math', 'flash']))}}}",
        f"{{name: o, type: Roll, shifts: {v('[1, 2]')}, dims: {v('[1, 2]')}}}",
    ]
    keep = layers[: rng.randint(1, len(layers))]
    return "input: [1, 4, 8, 8]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in keep)


def case(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind == 9:
        return recent_kinds(rng)
    if kind == 8:
        return at_the_limit(rng)
    if kind == 6:
        return heavy_expressions(rng)
    if kind == 7:
        return many_inputs(rng)
    if kind == 4:
        return hostile_ultralytics(rng)
    if kind == 5:
        return mutate(rng, rng.choice(ULTRALYTICS).read_text())
    if kind == 0:
        return mutate(rng, rng.choice(SEEDS).read_bytes().decode("utf-8", "replace"))
    if kind == 1:
        return random_text(rng)
    if kind == 2:
        return hostile_shapes(rng)
    return hostile_blocks(rng)


def check_output(text: str, output: str, path: str) -> list[str]:
    """The contract's violations in one command's output."""
    problems = []
    if "Traceback" in output or "internal error" in output:
        problems.append("traceback or internal error: " + output.strip().splitlines()[-1][:200])
    lines = text.split("\n")
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()
    for line in output.splitlines():
        if line.startswith(path):
            m = DIAG.match(line)
            if not m:
                problems.append(
                    f"a line that starts with the path but is no diagnostic: {line[:120]!r}"
                )
                continue
            ln, col = int(m["line"]), int(m["col"])
            if not (1 <= ln <= max(len(lines), 1)) or not (
                1 <= col <= len(lines[ln - 1]) + 1 if lines else col == 1
            ):
                problems.append(
                    f"position {ln}:{col} outside the file ({len(lines)} lines): {line[:120]!r}"
                )
        elif re.match(r"^\S+\.yaml:\d+:\d+: error: injected", line):
            problems.append(f"a forged diagnostic line: {line[:120]!r}")
    return problems


@functools.cache
def startup() -> float:
    """The CPU time of a command's start-up (the interpreter and cnncalc's imports), which an
    in-process run does not pay: added to each command's own."""
    import resource
    import subprocess
    import sys

    best = None
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import cnncalc.cli"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best = cpu if best is None else min(best, cpu)
    return best


def run_case(text: str, path: Path, time_limit: float = 2.0) -> list[str]:
    """Every command on ``text``, as ``cnncalc`` runs it (the collector off, as ``main`` has it);
    each command's CPU time with the start-up's added is held to ``time_limit``."""
    import gc

    from typer.testing import CliRunner

    from cnncalc.cli import app

    path.write_bytes(text.encode("utf-8", "replace"))
    runner = CliRunner()
    problems = []
    option = OPTIONS[zlib.crc32(text.encode("utf-8", "replace")) % len(OPTIONS)]
    commands = [*COMMANDS, option]
    refused = False
    while commands:
        cmd = commands.pop(0)
        if cmd == ["verify"]:
            import torch  # noqa: F401  (imported once per process, as a command's start-up)
        t0, c0 = time.perf_counter(), time.process_time()
        gc.disable()
        try:
            r = runner.invoke(app, [cmd[0], str(path), *cmd[1:]])
        finally:
            gc.enable()
        took, cpu = time.perf_counter() - t0, time.process_time() - c0 + startup()
        if cmd == ["shapes"] and r.exit_code == 1 and not refused:
            refused = True
            commands.append(["verify"])  # verify's refusal path: torch run up to the failing layer
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            problems.append(
                f"{' '.join(cmd)}: {type(r.exception).__name__}: {str(r.exception)[:200]}"
            )
        if r.exit_code not in (0, 1, 2):
            problems.append(f"{' '.join(cmd)}: exit {r.exit_code}")
        if cpu > time_limit or took > 5 * time_limit:  # CPU bounds it; wall time, a hang
            problems.append(f"{' '.join(cmd)}: {took:.1f} s, {cpu:.1f} s of CPU")
        problems += [
            f"{' '.join(cmd)}: {p}"
            for p in check_output(path.read_text("utf-8", "replace"), r.output, str(path))
        ]
    gc.collect()  # what the commands left (their cycles), outside their time
    return problems


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False

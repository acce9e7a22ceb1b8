"""Blocks: reusable groups of layers with arguments, expanded into the flat layer list.

A block use ``{name: layer2, type: Bottleneck, planes: 128, repeat: 4, first: {stride: 2}}``
becomes ``layer2.0.conv1`` ... ``layer2.3.add``; inside a block ``input`` is the block's input,
names
are relative, ``${EXPR}`` is evaluated over the block's args and ``index``, and a layer whose
``when`` is false is left out (a reference to it means its own input).
"""

from __future__ import annotations

from ..diagnostics import Pos, SpecError, cut, did_you_mean
from ..layers import REGISTRY
from .expr import ExprError, substitute
from .yamlpos import Map, Seq

# after expansion: half again a 1,001-layer ResNet (3,300 layers) and thrice the largest
# torchvision CNN; at it every command of every spec ends in well under 2 s of CPU
# (benchmarks/limits.py measures them)
MAX_LAYERS = 5_000
MAX_NESTING = 50  # blocks using blocks
MAX_STEPS = 500_000  # expression nodes evaluated in all: about half a second
USE_KEYS = ("name", "type", "from", "repeat", "first", "when", "else")


class Block:
    def __init__(self, name: str, args: Map, layers: Seq, pos: Pos):
        self.name, self.args, self.layers, self.pos = name, args, layers, pos


def read_blocks(raw) -> dict[str, Block]:
    if raw is None:
        return {}
    if not isinstance(raw, Map):
        raise SpecError(
            "blocks must be a mapping of block names to {args, layers}", getattr(raw, "pos", None)
        )
    blocks = {}
    for name, body in raw.items():
        pos = raw.kpos[name]
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"block name must be an identifier, found {name!r}", pos)
        if name in REGISTRY:
            raise SpecError(
                f"block '{name}' has the name of a torch layer type; choose another", pos
            )
        if not isinstance(body, Map):
            raise SpecError(
                f"block '{name}' must be a mapping with 'layers' (and 'args')", raw.at(name)
            )
        for key in body:
            if key not in ("args", "layers"):
                raise SpecError(
                    f"block '{name}': unknown key "
                    f"'{key}'{did_you_mean(str(key), ['args', 'layers'])}",
                    body.kpos[key],
                )
        args = body.get("args")
        if args is None:
            args = Map()
            args.pos, args.vpos, args.kpos = body.pos, {}, {}
        if not isinstance(args, Map) or not all(
            isinstance(k, str) and k.isidentifier() and k != "index" for k in args
        ):
            raise SpecError(
                f"block '{name}': args must map identifiers (not 'index') to defaults "
                "(null: required)",
                body.at("args"),
            )
        layers = body.get("layers")
        if not isinstance(layers, Seq) or not layers:
            raise SpecError(
                f"block '{name}': layers must be a non-empty list", body.at("layers", body.pos)
            )
        blocks[name] = Block(name, args, layers, pos)
    return blocks


def expand(layers: Seq, blocks: dict[str, Block]) -> list[tuple[Map, Pos]]:
    """The flat list of layer mappings (with their positions) that the spec's layers stand for."""
    out: list[tuple[Map, Pos]] = []
    _Expander(blocks, out).scope(layers, prefix="", env={}, block_input="input", stack=())
    return out


class _Expander:
    def __init__(self, blocks, out):
        self.blocks, self.out = blocks, out
        self.visited = 0  # layers looked at, those `when` leaves out included: bounds the work
        self.steps = 0  # expression nodes evaluated, over every use of every block: bounded too
        self.origin = (
            None  # (block type, use name, use line) of the top-level block use being expanded
        )

    def scope(self, items: Seq, prefix: str, env: dict, block_input: str, stack: tuple) -> str:
        """Expand one list of layers; returns the absolute name of its output."""
        names: dict[str, str] = {"input": block_input}
        prev = block_input
        for j, (item, pos) in enumerate(zip(items, items.ipos)):
            self.visited += 1
            if self.visited > 4 * MAX_LAYERS:
                raise SpecError(
                    f"the blocks expand to more than {4 * MAX_LAYERS:,} layers, counting "
                    "those that when leaves out",
                    pos,
                )
            if not isinstance(item, Map):
                raise SpecError(
                    f"layer {j} must be a mapping with a 'type', found {type(item).__name__}", pos
                )
            try:
                item = _subst(item, env, pos, self.charge)
            except SpecError as e:
                raise SpecError(
                    f"layer '{cut(prefix + str(item.get('name', j)), 120)}': {e.message}", e.pos
                ) from None
            rel = item.get("name", str(j))
            rel = str(rel) if isinstance(rel, (int, str)) and not isinstance(rel, bool) else rel
            if not isinstance(rel, str):
                raise SpecError(f"layer {j}: name must be text, found {rel!r}", item.at("name"))
            full = f"{prefix}{rel}"
            inputs = self.inputs(item, names, prev, prefix)
            if "when" in item:
                cond = item["when"]
                if not isinstance(cond, (bool, int)):
                    raise SpecError(
                        f"layer '{full}': when must be true or false, found {cond!r}",
                        item.at("when"),
                    )
                if (
                    not cond
                ):  # left out: a reference to it, or the layer after it, means its own input
                    names[rel] = prev = self.stand_in(item, inputs, names, prev, prefix, full)
                    continue
            type_ = item.get("type")
            if isinstance(type_, str) and type_ in self.blocks:
                out_name = self.use(item, full, inputs or [prev], stack)
            else:
                flat = _copy(item, drop=("when", "else"))
                flat["name"] = full
                flat.origin = self.origin
                if inputs is not None and inputs != [self.last]:
                    flat["from"] = inputs[0] if len(inputs) == 1 else _seq(inputs, item)
                else:
                    flat.pop("from", None)
                self.emit(flat, pos)
                out_name = full
            names[rel] = out_name
            prev = out_name
        return prev

    def charge(self, steps: int) -> None:
        """Count an expression's evaluation steps; refuse a spec whose blocks take too many."""
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise ExprError(
                f"the blocks' expressions take more than {MAX_STEPS:,} evaluation steps in all "
                "(expressions times their uses); a spec's blocks evaluate fewer"
            )

    def stand_in(self, item: Map, inputs, names: dict, prev: str, prefix: str, full: str) -> str:
        """What a layer left out by `when` stands for: its input; with several inputs, the one
        `else` names."""
        if "else" in item:
            other = item["else"]
            if (
                not isinstance(other, str)
                or not inputs
                or names.get(other, f"{prefix}{other}" if prefix else other) not in inputs
            ):
                raise SpecError(
                    f"layer '{full}': else must name one of its inputs "
                    f"({', '.join(map(str, item.get('from') or []))}), found {other!r}",
                    item.at("else"),
                )
            return names.get(other, f"{prefix}{other}" if prefix else other)
        written = item.get("from")
        for w in [written] if isinstance(written, str) else (written or []):
            b = w.rsplit(":", 1)[0] if ":" in w else w
            if b not in names and not any(b.startswith(f"{n}.") for n in names):
                raise SpecError(
                    f"layer '{full}' ({item.get('type')}): left out by when, it stands for "
                    f"its input '{w}', but no layer above has that name",
                    item.at("from"),
                )
        if inputs and len(inputs) > 1:
            srcs = item.get("from")
            raise SpecError(
                f"layer '{full}' ({item.get('type')}): left out by when, it has several "
                f"inputs ({', '.join(map(str, srcs))}), "
                f"so which one stands for it is ambiguous; say it with else: {srcs[0]}",
                item.at("when"),
            )
        return inputs[0] if inputs else prev

    @property
    def last(self) -> str:
        return self.out[-1][0]["name"] if self.out else "input"

    def inputs(self, item: Map, names: dict, prev: str, prefix: str) -> list[str] | None:
        src = item.get("from")
        if src is None:
            return [prev]
        srcs = [src] if isinstance(src, str) else src
        if not isinstance(srcs, list) or not srcs or not all(isinstance(s, str) for s in srcs):
            name = item.get("name", "?")
            raise SpecError(
                f"layer '{prefix}{name}': from must be a layer name or a list of names, "
                f"found {cut(repr(src))}",
                item.at("from"),
            )
        return [names.get(s, s if not prefix else f"{prefix}{s}") for s in srcs]

    def use(self, item: Map, full: str, inputs: list[str], stack: tuple) -> str:
        block = self.blocks[item["type"]]
        label = f"layer '{full}' ({block.name})"
        if len(stack) >= MAX_NESTING:
            raise SpecError(f"{label}: blocks nested more than {MAX_NESTING} deep", item.at("type"))
        if block.name in stack:
            cycle = " -> ".join([*stack[stack.index(block.name) :], block.name])
            raise SpecError(f"{label}: blocks use each other in a cycle: {cycle}", item.at("type"))
        if len(inputs) != 1:
            raise SpecError(
                f"{label}: a block takes one input, but from lists {len(inputs)}", item.at("from")
            )
        args = self.args(block, item, label, item.pos)
        repeat = item.get("repeat")
        if repeat is not None and (
            not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1
        ):
            raise SpecError(
                f"{label}: repeat must be an integer of at least 1, found {cut(repr(repeat))}",
                item.at("repeat"),
            )
        if repeat is not None and repeat > MAX_LAYERS:
            raise SpecError(
                f"{label}: repeat is {repeat:,}, more than the {MAX_LAYERS:,} layers a "
                "spec may expand to",
                item.at("repeat"),
            )
        first = item.get("first")
        if first is not None and not isinstance(first, Map):
            raise SpecError(f"{label}: first must be a mapping of block args", item.at("first"))
        x = inputs[0]
        outermost = self.origin is None
        if outermost:
            self.origin = (block.name, full, item.pos[0])
        for i in range(repeat or 1):
            scope_env = dict(args)
            if i == 0 and first:
                scope_env.update(self.args(block, first, label, first.pos, overrides=True))
            scope_env["index"] = i
            prefix = f"{full}.{i}." if repeat is not None else f"{full}."
            x = self.scope(block.layers, prefix, scope_env, x, (*stack, block.name))
        if outermost:
            self.origin = None
        return x

    def args(self, block: Block, given: Map, label: str, pos: Pos, overrides: bool = False) -> dict:
        values = {} if overrides else {k: v for k, v in block.args.items()}
        for key, value in given.items():
            if not overrides and key in USE_KEYS:
                continue
            if key not in block.args:
                known = ", ".join(block.args) or "none"
                raise SpecError(
                    f"{label}: unknown block argument "
                    f"'{key}'{did_you_mean(str(key), list(block.args))}; {block.name} "
                    f"takes: {known}",
                    given.kpos[key],
                )
            values[key] = value
        if not overrides:
            missing = [k for k, v in values.items() if v is None]
            if missing:
                raise SpecError(f"{label}: missing required block argument '{missing[0]}'", pos)
        return values

    def emit(self, flat: Map, pos: Pos) -> None:
        if len(self.out) >= MAX_LAYERS:
            raise SpecError(f"the blocks expand to more than {MAX_LAYERS:,} layers", pos)
        self.out.append((flat, pos))


def _subst(value, env: dict, pos: Pos, charge=None):
    """``${...}`` substituted through a layer's values, keeping positions."""
    if isinstance(value, Map):
        out = Map()
        out.pos, out.vpos, out.kpos = value.pos, value.vpos, value.kpos
        for k, v in value.items():
            out[k] = _subst(v, env, value.at(k), charge)
        return out
    if isinstance(value, Seq):
        out = Seq(_subst(v, env, p, charge) for v, p in zip(value, value.ipos))
        out.pos, out.ipos = value.pos, value.ipos
        return out
    if isinstance(value, str) and "${" in value:
        try:
            return substitute(value, env, charge)
        except ExprError as e:
            raise SpecError(f"bad expression in {cut(repr(value))}: {e}", pos) from None
    return value


def _copy(item: Map, drop=()) -> Map:
    out = Map((k, v) for k, v in item.items() if k not in drop)
    out.pos, out.vpos, out.kpos = item.pos, dict(item.vpos), dict(item.kpos)
    return out


def _seq(values: list, item: Map) -> Seq:
    out = Seq(values)
    out.pos = item.at("from")
    out.ipos = [out.pos] * len(values)
    return out

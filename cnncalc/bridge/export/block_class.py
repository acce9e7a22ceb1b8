"""Export of a spec that uses blocks: each block becomes an nn.Module subclass.

A block class takes its input's channel count and the block's args; its ``__init__`` computes
the channel count after each layer (what the spec infers) and builds the modules that ``when``
keeps; its ``forward`` follows ``from``, a left-out layer standing for its (first) input. Where a
block holds something this cannot express (a computed name, a size other than channels inferred,
a layer that changes what "channels" means), :class:`Unsupported` sends the caller to the flat
export. Text only: torch is not imported here.
"""

from __future__ import annotations

import keyword
import re

from ...layers import REGISTRY
from ...read.expr import _CONST, evaluate, tokenize
from ...read.yamlpos import Map

SAME_CHANNELS = (
    "BatchNorm",
    "InstanceNorm",
    "GroupNorm",
    "LayerNorm",
    "LocalResponseNorm",
    "Dropout",
    "MaxPool",
    "AvgPool",
    "AdaptiveAvgPool",
    "AdaptiveMaxPool",
    "ZeroPad",
    "ConstantPad",
    "ReflectionPad",
    "ReplicationPad",
    "Upsample",
)
CHANNEL_KEYS = {"in_channels", "num_features", "num_channels"}
RESERVED_ARGS = {"self", "in_channels", "index", "x", "nn", "torch"}
_FULL = re.compile(r"^\$\{(.*)\}$", re.S)


class Unsupported(Exception):
    pass


def py_expr(text: str) -> str:
    """Our expression grammar is a subset of Python's: re-spell the constants."""
    out = []
    for kind, value in tokenize(text)[:-1]:
        if kind == "name" and value in _CONST:
            out.append(repr(_CONST[value]))
        else:
            out.append(str(value))
    return " ".join(out).replace("( ", "(").replace(" )", ")").replace(" ,", ",")


def value_source(v) -> tuple[str, str | None]:
    """(Python source, our expression or None when constant) of a written value."""
    if isinstance(v, str):
        m = _FULL.match(v)
        if m and "${" not in m.group(1):
            return py_expr(m.group(1)), m.group(1)
        if "${" in v:
            raise Unsupported(f"a value with text around ${{...}}: {v!r}")
        return repr(v), None
    if isinstance(v, list):
        items = [value_source(x) for x in v]
        if any(e is not None for _, e in items):
            raise Unsupported("a list with expressions")
        return "(" + ", ".join(s for s, _ in items) + ("," if len(items) == 1 else "") + ")", None
    return repr(v), None


def ident(name: str) -> str:
    v = re.sub(r"\W", "_", name)
    if not v or v[0].isdigit() or keyword.iskeyword(v) or v in ("self", "x", "nn", "torch"):
        v = "l_" + v
    return v


class BlockClass:
    """One block's class source, and its channel rule evaluated for concrete args."""

    def __init__(self, name: str, block, blocks: dict):
        self.name, self.block, self.blocks = name, block, blocks
        self.chains = False  # a nested block use with repeat: the class needs _chain
        if name in ("nn", "torch") or any(
            a in RESERVED_ARGS or keyword.iskeyword(a) for a in block.args
        ):
            raise Unsupported(f"block {name}: a name the class cannot use")
        self.steps = []  # (rel, type, item) in order
        for j, item in enumerate(block.layers):
            if not isinstance(item, Map):
                raise Unsupported("a layer that is not a mapping")
            rel = item.get("name", str(j))
            if not isinstance(rel, (str, int)) or "${" in str(rel):
                raise Unsupported(f"block {name}: a computed layer name")
            type_ = item.get("type")
            if type_ not in REGISTRY and type_ not in blocks:
                raise Unsupported(f"unknown type {type_!r}")
            if type_ in REGISTRY and not _channel_rule(type_):
                raise Unsupported(f"block {name}: {type_} changes what the channel dim is")
            for key in REGISTRY[type_].size_keys if type_ in REGISTRY else ():
                if key not in item and key not in CHANNEL_KEYS:
                    raise Unsupported(f"block {name}: {type_}'s {key} would be inferred")
            if type_ == "Cat" and item.get("dim", 1) != 1:
                raise Unsupported("a Cat along another dim than channels")
            if str(rel) == "input" or str(rel).split(".")[0] in ("out_channels", "_when"):
                raise Unsupported(f"block {name}: a layer named {rel!r}")
            self.steps.append((str(rel), type_, item))
        if len({ident(rel) for rel, _, _ in self.steps}) != len(self.steps):
            raise Unsupported(f"block {name}: two layer names read as one variable")

    def _sources(self, item, names, prev) -> list[str]:
        src = item.get("from")
        srcs = [prev] if src is None else ([src] if isinstance(src, str) else list(src))
        if any("${" in s for s in srcs):
            raise Unsupported("a computed `from`")
        return [names.get(s, s) for s in srcs]

    def out_channels(self, env: dict) -> int:
        """The channel count out of this block for concrete args and ``in_channels``."""
        channels = {"input": env["in_channels"]}
        names, prev = {"input": "input"}, "input"
        for rel, type_, item in self.steps:
            srcs = self._sources(item, names, prev)
            if "when" in item and not _value(item["when"], env):
                names[rel] = prev = _stand_in(item, names, srcs)
                continue
            if type_ in self.blocks:
                inner_block = self.blocks[type_]
                inner = {k: _value(v, env) for k, v in _use_args(inner_block, item).items()}
                first = {k: _value(v, env) for k, v in (item.get("first") or {}).items()}
                c = channels[srcs[0]]
                for i in range(_value(item["repeat"], env) if "repeat" in item else 1):
                    these = {**inner_block.args, **inner, **(first if i == 0 else {})}
                    c = BlockClass(type_, inner_block, self.blocks).out_channels(
                        {**these, "in_channels": c, "index": i}
                    )
            elif type_.startswith(("Conv", "ConvTranspose")):
                c = _value(item["out_channels"], env)
            elif type_ == "Cat":
                c = sum(channels[s] for s in srcs)
            else:
                c = channels[srcs[0]]
            channels[rel] = c
            names[rel] = prev = rel
        return channels[prev]

    def source(self) -> str:
        args = list(self.block.args)
        sig = ", ".join(
            ["self", "in_channels"]
            + [
                a if self.block.args[a] is None else f"{a}={value_source(self.block.args[a])[0]}"
                for a in args
            ]
            + ["index=0"]
        )
        init = ["        super().__init__()"]
        made: set[str] = set()
        flags = {}
        chan = {"input": "in_channels"}
        names, prev = {"input": "input"}, "input"
        fwd_var = {"input": "x"}
        body = []
        for rel, type_, item in self.steps:
            srcs = self._sources(item, names, prev)
            var = ident(rel)
            cvar = "c_" + var
            guarded = "when" in item
            cond = value_source(item["when"])[0] if guarded else None
            if type_ in self.blocks:
                inner_args = _use_args(self.blocks[type_], item)
                first = item.get("first") or {}
                if not isinstance(first, dict):
                    raise Unsupported("a first that is not a mapping")
                if "repeat" in item:
                    self.chains = True
                    rep = value_source(item["repeat"])[0]
                    make = (
                        f"nn.Sequential(*_chain({type_}, {_bare(chan[srcs[0]])}, "
                        f"{_dict(inner_args)}, {_dict(first)}, {rep}))"
                    )
                    out_c = f"{_access(rel)}[-1].out_channels"
                else:
                    these = {**inner_args, **first}
                    call = ", ".join(
                        [_bare(chan[srcs[0]])]
                        + [f"{k}={value_source(v)[0]}" for k, v in these.items()]
                    )
                    make, out_c = f"{type_}({call})", f"{_access(rel)}.out_channels"
            elif type_ in ("Add", "Mul", "Cat"):
                make, out_c = (
                    None,
                    (" + ".join(chan[s] for s in srcs) if type_ == "Cat" else chan[srcs[0]]),
                )
            else:
                kind = REGISTRY[type_]
                kw = []
                for key in kind.args:
                    if key in item:
                        kw.append(f"{key}={value_source(item[key])[0]}")
                    elif key in kind.size_keys:
                        kw.append(f"{key}={_bare(chan[srcs[0]])}")
                make = f"nn.{type_}({', '.join(kw)})"
                out_c = (
                    value_source(item["out_channels"])[0]
                    if type_.startswith(("Conv", "ConvTranspose"))
                    else chan[srcs[0]]
                )
            if make:
                init += _containers(
                    rel, made
                )  # registered where their first child is: torch's order
            if guarded:
                # the channels differ with the condition: a variable, kept only if something reads
                # it
                flags[rel] = cond
                alt = _stand_in(item, names, srcs)
                init.append(
                    {
                        "cond": cond,
                        "make": _assign(rel, make) if make else None,
                        "var": cvar,
                        "yes": out_c,
                        "no": chan[alt],
                    }
                )
                chan[rel] = cvar
            else:
                if make:
                    init.append(f"        {_assign(rel, make)}")
                chan[rel] = _paren(out_c)
            args_v = [fwd_var[s] for s in srcs]
            expr = call_expr(type_, rel, args_v, 1)
            if guarded:
                expr = f"{expr} if self._when[{rel!r}] else {fwd_var[_stand_in(item, names, srcs)]}"
            body.append(f"        {var} = {expr}")
            fwd_var[rel] = var
            names[rel] = prev = rel
        if flags:
            init.append(
                "        self._when = {"
                + ", ".join(f"{k!r}: bool({v})" for k, v in flags.items())
                + "}"
            )
        init.append(f"        self.out_channels = {_bare(chan[prev])}")
        init = _render(init)
        body.append(f"        return {fwd_var[prev]}")
        doc = f'    """Block {self.name} of the spec."""'
        return "\n".join(
            [
                f"class {self.name}(nn.Module):",
                doc,
                "",
                f"    def __init__({sig}):",
                *init,
                "",
                "    def forward(self, x):",
                *body,
            ]
        )


CHAIN = '''def _chain(block, in_channels, args, first, repeat):
    """The instances of a repeated block, each taking the channels the one before it gives."""
    out = []
    for i in range(repeat):
        out.append(block(in_channels, **{**args, **(first if i == 0 else {})}, index=i))
        in_channels = out[-1].out_channels
    return out'''


def _dict(args: dict) -> str:
    return "{" + ", ".join(f"{k!r}: {value_source(v)[0]}" for k, v in args.items()) + "}"


def _stand_in(item, names: dict, srcs: list[str]) -> str:
    """The input a layer left out by `when` stands for (`else`, or its only input)."""
    return names.get(item["else"], item["else"]) if "else" in item else srcs[0]


def _bare(expr: str) -> str:
    """``expr`` without parentheses that wrap all of it (for an argument or an assignment)."""
    if expr.startswith("(") and _paren(expr[1:-1]) == expr:
        return expr[1:-1]
    return expr


def _paren(expr: str) -> str:
    """``expr`` safe to use inside a larger expression."""
    if re.fullmatch(r"[\w.'\[\]]+", expr):
        return expr
    depth = 0
    for i, ch in enumerate(expr):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and i < len(expr) - 1:
            return f"({expr})"
    return expr if expr.startswith("(") else f"({expr})"


def _render(entries: list) -> list[str]:
    """Lines of ``__init__``; a guarded layer's channel variable is written only where it is
    read."""
    text = "\n".join(
        e if isinstance(e, str) else f"{e['yes']} {e['no']} {e['make'] or ''}" for e in entries
    )
    lines = []
    for e in entries:
        if isinstance(e, str):
            lines.append(e)
            continue
        others = text.replace(f"{e['yes']} {e['no']} {e['make'] or ''}", "", 1)
        used = re.search(rf"\b{e['var']}\b", others) is not None
        body = ([f"            {e['make']}"] if e["make"] else []) + (
            [f"            {e['var']} = {e['yes']}"] if used else []
        )
        if body:
            lines += [f"        if {e['cond']}:", *body]
        if used:
            lines += ["        else:", f"            {e['var']} = {e['no']}"]
    return lines


def call_expr(type_: str, rel: str, args: list[str], dim: int) -> str:
    """The forward expression of one layer: a module call, or the graph layers' +, * and
    torch.cat."""
    if type_ == "Add":
        return " + ".join(args)
    if type_ == "Mul":
        return " * ".join(args)
    if type_ == "Cat":
        return f"torch.cat([{', '.join(args)}], dim={dim})"
    return f"{_access(rel)}({args[0]})"


def _containers(rel: str, made: set) -> list[str]:
    """``self.a = nn.ModuleDict()`` lines for the containers of a dotted name not made yet."""
    lines = []
    parts = rel.split(".")
    for k in range(1, len(parts)):
        c = ".".join(parts[:k])
        if c not in made:
            made.add(c)
            lines.append(f"        {_assign(c, 'nn.ModuleDict()')}")
    return lines


def _assign(rel: str, value: str) -> str:
    """Register ``value`` at a dotted name: an attribute, a container key, or add_module."""
    if "." not in rel and not (rel.isidentifier() and not keyword.iskeyword(rel)):
        return f"self.add_module({rel!r}, {value})"
    return f"{_access(rel)} = {value}"


def _access(rel: str) -> str:
    first, *rest = rel.split(".")
    head = (
        f"self.{first}"
        if first.isidentifier() and not keyword.iskeyword(first)
        else f"getattr(self, {first!r})"
    )
    return head + "".join(f"[{p!r}]" for p in rest)


def _value(v, env):
    if isinstance(v, str):
        m = _FULL.match(v)
        if m:
            return evaluate(m.group(1), env)
    return v


def _use_args(block, item: Map) -> dict:
    return {k: v for k, v in item.items() if k in block.args}


def _channel_rule(type_: str) -> bool:
    """Whether the channels after this layer follow from its arguments or its inputs' channels."""
    return (
        type_.startswith(("Conv", "ConvTranspose") + SAME_CHANNELS)
        or type_ in ("Add", "Mul", "Cat")
        or REGISTRY[type_].pointwise
    )

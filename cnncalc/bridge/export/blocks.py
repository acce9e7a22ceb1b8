"""Export of a spec that uses blocks: the net's class, built from one class per block
(``block_class``); :class:`Unsupported` sends the caller to the flat export."""

from __future__ import annotations

from ...model import Analysis
from .block_class import (
    CHAIN,
    BlockClass,
    _assign,
    _containers,
    _stand_in,
    _use_args,
    _value,
    call_expr,
    ident,
    value_source,
)
from .source import ExportError, freeze_lines, net_class


def export_with_blocks(spec, a: Analysis, class_name: str, module_source, channel_dim: int) -> str:
    """The spec with one class per block; raises Unsupported where only the flat export fits."""
    classes = {name: BlockClass(name, b, spec.blocks) for name, b in spec.blocks.items()}
    used_types = set()
    results = {layer.name: layer for layer in a.layers}
    channels = {"input": a.input[channel_dim]}
    names, prev = {"input": "input"}, "input"
    init, body = [], []
    made: set[str] = set()
    fwd_var = {"input": "x"}
    for j, item in enumerate(spec.written_layers):
        rel = str(item.get("name", j))
        src = item.get("from")
        srcs = [prev] if src is None else ([src] if isinstance(src, str) else list(src))
        srcs = [names.get(s, s) for s in srcs]
        if "when" in item and not _value(item["when"], {}):
            names[rel] = prev = _stand_in(item, names, srcs)
            continue
        type_ = item.get("type")
        var = ident(rel)
        args_v = [fwd_var[s] for s in srcs]
        if type_ in classes:
            used_types.add(type_)
            block = classes[type_]
            args = {k: _value(v, {}) for k, v in _use_args(spec.blocks[type_], item).items()}
            first = {k: _value(v, {}) for k, v in (item.get("first") or {}).items()}
            count = _value(item.get("repeat"), {})
            c = channels[srcs[0]]
            calls = []
            for i in range(count or 1):
                these = {**args, **(first if i == 0 else {})}
                kw = [f"{k}={value_source(v)[0]}" for k, v in these.items()] + (
                    [f"index={i}"] if i else []
                )
                calls.append(f"{type_}({', '.join([str(c), *kw])})")
                env = {
                    **{k: v for k, v in spec.blocks[type_].args.items()},
                    **these,
                    "in_channels": c,
                    "index": i,
                }
                c = block.out_channels(env)
            if count is None:
                make = calls[0]
            else:
                make = (
                    "nn.Sequential(\n"
                    + "".join(f"            {call},\n" for call in calls)
                    + "        )"
                )
            channels[rel] = c
        elif type_ in ("Add", "Mul", "Cat"):
            make = None
            channels[rel] = results[rel].output_shape[channel_dim]
        else:
            if rel not in results:
                raise ExportError(f"layer '{rel}' not found in the analysis")
            make = module_source(results[rel])
            channels[rel] = (
                results[rel].output_shape[channel_dim]
                if len(results[rel].output_shape) > channel_dim
                else 0
            )
        if make is not None:
            init += _containers(rel, made)
            init.append(f"        {_assign(rel, make)}")
        body.append(f"        {var} = {call_expr(type_, rel, args_v, item.get('dim', 1))}")
        fwd_var[rel] = var
        names[rel] = prev = rel
    body.append(f"        return {fwd_var[prev]}")
    init += freeze_lines(a)
    uses_torch = any("torch.cat" in line for line in body) or any(
        "torch.cat" in classes[t].source() for t in used_types
    )
    head = ["import torch", "from torch import nn"] if uses_torch else ["from torch import nn"]
    order = _dependency_order(classes, used_types)
    doc = (
        f'    """{a.name or "The spec"}: input {list(a.input)} -> output {list(a.output)}, '
        f'{a.total_params:,} parameters."""'
    )
    parts = [*head, "", ""]
    sources = [classes[t].source() for t in order]
    if any(classes[t].chains for t in order):
        parts += [CHAIN, "", ""]
    for src in sources:
        parts += [src, "", ""]
    parts.append(net_class(class_name, doc, init, body))
    return "\n".join(parts)


def _dependency_order(classes: dict, used: set) -> list[str]:
    """Block classes, each after the blocks it uses."""
    order, seen = [], set()

    def visit(t):
        if t in seen:
            return
        seen.add(t)
        for _, type_, _ in classes[t].steps:
            if type_ in classes:
                visit(type_)
        order.append(t)

    for t in sorted(used):
        visit(t)
    return order

"""The JSON Schema of the spec format, generated from the layer registry.

Editors with the YAML language server validate and complete specs against it.
"""

from __future__ import annotations

from ..layers import REGISTRY, REQUIRED
from ..layers.sources import DTYPES

NAME = {
    "anyOf": [{"type": "string", "minLength": 1, "pattern": "^[^:]*$"}, {"type": "integer"}],
    "description": "unique; dots nest modules (layer1.0.conv1); 'input' is reserved; no ':'",
}
FROM = {
    "description": "the layer (or 'input') that feeds this one, or a list of them; "
    "NAME:K names output K of a layer with several; default: the layer above",
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
}
EXPR = {"type": "string", "pattern": r"\$\{"}


def _layer_rule(kind, in_block: bool) -> dict:
    props = {}
    for key, (reader, default) in kind.args.items():
        frag = dict(getattr(reader, "schema", {}))
        if default is not REQUIRED and default is not None:
            frag["default"] = list(default) if isinstance(default, tuple) else default
        props[key] = {"anyOf": [frag, EXPR]} if in_block else frag
    for key in sorted(kind.ignored):  # a set: sorted, so the schema is the same every run
        props.setdefault(key, {})
    required = [k for k, (_, d) in kind.args.items() if d is REQUIRED]
    rule = {"properties": props}
    if required:
        rule["required"] = required
    return {
        "if": {"properties": {"type": {"const": kind.type}}, "required": ["type"]},
        "then": rule,
    }


def _layer(in_block: bool) -> dict:
    base = {
        "name": NAME,
        "type": {
            "anyOf": [{"enum": sorted(REGISTRY)}, {"type": "string"}],
            "description": "a torch.nn class name, or a block",
        },
        "from": FROM,
        "trainable": {"type": "boolean", "description": "false freezes the layer's parameters"},
        "frozen": {
            "type": "array",
            "items": {"type": "string"},
            "description": "tensors of the layer that are not trained (bias)",
        },
        "shares": {
            "type": "string",
            "description": "a layer above whose module this one calls again (shared weights)",
        },
        "tied": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "its tensors that are tensors of layers above (tied weights)",
        },
        "pruned": {
            "type": "array",
            "items": {"type": "string"},
            "description": "tensors held as torch.nn.utils.prune holds them (weight_orig, mask)",
        },
    }
    if in_block:
        base["when"] = {"anyOf": [{"type": "boolean"}, EXPR], "description": "left out when false"}
        base["else"] = {
            "type": "string",
            "description": "with when: the input that stands for a left-out layer with several",
        }
    repeat = {"type": "integer", "minimum": 1}
    base["repeat"] = {
        "anyOf": [repeat, EXPR] if in_block else [repeat],
        "description": "block uses: instances NAME.0 ... NAME.{N-1}",
    }
    base["first"] = {"type": "object", "description": "block uses: args overridden for instance 0"}
    return {
        "type": "object",
        "required": ["type"],
        "properties": base,
        "allOf": [_layer_rule(k, in_block) for k in REGISTRY.values()],
    }


def spec_schema() -> dict:
    """The whole spec format as a JSON Schema (draft 2020-12)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cnncalc spec",
        "type": "object",
        "required": ["input", "layers"],
        "additionalProperties": False,
        # with blocks, ${...} expressions are evaluated in the top-level layers too
        "if": {"required": ["blocks"]},
        "then": {"properties": {"layers": {"items": _layer(True)}}},
        "else": {"properties": {"layers": {"items": _layer(False)}}},
        "properties": {
            "name": {"type": "string"},
            "input": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    ]
                },
                "minItems": 1,
                "description": "the input's full shape, batch first; a dim may be a name (N, H, W)",
            },
            "input_dtype": {
                "enum": list(DTYPES),
                "description": "the input's dtype (int64: indices for an Embedding)",
            },
            "layers": {"type": "array", "minItems": 1},
            "outputs": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ],
                "description": "the tensors the net returns, in order; default: the last layer's",
            },
            "blocks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["layers"],
                    "additionalProperties": False,
                    "properties": {
                        "args": {
                            "type": "object",
                            "description": "argument defaults; null: required",
                        },
                        "layers": {"type": "array", "minItems": 1, "items": _layer(True)},
                    },
                },
            },
        },
    }

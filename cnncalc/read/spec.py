"""cnncalc's own YAML (a mapping with input and layers) -> a :class:`Spec`, every value located."""

from __future__ import annotations

from ..diagnostics import SpecError, cut, did_you_mean
from ..model import LayerSpec, Spec
from .layer import check_names, layer_spec, show, what
from .options import ReadOptions
from .yamlpos import Map, Seq

TOP_KEYS = ("name", "input", "input_dtype", "layers", "blocks", "outputs")
MAX_DIMS = 64  # as torch: tensors of at most 64 dims
SYMBOL_VALUE = 64  # where a named input dim stands before `symbolic` finds the sizes the net takes


def read(doc, options: ReadOptions) -> Spec:
    """A parsed YAML document -> a :class:`Spec`; raises SpecError at the offending value."""
    scale, imgsz = options.scale, options.imgsz
    if scale or imgsz:
        option = "--scale" if scale else "--imgsz"
        raise SpecError(
            f"{option} is for Ultralytics model YAML (backbone: and head:); this spec's "
            "input is its 'input'"
        )
    if doc is None:
        raise SpecError("the spec is empty: expected a mapping with 'input' and 'layers'")
    if not isinstance(doc, Map):
        raise SpecError(
            f"the spec must be a mapping with 'input' and 'layers', found {what(doc)}",
            getattr(doc, "pos", None),
        )
    for key in doc:
        if isinstance(key, bool):
            raise SpecError(
                f"unknown top-level key {key} (YAML 1.1 reads an unquoted on, yes or y as "
                "true and off, no or n as false: is this a spec? quote the key if it is meant)",
                doc.kpos[key],
            )
        if key not in TOP_KEYS and not (
            isinstance(key, str) and (key.startswith("x-") or key == "defaults")
        ):
            hint = did_you_mean(str(key), TOP_KEYS)
            hint = (
                hint
                or " (the keys are name, input, layers, blocks, outputs; anchors to share go "
                "under 'defaults' or an 'x-' key)"
            )
            raise SpecError(f"unknown top-level key '{cut(str(key))}'{hint}", doc.kpos[key])
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise SpecError(f"name must be text, found {what(name)}", doc.at("name"))
    if "input" not in doc:
        raise SpecError(
            "missing 'input': the input tensor's full shape, batch first, e.g. [1, 1, 32, 32]",
            doc.pos,
        )
    shape = doc["input"]
    if (
        not isinstance(shape, Seq)
        or not shape
        or not all(
            (isinstance(s, int) and not isinstance(s, bool) and s > 0)
            or (isinstance(s, str) and s.isidentifier())
            for s in shape
        )
    ):
        raise SpecError(
            "input must be a list of positive integers (or names, [N, 3, H, W]), e.g. [1, "
            f"1, 32, 32], found {show(shape)}",
            doc.at("input"),
        )
    symbols: dict[str, list[int]] = {}  # input dims given as names: name -> the dims it stands for
    for i, v in enumerate(shape):
        if isinstance(v, str):
            symbols.setdefault(v, []).append(i)
    if symbols:
        given = options.set
        shape = [
            given.get(v, 1 if i == 0 else SYMBOL_VALUE) if isinstance(v, str) else v
            for i, v in enumerate(shape)
        ]
        symbols = {k: d for k, d in symbols.items() if k not in given}
    if len(shape) > MAX_DIMS:
        raise SpecError(
            f"input has {len(shape)} dims; torch's tensors have at most {MAX_DIMS}", doc.at("input")
        )
    input_dtype = doc.get("input_dtype", "float32")
    from ..layers.sources import DTYPES

    if input_dtype not in DTYPES:
        raise SpecError(
            f"input_dtype must be one of {', '.join(DTYPES)}, found {show(input_dtype)}",
            doc.at("input_dtype"),
        )
    if "layers" not in doc:
        raise SpecError("missing 'layers': a non-empty list of layers", doc.pos)
    items = doc["layers"]
    if not isinstance(items, Seq) or not items:
        raise SpecError(
            f"layers must be a non-empty list of layers, found {show(items)}", doc.at("layers")
        )
    from .blocks import MAX_LAYERS

    if len(items) > MAX_LAYERS:
        raise SpecError(
            f"layers lists {len(items):,} layers, more than the {MAX_LAYERS:,} a spec may have",
            doc.at("layers"),
        )
    blocks = {}
    if "blocks" in doc:
        from .blocks import expand, read_blocks

        blocks = read_blocks(doc["blocks"])
        flat = expand(items, blocks)
    else:
        flat = zip(items, items.ipos)
    layers = []
    flat = list(flat)
    if not flat:
        raise SpecError("every layer is left out by when: the net has no layers", doc.at("layers"))
    for i, (item, pos) in enumerate(flat):
        try:
            layers.append(layer_spec(item, pos, i))
        except SpecError as e:
            origin = getattr(item, "origin", None)
            if origin is None:
                raise
            raise SpecError(
                e.message
                + LayerSpec.context(LayerSpec("", "", None, {}, None, pos, origin=origin)),
                e.pos,
                e.layer,
            ) from None
    check_names(layers)
    outputs, outputs_pos = None, []
    if "outputs" in doc:
        outs = doc["outputs"]
        outs = Seq([outs]) if isinstance(outs, str) else outs
        if not isinstance(outs, Seq) or not outs or not all(isinstance(o, str) for o in outs):
            raise SpecError(
                "outputs must be a layer name or a list of layer names, found "
                f"{show(doc['outputs'])}",
                doc.at("outputs"),
            )
        outputs = list(outs)
        outputs_pos = list(getattr(outs, "ipos", None) or [doc.at("outputs")] * len(outputs))
    return Spec(
        input=tuple(shape),
        input_dtype=input_dtype,
        symbols=symbols,
        input_pos=doc.at("input"),
        layers=layers,
        name=name,
        blocks=blocks,
        written_layers=list(items),
        outputs=outputs,
        outputs_pos=outputs_pos,
    )


def flat_yaml(spec: Spec) -> str:
    """The spec as a flat layer list (blocks expanded), YAML that analyses identically."""
    import json

    import yaml

    def one(v) -> str:
        try:  # JSON is YAML flow syntax, and much faster to write
            return json.dumps(v, allow_nan=False, ensure_ascii=False)
        except ValueError:  # a non-finite number: YAML spells it
            return yaml.safe_dump(
                v, default_flow_style=True, width=1 << 30, sort_keys=False
            ).strip()

    lines = []
    if spec.name is not None:
        lines.append(f"name: {json.dumps(spec.name)}")
    lines.append(f"input: {one(list(spec.input))}")
    if spec.input_dtype != "float32":
        lines.append(f"input_dtype: {spec.input_dtype}")
    lines.append("layers:")
    for layer in spec.layers:
        d = {"name": layer.name, "type": layer.type}
        if layer.inputs is not None:
            d["from"] = layer.inputs[0] if len(layer.inputs) == 1 else layer.inputs
        if not layer.trainable:
            d["trainable"] = False
        for key in ("shares", "pruned", "frozen", "tied"):
            if getattr(layer, key):
                d[key] = list(v) if isinstance(v := getattr(layer, key), tuple) else v
        d.update(layer.written)
        lines.append(f"  - {one(d)}")
    if spec.outputs is not None:
        lines.append(f"outputs: {one(list(spec.outputs))}")
    return "\n".join(lines) + "\n"

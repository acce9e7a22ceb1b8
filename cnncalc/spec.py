"""YAML text -> a :class:`Spec` of layer descriptors, with the source position of every value."""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Pos, SpecError, cut, did_you_mean
from .layers import REGISTRY, REQUIRED, Kind, LayerError
from .layers.base import arity
from .yamlpos import Map, Seq, loads

TOP_KEYS = ("name", "input", "layers", "blocks", "outputs")
# torch cannot register a submodule under a name nn.Module already uses (torch 2.13's attributes)
MODULE_ATTRIBUTES = frozenset(
    """T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks
    _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
    _load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
    _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook _register_state_dict_hook
    _replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version
    _wrapped_call_impl add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
    eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
    modules mtia named_buffers named_children named_modules named_parameters parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
    register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu zero_grad""".split()
)
LAYER_KEYS = ("name", "type", "from", "trainable")


@dataclass
class LayerSpec:
    """One layer as written: its kind, its arguments (torch defaults filled in) and where it stands."""

    name: str
    type: str
    kind: Kind
    args: dict
    inputs: list[str] | None  # `from`; None: the layer above
    pos: Pos
    vpos: dict = field(default_factory=dict)  # argument -> position of its value
    written: dict = field(default_factory=dict)  # the arguments as written (blocks substituted)
    origin: tuple | None = (
        None  # (block type, use name, use line) for a layer expanded from a block
    )
    trainable: bool = True  # `trainable: false` freezes its parameters

    def context(self) -> str:
        """`` (in block 'B' used by 'layer2' at line 30)`` for an expanded layer, else ``""``."""
        if self.origin is None:
            return ""
        if isinstance(self.origin, str):  # an Ultralytics row
            return f" ({self.origin})"
        block, use, line = self.origin
        return f" (in block '{block}' used by '{use}' at line {line})"

    def at(self, key: str | None) -> Pos:
        return self.vpos.get(key, self.pos) if key else self.pos


@dataclass
class Spec:
    input: tuple[int, ...]
    layers: list[LayerSpec]
    name: str | None = None
    path: str = "<spec>"
    blocks: dict = field(default_factory=dict)  # block name -> its definition, as written
    written_layers: list = field(
        default_factory=list
    )  # the top-level layers as written (block uses unexpanded)
    outputs: list[str] | None = (
        None  # `outputs:` the tensors the net returns; None: the last layer's
    )
    outputs_pos: list = field(default_factory=list)
    ultralytics: object = (
        None  # an Ultralytics model YAML's rows and facts (cnncalc.ultralytics.Model)
    )
    symbols: dict = field(
        default_factory=dict
    )  # input dims given as names and not set: name -> their dims
    input_pos: Pos | None = None
    notes: list = field(default_factory=list)  # (position, message) warnings of the reading itself


MAX_BYTES = 4 << 20  # a spec is text; a larger file is refused before it is read
MAX_NAME = 256
MAX_DIMS = 64  # as torch: tensors of at most 64 dims


_STDIN: dict[str, bytes] = {}


class NotAFile(OSError):
    """The path is not a regular file (a folder, a FIFO, a device): refused without reading it."""


def read_text(path: str) -> str:
    """A spec file's text; OSError for a missing or unreadable file, SpecError for bytes that are not UTF-8."""
    import os
    import stat

    if path == "-":  # standard input, read once (a command may load its spec twice)
        import sys

        if "-" not in _STDIN:
            _STDIN["-"] = sys.stdin.buffer.read(MAX_BYTES + 1)
        data = _STDIN["-"]
        if len(data) > MAX_BYTES:
            raise NotAFile(
                0, f"standard input has more than the {MAX_BYTES:,} bytes a spec may have"
            )
        return _decode(data)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        what = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "not a regular file (a FIFO, a device or a socket)"
        )
        raise NotAFile(0, f"it is {what}")
    if st.st_size > MAX_BYTES:
        raise NotAFile(
            0, f"it has {st.st_size:,} bytes, more than the {MAX_BYTES:,} a spec may have"
        )
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise NotAFile(0, f"it has more than the {MAX_BYTES:,} bytes a spec may have")
    return _decode(data)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError(
            f"the file is not UTF-8 text (byte 0x{data[e.start]:02x})", (line, col)
        ) from None


READ: dict = {
    "scale": None,
    "imgsz": None,
    "set": {},
}  # the command line's --scale, --imgsz (Ultralytics YAML), --set
SYMBOL_VALUE = 64  # where a named input dim stands before `symbolic` finds the sizes the net takes


def load(path: str, scale: str | None = None, imgsz=None) -> Spec:
    """Read and parse a spec file (an Ultralytics model YAML too: ``yolov8n.yaml`` reads ``yolov8.yaml`` at scale n)."""
    import os

    from .yamlpos import clamp

    scale, imgsz = scale or READ["scale"], imgsz or READ["imgsz"]
    real = path
    if path != "-" and not os.path.exists(path):
        from .ultralytics import unscaled

        if os.path.isfile(unscaled(path)):
            real = unscaled(path)
    text = read_text(real)
    key = (path, text, scale, imgsz, tuple(sorted((READ.get("set") or {}).items())))
    if (
        _LAST.get("key") == key
    ):  # a command that reads its spec twice parses it once (specs are not changed)
        return _LAST["spec"]
    try:
        spec = parse(text, path, scale, imgsz)
    except SpecError as e:
        e.pos = clamp(text, e.pos)  # every position a real place in the file
        raise
    spec.path = "<stdin>" if path == "-" else path
    _LAST.update(key=key, spec=spec)
    return spec


_LAST: dict = {}


def parse(text: str, path: str = "<spec>", scale: str | None = None, imgsz=None) -> Spec:
    """Parse spec text into a :class:`Spec`; raises SpecError at the offending value."""
    doc = loads(text)
    from .ultralytics import is_model

    if is_model(doc):
        return _ultralytics(doc, path, scale, imgsz)
    if scale or imgsz:
        what = "--scale" if scale else "--imgsz"
        raise SpecError(
            f"{what} is for Ultralytics model YAML (backbone: and head:); this spec's input is its 'input'"
        )
    if doc is None:
        raise SpecError("the spec is empty: expected a mapping with 'input' and 'layers'")
    if not isinstance(doc, Map):
        raise SpecError(
            f"the spec must be a mapping with 'input' and 'layers', found {_what(doc)}",
            getattr(doc, "pos", None),
        )
    for key in doc:
        if isinstance(key, bool):
            raise SpecError(
                f"unknown top-level key {key} (YAML 1.1 reads an unquoted on, yes or y as true and off, no or n as false: "
                "is this a spec? quote the key if it is meant)",
                doc.kpos[key],
            )
        if key not in TOP_KEYS and not (
            isinstance(key, str) and (key.startswith("x-") or key == "defaults")
        ):
            hint = did_you_mean(str(key), TOP_KEYS)
            hint = (
                hint
                or " (the keys are name, input, layers, blocks, outputs; anchors to share go under 'defaults' or an 'x-' key)"
            )
            raise SpecError(f"unknown top-level key '{cut(str(key))}'{hint}", doc.kpos[key])
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise SpecError(f"name must be text, found {_what(name)}", doc.at("name"))
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
            f"input must be a list of positive integers (or names, [N, 3, H, W]), e.g. [1, 1, 32, 32], found {_show(shape)}",
            doc.at("input"),
        )
    symbols: dict[str, list[int]] = {}  # input dims given as names: name -> the dims it stands for
    for i, v in enumerate(shape):
        if isinstance(v, str):
            symbols.setdefault(v, []).append(i)
    if symbols:
        given = READ.get("set") or {}
        shape = [
            given.get(v, 1 if i == 0 else SYMBOL_VALUE) if isinstance(v, str) else v
            for i, v in enumerate(shape)
        ]
        symbols = {k: d for k, d in symbols.items() if k not in given}
    if len(shape) > MAX_DIMS:
        raise SpecError(
            f"input has {len(shape)} dims; torch's tensors have at most {MAX_DIMS}", doc.at("input")
        )
    if "layers" not in doc:
        raise SpecError("missing 'layers': a non-empty list of layers", doc.pos)
    items = doc["layers"]
    if not isinstance(items, Seq) or not items:
        raise SpecError(
            f"layers must be a non-empty list of layers, found {_show(items)}", doc.at("layers")
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
            layers.append(_layer(item, pos, i))
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
    _check_names(layers)
    outputs, outputs_pos = None, []
    if "outputs" in doc:
        outs = doc["outputs"]
        outs = Seq([outs]) if isinstance(outs, str) else outs
        if not isinstance(outs, Seq) or not outs or not all(isinstance(o, str) for o in outs):
            raise SpecError(
                f"outputs must be a layer name or a list of layer names, found {_show(doc['outputs'])}",
                doc.at("outputs"),
            )
        outputs = list(outs)
        outputs_pos = list(getattr(outs, "ipos", None) or [doc.at("outputs")] * len(outputs))
    return Spec(
        input=tuple(shape),
        symbols=symbols,
        input_pos=doc.at("input"),
        layers=layers,
        name=name,
        blocks=blocks,
        written_layers=list(items),
        outputs=outputs,
        outputs_pos=outputs_pos,
    )


def _ultralytics(doc, path, scale, imgsz) -> Spec:
    from .ultralytics import read

    items, model, outputs, notes = read(doc, path, scale, imgsz)
    layers = [_layer(item, pos, i) for i, (item, pos) in enumerate(items)]
    _check_names(layers)
    return Spec(
        input=(1, model.ch, *model.imgsz),
        layers=layers,
        name=model.title,
        written_layers=[],
        outputs=outputs,
        outputs_pos=[doc.pos] * len(outputs or ()),
        ultralytics=model,
        notes=notes,
    )


def _layer(item, pos: Pos, index: int) -> LayerSpec:
    if not isinstance(item, Map):
        raise SpecError(f"layer {index} must be a mapping with a 'type', found {_show(item)}", pos)
    name = item.get("name", str(index))
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if (
        not isinstance(name, str)
        or not name
        or any(not part for part in name.split("."))
        or name != name.strip()
    ):
        raise SpecError(
            f"layer {index}: name must be non-empty text without empty dotted parts, found {_show(name)}",
            item.at("name"),
        )
    if len(name) > MAX_NAME:
        raise SpecError(
            f"layer {index}: a name of {len(name):,} characters is longer than {MAX_NAME}",
            item.at("name"),
        )
    if not name.isprintable():
        raise SpecError(
            f"layer {index}: name {_show(name)} has a control character (a newline, a tab or an escape)",
            item.at("name"),
        )
    if ":" in name:
        raise SpecError(
            f"layer {index}: name {_show(name)} has a ':', which `from` keeps for naming one output of a layer (split:0)",
            item.at("name"),
        )
    if name == "input":
        raise SpecError(
            f"layer {index}: the name 'input' is reserved for the spec's input", item.at("name")
        )
    clash = next(
        (part for part in name.split(".") if part in MODULE_ATTRIBUTES or part.startswith("__")),
        None,
    )
    if clash is not None:
        raise SpecError(
            f"layer '{name}': '{clash}' is an attribute of torch's nn.Module, so torch cannot register a layer under it; rename it",
            item.at("name"),
        )
    label = f"layer '{name}'"
    if "type" not in item:
        raise SpecError(f"{label}: missing 'type', a torch.nn class name such as Conv2d", item.pos)
    type_ = item["type"]
    kind = REGISTRY.get(type_) if isinstance(type_, str) else None
    if kind is None:
        hint = did_you_mean(type_, REGISTRY) if isinstance(type_, str) else ""
        raise SpecError(f"{label}: unknown layer type {_show(type_)}{hint}", item.at("type"))
    label = f"layer '{name}' ({type_})"
    inputs = item.get("from")
    if inputs is not None or "from" in item:
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(s, str) for s in inputs)
        ):
            raise SpecError(
                f"{label}: from must be a layer name or a list of names, found {_show(item['from'])}",
                item.at("from"),
            )
        inputs = list(inputs)
    lo, hi = arity(kind)
    if lo == hi == 0 and "from" in item:
        raise SpecError(
            f"{label}: takes no input (it holds a parameter), so it has no 'from'", item.at("from")
        )
    if lo >= 2 and (inputs is None or len(inputs) < lo):
        raise SpecError(
            f"{label}: takes two or more inputs; list them in 'from', e.g. from: [conv2, input]",
            item.at("from"),
        )
    if hi is not None and hi >= 1 and inputs is not None and len(inputs) > hi:
        many = "one input" if hi == 1 else f"at most {hi} inputs"
        raise SpecError(f"{label}: takes {many}, but from lists {len(inputs)}", item.at("from"))
    trainable = item.get("trainable", True)
    if not isinstance(trainable, bool):
        raise SpecError(
            f"{label}: trainable must be true or false, found {_show(trainable)}",
            item.at("trainable"),
        )
    args, vpos, written = {}, {}, {}
    for key, value in item.items():
        if key in LAYER_KEYS:
            continue
        vpos[key] = item.at(key)
        if key not in kind.args:
            if key in kind.ignored or kind.any_args:
                continue
            hint = did_you_mean(str(key), [*kind.args, *LAYER_KEYS])
            known = ", ".join(kind.args) or "none"
            raise SpecError(
                f"{label}: unknown argument '{key}'{hint}; {type_} takes: {known}", item.kpos[key]
            )
        reader = kind.args[key][0]
        written[key] = plain(value)
        try:
            args[key] = reader(value, key)
        except LayerError as e:
            raise SpecError(f"{label}: {e.message}", vpos[key]) from None
    for key, (reader, default) in kind.args.items():
        if key not in args:
            if default is REQUIRED:
                raise SpecError(f"{label}: missing required argument '{key}'", item.pos)
            args[key] = None if default is None else reader(default, key)
    if "from" in item:
        vpos["from"] = item.at("from")
    return LayerSpec(
        name=name,
        type=type_,
        kind=kind,
        args=args,
        inputs=inputs,
        pos=pos,
        vpos=vpos,
        written=written,
        origin=getattr(item, "origin", None),
        trainable=trainable,
    )


def _check_names(layers: list[LayerSpec]) -> None:
    seen: dict[str, LayerSpec] = {}
    for layer in layers:
        if layer.name in seen:
            first = seen[layer.name].pos
            raise SpecError(
                f"layer '{layer.name}': the name is already used by the layer at line {first[0]}",
                layer.at("name"),
            )
        seen[layer.name] = layer


def plain(v):
    """Map/Seq -> dict/list, all the way down."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


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
    lines.append("layers:")
    for layer in spec.layers:
        d = {"name": layer.name, "type": layer.type}
        if layer.inputs is not None:
            d["from"] = layer.inputs[0] if len(layer.inputs) == 1 else layer.inputs
        if not layer.trainable:
            d["trainable"] = False
        d.update(layer.written)
        lines.append(f"  - {one(d)}")
    if spec.outputs is not None:
        lines.append(f"outputs: {one(list(spec.outputs))}")
    return "\n".join(lines) + "\n"


def _what(v) -> str:
    if isinstance(v, Map):
        return "a mapping"
    if isinstance(v, Seq):
        return "a list"
    return f"{type(v).__name__} {cut(repr(v))}"


def _show(v) -> str:
    if isinstance(v, (Map, Seq)):
        text = repr(v if isinstance(v, Seq) else dict(v))
        return text if len(text) <= 60 else text[:57] + "..."
    if v is None:
        return "nothing"
    return cut(repr(v))

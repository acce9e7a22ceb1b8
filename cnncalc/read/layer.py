"""One layer item (a mapping) -> a :class:`LayerSpec`: its kind, its arguments read and checked."""

from __future__ import annotations

from ..diagnostics import Pos, SpecError, cut, did_you_mean
from ..layers import REGISTRY, REQUIRED, LayerError
from ..layers.base import arity
from ..model import LayerSpec
from .yamlpos import Map, Seq

# torch cannot register a submodule under a name nn.Module already uses (torch 2.13's attributes)
MODULE_ATTRIBUTES = frozenset(
    """T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl
    _compiled_call_impl _forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs
    _forward_pre_hooks _forward_pre_hooks_with_kwargs _get_backward_hooks
    _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
    _load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook
    _modules _named_members _non_persistent_buffers_set _parameters
    _register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel
    _save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version
    _wrapped_call_impl add_module apply bfloat16 buffers call_super_init children compile cpu
    cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state
    get_parameter get_submodule half ipu load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type xpu zero_grad""".split()
)
LAYER_KEYS = ("name", "type", "from", "trainable", "shares", "pruned", "frozen", "tied")
MAX_NAME = 256


def layer_spec(item, pos: Pos, index: int) -> LayerSpec:
    if not isinstance(item, Map):
        raise SpecError(f"layer {index} must be a mapping with a 'type', found {show(item)}", pos)
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
            f"layer {index}: name must be non-empty text without empty dotted parts, found "
            f"{show(name)}",
            item.at("name"),
        )
    if len(name) > MAX_NAME:
        raise SpecError(
            f"layer {index}: a name of {len(name):,} characters is longer than {MAX_NAME}",
            item.at("name"),
        )
    if not name.isprintable():
        raise SpecError(
            f"layer {index}: name {show(name)} has a control character (a newline, a tab "
            "or an escape)",
            item.at("name"),
        )
    if ":" in name:
        raise SpecError(
            f"layer {index}: name {show(name)} has a ':', which `from` keeps for naming "
            "one output of a layer (split:0)",
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
            f"layer '{name}': '{clash}' is an attribute of torch's nn.Module, so torch "
            "cannot register a layer under it; rename it",
            item.at("name"),
        )
    label = f"layer '{name}'"
    if "type" not in item:
        raise SpecError(f"{label}: missing 'type', a torch.nn class name such as Conv2d", item.pos)
    type_ = item["type"]
    kind = REGISTRY.get(type_) if isinstance(type_, str) else None
    if kind is None:
        hint = did_you_mean(type_, REGISTRY) if isinstance(type_, str) else ""
        raise SpecError(f"{label}: unknown layer type {show(type_)}{hint}", item.at("type"))
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
                f"{label}: from must be a layer name or a list of names, found "
                f"{show(item['from'])}",
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
            f"{label}: trainable must be true or false, found {show(trainable)}",
            item.at("trainable"),
        )
    shares = item.get("shares")
    if shares is not None and (not isinstance(shares, str) or shares == name):
        raise SpecError(
            f"{label}: shares must name another layer (whose module this one calls again), "
            f"found {show(shares)}",
            item.at("shares"),
        )
    pruned = _tensor_names(item, "pruned", "a pruning mask holds (e.g. [weight])", label)
    frozen = _tensor_names(item, "frozen", "that are not trained (e.g. [bias])", label)
    tied = item.get("tied", {})
    if not isinstance(tied, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in tied.items()
    ):
        raise SpecError(
            f"{label}: tied must map its tensors to tensors of layers above (e.g. {{weight: "
            f"emb.weight}}), found {show(tied)}",
            item.at("tied"),
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
        shares=shares,
        pruned=tuple(pruned),
        frozen=tuple(frozen),
        tied=dict(tied),
    )


def _tensor_names(item, key: str, what: str, label: str) -> list[str]:
    """A layer's list of its tensors' attribute names (``pruned``, ``frozen``)."""
    names = item.get(key, [])
    if not isinstance(names, list) or not all(isinstance(p, str) and p for p in names):
        raise SpecError(
            f"{label}: {key} must list the tensors {what}, found {show(names)}", item.at(key)
        )
    return names


def check_names(layers: list[LayerSpec]) -> None:
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


def what(v) -> str:
    if isinstance(v, Map):
        return "a mapping"
    if isinstance(v, Seq):
        return "a list"
    return f"{type(v).__name__} {cut(repr(v))}"


def show(v) -> str:
    if isinstance(v, (Map, Seq)):
        text = repr(v if isinstance(v, Seq) else dict(v))
        return text if len(text) <= 60 else text[:57] + "..."
    if v is None:
        return "nothing"
    return cut(repr(v))

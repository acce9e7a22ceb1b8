"""The rows of an Ultralytics model YAML -> cnncalc layers, as ``parse_model`` reads them: scales,
width and depth multiples, ``max_channels``, arguments, ``from``; then a :class:`Spec`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ...diagnostics import Pos, SpecError, cut
from ...model import Spec
from ..layer import check_names, layer_spec, plain
from ..options import ReadOptions
from ..yamlpos import Map, Seq
from . import IMGSZ, Model, Row, scale_of
from .elan import fuse_channels
from .net import _Net, _Refused, make_divisible
from .rows import _arity, _build
from .tables import BASE, HEADS, KNOWN_ELSEWHERE, MODULES, NN, OFFLINE, REPEAT, TASKS

LISTS = ("Concat", "CBFuse", "ImagePoolingAttn")  # rows besides the heads that take a list
BUILD_ERRORS = (ArithmeticError, ValueError, IndexError, KeyError, AttributeError, RecursionError)


def spec_of(doc: Map, path: str, options: ReadOptions) -> Spec:
    """An Ultralytics model YAML's document -> the :class:`Spec` of its layers."""
    items, model, outputs, notes = read(doc, path, options.scale, options.imgsz)
    layers = [layer_spec(item, pos, i) for i, (item, pos) in enumerate(items)]
    check_names(layers)
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


def _row_items(doc: Map, key: str) -> list:
    rows = doc[key]
    if not isinstance(rows, Seq) or not rows:
        raise SpecError(
            f"'{key}' must be a non-empty list of [from, repeats, module, args] rows", doc.at(key)
        )
    return list(zip(rows, rows.ipos))


def _activation(text, pos) -> tuple[str, dict]:
    """``nn.ReLU()`` / ``nn.LeakyReLU(0.1)``: Conv.default_act for every Conv of the model."""
    from ...layers import REGISTRY

    m = re.fullmatch(r"\s*(?:torch\.)?nn\.(\w+)\((.*)\)\s*", str(text))
    kind = REGISTRY.get(m.group(1)) if m else None
    if kind is None:
        raise SpecError(
            "activation must be a torch activation such as nn.ReLU() or "
            f"nn.LeakyReLU(0.1), found {cut(str(text))!r}",
            pos,
        )
    try:
        tree = ast.parse(f"f({m.group(2)})", mode="eval").body
        args = [ast.literal_eval(a) for a in tree.args]
        kw = {k.arg: ast.literal_eval(k.value) for k in tree.keywords if k.arg != "inplace"}
    except (SyntaxError, ValueError):
        raise SpecError(f"activation {text!r}: its arguments must be plain numbers", pos) from None
    names = [k for k in kind.args]
    if len(args) > len(names) + 1:
        raise SpecError(f"activation {text!r}: {m.group(1)} takes {len(names)} arguments", pos)
    kw.update(zip(names, args))
    return m.group(1), {k: v for k, v in kw.items() if k in names}


def read(
    doc: Map, path: str, scale: str | None = None, imgsz=None
) -> tuple[list, Model, list, list]:
    """The rows of an Ultralytics model: (layer items, model facts, output names, warnings)."""
    warnings: list[tuple[Pos, str]] = []
    nc = doc.get("nc")
    scales = doc.get("scales")
    depth, width, max_channels = (
        doc.get("depth_multiple", 1.0),
        doc.get("width_multiple", 1.0),
        float("inf"),
    )
    name_scale = scale_of(path)
    chosen = scale or name_scale
    if scales:
        if not isinstance(scales, Map) or not all(
            isinstance(v, list) and len(v) == 3 and all(_number(x) and x > 0 for x in v)
            for v in scales.values()
        ):
            raise SpecError(
                "scales must map each scale to [depth, width, max_channels], positive numbers",
                doc.at("scales"),
            )
        if not chosen:
            chosen = next(iter(scales))
            warnings.append(
                (
                    doc.kpos.get("scales", doc.pos),
                    "no model scale given (--scale, or a scaled file name such as "
                    f"yolov8n.yaml): assuming '{chosen}'",
                )
            )
        if chosen not in scales:
            raise SpecError(
                f"scale '{chosen}' is not one of this model's scales "
                f"({', '.join(map(str, scales))})" + (" (from the file name)" if not scale else ""),
                doc.kpos.get("scales", doc.pos),
            )
        depth, width, max_channels = scales[chosen]
    elif scale:
        raise SpecError(f"--scale {scale}: this model has no 'scales'", doc.pos)
    for key, v in (("depth_multiple", depth), ("width_multiple", width)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise SpecError(
                f"{key} must be a positive number, found {v!r}", doc.at(key, doc.at("scales"))
            )
    reg_max = doc.get("reg_max", 16)
    kpt_shape = doc.get("kpt_shape", (17, 3))
    for key, v, ok in (
        (
            "nc",
            nc,
            nc is None or (isinstance(nc, int) and not isinstance(nc, bool) and 0 < nc <= 10**6),
        ),
        (
            "reg_max",
            reg_max,
            isinstance(reg_max, int) and not isinstance(reg_max, bool) and 0 < reg_max <= 10**4,
        ),
        (
            "kpt_shape",
            kpt_shape,
            isinstance(kpt_shape, (list, tuple))
            and len(kpt_shape) == 2
            and all(
                isinstance(k, int) and not isinstance(k, bool) and 0 < k <= 10**4 for k in kpt_shape
            ),
        ),
    ):
        if not ok:
            raise SpecError(
                f"{key} must be a positive integer{' pair' if key == 'kpt_shape' else ''}, "
                f"found {cut(str(v))}",
                doc.at(key),
            )
    end2end = doc.get("end2end")
    ch_in = doc.get("channels", doc.get("ch", 3))
    if isinstance(ch_in, bool) or not isinstance(ch_in, int) or ch_in < 1:
        raise SpecError(
            f"channels must be a positive integer, found {ch_in!r}",
            doc.at("channels", doc.at("ch")),
        )
    if isinstance(imgsz, int) or imgsz is None:
        imgsz = (imgsz or IMGSZ,) * 2
    net = _Net()
    net.legacy = True
    net.frozen = set()
    net.outputs = None
    if "activation" in doc:
        net.default_act = _activation(doc["activation"], doc.at("activation"))
    env = {
        "nc": nc,
        "reg_max": reg_max,
        "kpt_shape": kpt_shape,
        "end2end": end2end,
        "depth": depth,
        "width": width,
        "max_channels": max_channels,
        "scale": chosen,
    }
    rows = _row_items(doc, "backbone") + _row_items(doc, "head")
    ch: list[int] = [ch_in]
    prev_c2 = ch_in
    outs: list[str] = []
    table: list[Row] = []
    heads: list[str] = []
    for i, (row, rpos) in enumerate(rows):
        if not isinstance(row, Seq) or len(row) != 4:
            raise SpecError(
                f"row {i} must be [from, repeats, module, args], found {cut(str(row))}", rpos
            )
        f, n, m, args = row
        fpos, npos, mpos, apos = row.ipos
        net.pos, net.fpos = rpos, fpos
        net.origin = f"in row {i}, {cut(str(m), 40)}"
        srcs = f if isinstance(f, list) else [f]
        if not srcs or not all(isinstance(j, int) and not isinstance(j, bool) for j in srcs):
            raise SpecError(
                f"row {i}: from must be a row index or a list of them (-1: the row above), "
                f"found {cut(str(f))}",
                fpos,
            )
        refs = []
        for j in srcs:
            if j == -1:
                refs.append("input" if i == 0 else outs[-1])
            elif -i <= j < i:
                refs.append(outs[j])
            else:
                where = (
                    "the input is only -1 for the first row"
                    if i == 0
                    else f"rows 0 to {i - 1} (or -1 to -{i}) are above it"
                )
                raise SpecError(f"row {i}: from names row {j}, but {where}", fpos)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpecError(
                f"row {i}: repeats must be a positive integer, found {cut(str(n))}", npos
            )
        if not isinstance(m, str) or (m not in MODULES and m not in NN and m != "Concat"):
            if isinstance(m, str) and (
                m in KNOWN_ELSEWHERE or m.startswith(("nn.", "torchvision."))
            ):
                why = OFFLINE.get(m, "is not read by cnncalc yet")
                raise SpecError(f"row {i}: module {m} {why}", mpos)
            from ...diagnostics import did_you_mean

            hint = did_you_mean(str(m), [*MODULES, *NN, "Concat"]) if isinstance(m, str) else ""
            raise SpecError(f"row {i}: unknown module {cut(str(m))}{hint}", mpos)
        if not isinstance(args, Seq):
            raise SpecError(f"row {i}: args must be a list, found {cut(str(args))}", apos)
        try:
            args = [_value(a, env) for a in args]
        except (RecursionError, MemoryError):
            raise SpecError(f"row {i}: an argument is nested too deeply to read", apos) from None
        n = n_ = max(round(n * depth), 1) if n > 1 else n
        # parse_model keeps the last row's c2 where a row sets none
        c2 = ch[srcs[0]] if len(srcs) == 1 else prev_c2
        at = f"model.{i}"
        first = len(net.items)
        try:
            if isinstance(f, list) and m not in HEADS and m not in LISTS:
                raise _Refused(f"{m} takes one input, but from lists {len(f)}")
            if m in BASE:
                if not args:
                    raise _Refused(f"{m} needs its output channels as the first argument")
                c1, c2 = ch[f], args[0]
                if not _number(c2):
                    raise _Refused(
                        f"{m}'s first argument (output channels) must be a number, found {c2!r}"
                    )
                if m != "Classify":
                    c2 = make_divisible(min(c2, max_channels) * width, 8)
                if m == "C2fAttn":  # the heads scaled; the embed channels become the hidden ones
                    nh = args[2]
                    args[2] = (
                        int(max(round(min(nh, max_channels // 64)) * width, 1)) if nh > 1 else nh
                    )
                    args[1] = int(c2 * (args[6] if len(args) > 6 else 0.5))
                    if args[1] % args[2]:
                        raise _Refused(
                            f"its hidden channels {args[1]} are not divisible by nh {args[2]}"
                        )
                args = [c1, c2, *args[1:]]
                if m in REPEAT:
                    args.insert(2, n)
                    n = 1
                net.legacy = net.legacy and m not in ("C3k2", "C2fCIB", "A2C2f")
                if m == "C3k2" and chosen in {"m", "l", "x"}:
                    args[3:4] = [True]
                if m == "A2C2f" and chosen in {"l", "x"}:  # residual, with a smaller MLP
                    args.extend((True, 1.2))
            elif m == "AIFI":
                args = [ch[f], *args]
            elif m in ("HGStem", "HGBlock"):
                if len(args) < 2:
                    raise _Refused(f"{m} needs its middle and output channels (cm, c2)")
                c2 = args[1]
                args = [ch[f], *args]
                if m == "HGBlock":
                    args.insert(4, n)
                    n = 1
            elif m == "ResNetLayer":
                if len(args) < 4:
                    raise _Refused("ResNetLayer takes [c1, c2, s, is_first, n, e]")
                c2 = args[1] if args[3] else args[1] * 4
            elif m == "CBLinear":
                if not args or not isinstance(args[0], list) or not all(map(_number, args[0])):
                    raise _Refused("CBLinear takes [c2s, k, s, p, g]: a list of output channels")
                c2 = list(args[0])
                args = [ch[f], c2, *args[1:]]
            elif m == "CBFuse":
                c2 = fuse_channels(table, i, srcs, args, ch)
            elif m == "ImagePoolingAttn":
                args.insert(1, [ch[x] for x in srcs])
            elif m == "nn.BatchNorm2d":
                args = [ch[f]]
            elif m == "Concat":
                c2 = sum(ch[x] for x in srcs)
            elif m in HEADS:  # v10Detect takes [nc, ch]; the others reg_max and end2end too
                chs = [ch[x] for x in srcs]
                args = args[:1] if m == "Depth" else args  # [c_mid, ch]
                if m == "RTDETRDecoder":  # [nc, ch, hd, ...]
                    args.insert(1, chs)
                    chs = None
                plain = m in (
                    "v10Detect",
                    "SemanticSegment",
                    "Depth",
                )  # [nc, ch]: no reg_max, end2end
                if chs is not None:
                    args.extend([chs] if plain else [reg_max, end2end, chs])
                if (
                    m in ("Segment", "Segment26", "YOLOESegment", "YOLOESegment26")
                    and len(args) > 2
                ):
                    args[2] = make_divisible(min(args[2], max_channels) * width, 8)
                heads = refs
            out = _build(net, at, m, n, refs, args, i)
        except _Refused as e:
            raise SpecError(f"row {i} ({m}): {e}", rpos) from None
        except TypeError as e:  # the signature refused the args (or an argument's type)
            raise SpecError(f"row {i} ({m}): {_arity(m, args, e)}", apos) from None
        except BUILD_ERRORS as e:
            raise SpecError(
                f"row {i} ({m}): its arguments build no module ({type(e).__name__}: "
                f"{cut(str(e), 120)})",
                apos,
            ) from None
        if not isinstance(c2, int) and m != "CBLinear":
            raise SpecError(f"row {i} ({m}): its output channels are not a number ({c2!r})", apos)
        prev_c2 = c2
        outs.append(out)
        table.append(Row(i, f, n_, m, args, rpos, at, out, first, len(net.items)))
        if i == 0:
            ch = []
        ch.append(c2)
    if net.assumed:  # data Ultralytics would fetch (text or prompt embeddings), as built offline
        warnings.append((table[-1].pos, net.assumed))
    for name in net.frozen:
        for item, _ in net.items:
            if item["name"] == name:
                item["trainable"] = False
    task = TASKS.get(table[-1].module, "detect")
    title = (
        Path(path).stem.replace("yolo", "YOLO")
        if path not in ("-", "<spec>", "<stdin>")
        else "Model"
    )
    model = Model(
        title, task, ch_in, tuple(imgsz), table, net.leaves, net.functional, heads, net.held
    )
    outputs = net.outputs if net.outputs and table[-1].module in (*HEADS, "Classify") else None
    return [it for it in net.items], model, outputs, warnings


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _value(a, env):
    """parse_model's reading of a string arg: a name it knows (nc, ...), else a Python literal,
    else the text."""
    a = plain(a)
    if isinstance(a, str):
        if a in env:
            return env[a]
        try:
            return ast.literal_eval(a)
        except (ValueError, SyntaxError):
            return a
    return a

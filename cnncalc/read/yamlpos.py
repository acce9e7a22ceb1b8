"""Safe YAML reading that keeps the source position of every value.

Built on PyYAML's event stream (its C parser where present) so that no tag ever constructs
an object, nesting depth and alias expansion are bounded, and no recursion can overflow.
Mappings come back as :class:`Map` (a dict with positions), sequences as :class:`Seq`.
"""

from __future__ import annotations

import functools
import re

import yaml
from yaml.constructor import SafeConstructor

from ..diagnostics import Pos, SpecError

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader

MAX_DEPTH = 100
MAX_NODES = 1_000_000  # values read, aliases counted at their full size

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
MAX_INT = 10**18  # no size, count or index of a net comes near it
_SCALAR_TAGS = {
    "tag:yaml.org,2002:int": SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": SafeConstructor.construct_yaml_float,
    "tag:yaml.org,2002:bool": SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:null": lambda self, node: None,
    _STR: lambda self, node: node.value,
}
_COLLECTION_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_constructor = SafeConstructor()
# the resolver of plain scalars: class tables only (SafeLoader's, the C loader's too)
_RESOLVE = functools.partial(yaml.resolver.Resolver.resolve, yaml.SafeLoader)
_EXP_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$")


class Map(dict):
    """A YAML mapping: ``pos`` of the mapping, ``vpos[key]`` of each value, ``kpos[key]`` of each
    key."""

    __slots__ = ("pos", "vpos", "kpos", "origin")  # origin: the block use a layer was expanded from

    def at(self, key, default: Pos | None = None) -> Pos:
        return self.vpos.get(key, default or self.pos)


class Seq(list):
    """A YAML sequence: ``pos`` of the sequence, ``ipos[i]`` of each item."""

    __slots__ = ("pos", "ipos")


def _short(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def _pos(mark) -> Pos:
    return (mark.line + 1, mark.column + 1)


def loads(text: str):
    """Parse one YAML document into plain values (Map, Seq, str, int, float, bool, None)."""
    loader = _Loader(text)
    stack: list[list] = []
    try:
        return _read(loader, stack)
    except yaml.MarkedYAMLError as e:
        problem, mark = _worded(text, e)
        raise SpecError(
            f"{_layer_context(stack)}invalid YAML: {problem}",
            clamp(text, _pos(mark)) if mark else None,
        ) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow, at its index
        raise _refused_character(text, e) from None
    except yaml.YAMLError as e:  # no position: its first line, in our words
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid YAML"
        raise SpecError(f"invalid YAML: {first}") from None
    except SpecError as e:
        raise SpecError(f"{_layer_context(stack)}{e.message}", e.pos) from None
    finally:
        loader.dispose()


# PyYAML's scanner and parser problems, in a spec writer's words (the rest keep PyYAML's own)
_WORDS = {
    "mapping values are not allowed in this context": (
        "a ': ' here would start a mapping inside a plain value (quote a value that holds "
        "': '; the keys of a nested mapping go under a key with no value)"
    ),
    "did not find expected key": (
        "this line does not line up with the keys above it (a key was expected at its indent)"
    ),
    "did not find expected '-' indicator": (
        "a '- ' item was expected here: the items of a list line up under each other"
    ),
    "did not find expected <document start>": "text after the end of the document",
    "found character that cannot start any token": (
        "this character cannot start a YAML value; quote the value"
    ),
}


def _worded(text: str, e) -> tuple[str, object]:
    """(our words, the mark to place them at) for a PyYAML scanner, parser or composer error:
    an unclosed quote or bracket at the place it opens (PyYAML points at the end of the text)."""
    problem = e.problem or e.context or "invalid YAML"
    mark = e.problem_mark or e.context_mark
    context = e.context or ""
    at_end = mark is not None and mark.index >= len(text.rstrip())
    if e.context_mark is not None and at_end:
        if "quoted scalar" in context:
            return "this quoted string is never closed (its closing quote is missing)", (
                e.context_mark
            )
        if "flow sequence" in context:
            return "this '[' list is never closed (a ']' is missing)", e.context_mark
        if "flow mapping" in context:
            return "this '{' mapping is never closed (a '}' is missing)", e.context_mark
    opened = e.context_mark
    if opened is not None and "flow sequence" in context:
        return (
            f"a ',' or ']' was expected here: the '[' list opened at {_at(opened)} is not closed",
            mark,
        )
    if opened is not None and "flow mapping" in context:
        return (
            f"a ',' or '}}' was expected here: the '{{' mapping opened at {_at(opened)} is "
            "not closed",
            mark,
        )
    if mark is not None and ("'\\t'" in problem or _char_at(text, mark) == "\t"):
        return f"a tab character: YAML indents with spaces only ({problem})", mark
    return _WORDS.get(problem, problem), mark


def _at(mark) -> str:
    return f"{mark.line + 1}:{mark.column + 1}"


def _refused_character(text: str, e) -> SpecError:
    """PyYAML's reader refuses a control character (or U+FFFE, U+FFFF): placed at its line and
    column, and said as a spec's diagnostic."""
    pos = max(0, min(int(e.position), len(text)))
    code = e.character if isinstance(e.character, int) else ord(e.character)
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    what = "control character" if code < 0x20 or 0x7F <= code < 0xA0 else "character"
    return SpecError(
        f"{what} U+{code:04X} is not allowed in YAML; remove it, or write it as an escape in a "
        f'double-quoted string ("\\x{code:02x}")'
        if code < 0x100
        else f"{what} U+{code:04X} is not allowed in YAML; remove it",
        (line, col),
    )


def _char_at(text: str, mark) -> str:
    lines = text.split("\n")
    if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


def clamp(text: str, pos: Pos) -> Pos:
    """A position inside the text: YAML's end-of-stream marks can point past the last line."""
    lines = text.split("\n")
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()
    line = max(1, min(pos[0], len(lines) or 1))
    width = len(lines[line - 1]) if lines else 0
    return line, max(1, min(pos[1], width + 1 if width else 1))


def _merge(c: Map) -> None:
    """YAML merge keys, as yaml.safe_load applies them: ``<<: *base`` (or a list of them) adds
    the keys not written."""
    src = c.pop("<<")
    at = c.vpos.pop("<<", c.pos)
    c.kpos.pop("<<", None)
    sources = src if isinstance(src, Seq) else [src]
    if not all(isinstance(m, Map) for m in sources):
        raise SpecError("a merge key (<<) must name a mapping or a list of mappings", at)
    for m in sources:
        for k, v in m.items():
            if k not in c:
                c[k] = v
                c.vpos[k] = m.vpos.get(k, at)
                c.kpos[k] = m.kpos.get(k, at)


def _layer_context(stack: list[list]) -> str:
    """``layer 'conv1': `` when the reader stopped inside an item of the top-level ``layers``
    list."""
    if (
        len(stack) < 3
        or stack[0][2] != "layers"
        or not isinstance(stack[1][0], Seq)
        or not isinstance(stack[2][0], Map)
    ):
        return ""
    name = stack[2][0].get("name", len(stack[1][0]))
    return f"layer '{name}': " if isinstance(name, (str, int)) else f"layer {len(stack[1][0])}: "


def _read(loader, stack: list[list]):
    anchors: dict[str, tuple[object, int]] = {}
    # stack frames: [container, size, pending key, pending key pos, anchor]
    budget = MAX_NODES
    result = None
    docs = 0

    def add(value, pos, size):
        nonlocal result
        if not stack:
            result = value
            return
        frame = stack[-1]
        frame[1] += size
        c = frame[0]
        if isinstance(c, Seq):
            c.append(value)
            c.ipos.append(pos)
        elif frame[2] is _NO_KEY:
            if isinstance(value, (Map, Seq)):
                raise SpecError("a mapping key must be a plain value, not a list or mapping", pos)
            if value in c:
                raise SpecError(f"duplicate key '{value}'", pos)
            frame[2], frame[3] = value, pos
        else:
            key = frame[2]
            c[key] = value
            c.vpos[key] = pos
            c.kpos[key] = frame[3]
            frame[2] = _NO_KEY

    while True:
        event = loader.get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            budget -= 1
            value = _scalar(loader, event)
            add(value, _pos(event.start_mark), 1)
            if event.anchor:
                anchors[event.anchor] = (value, 1)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.tag not in _COLLECTION_TAGS:
                raise SpecError(
                    f"YAML tag '{_short(event.tag)}' is not allowed in a spec",
                    _pos(event.start_mark),
                )
            if len(stack) >= MAX_DEPTH:
                raise SpecError(
                    f"YAML nested deeper than {MAX_DEPTH} levels", _pos(event.start_mark)
                )
            budget -= 1
            if kind is yaml.MappingStartEvent:
                c = Map()
                c.vpos, c.kpos = {}, {}
            else:
                c = Seq()
                c.ipos = []
            c.pos = _pos(event.start_mark)
            stack.append([c, 1, _NO_KEY, None, event.anchor])
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            c, size, _, _, anchor = stack.pop()
            if kind is yaml.MappingEndEvent and "<<" in c:
                _merge(c)
            add(c, c.pos, size)
            if anchor:
                anchors[anchor] = (c, size)
        elif kind is yaml.AliasEvent:
            if event.anchor not in anchors:
                raise SpecError(f"unknown YAML alias '*{event.anchor}'", _pos(event.start_mark))
            value, size = anchors[event.anchor]
            budget -= size
            if budget < 0:
                break
            add(value, _pos(event.start_mark), size)
        elif kind is yaml.DocumentStartEvent:
            docs += 1
            if docs > 1:
                raise SpecError(
                    "a spec file holds one YAML document, found a second", _pos(event.start_mark)
                )
        elif kind is yaml.StreamEndEvent:
            return result
        if budget < 0:
            break
    raise SpecError(f"YAML expands to more than {MAX_NODES:,} values (aliases counted in full)")


class _NoKey:
    pass


_NO_KEY = _NoKey()


class _Refused(Exception):
    """A scalar that is not a spec's value; ``_scalar`` places it at the scalar."""


def _scalar(loader, event):
    try:
        if event.tag is None and event.implicit[0]:
            return _plain(event.value)
        return _value(event.tag, event.value, event.implicit)
    except _Refused as e:
        raise SpecError(str(e), _pos(event.start_mark)) from None


@functools.lru_cache(maxsize=10_000)
def _plain(text: str):
    """A plain scalar's value: the same text resolves the same way in every document (and the
    values are immutable), so it is resolved once; a refusal is not kept."""
    return _value(None, text, (True, False))


def _value(explicit: str | None, text: str, implicit):
    tag = explicit
    if tag is None or tag == "!":
        tag = _RESOLVE(yaml.ScalarNode, text, implicit) if tag is None else _STR
    if tag == _STR and explicit is None and implicit[0] and _EXP_FLOAT.match(text):
        return float(text)  # YAML 1.1 reads 1e-5 as text; a spec means the number
    construct = _SCALAR_TAGS.get(tag)
    if construct is None:
        if explicit is not None:
            raise _Refused(f"YAML tag '{_short(explicit)}' is not allowed in a spec")
        construct = _SCALAR_TAGS[_STR]  # timestamps, merge keys and the like stay text
    if tag in (_INT, _FLOAT) and len(text) > 64:
        raise _Refused(f"the number {text[:20]}... is longer than 64 characters")
    node = yaml.ScalarNode(tag, text)
    try:
        value = construct(_constructor, node)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, yaml.YAMLError):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise _Refused(f"cannot read {shown!r} as {tag.rsplit(':', 1)[-1]}") from None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise _Refused(
            f"the integer {text[:24]} is larger than {MAX_INT:.0e}, the largest a spec holds"
        )
    return value

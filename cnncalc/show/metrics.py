"""How wide a line of text is drawn: the advance widths of Helvetica (Arial and Liberation Sans
share them), in thousandths of the font size, with a margin for the sans-serif fonts that stand
in for it. Every box, frame and label of a picture is sized from these, and the tests hold the
drawn text to them."""

from __future__ import annotations

import functools

# characters -> advance width (1/1000 em), regular and bold
_REGULAR = {
    " !,./:;I[\\]ft": 278,
    "ijl": 222,
    '"': 355,
    "'": 191,
    "#$0123456789?L_abdeghnopqu": 556,
    "%": 889,
    "&ABEKPSVXY": 667,
    "()-`r": 333,
    "*": 389,
    "+<=>~×": 584,
    "@": 1015,
    "CDHNRUw": 722,
    "FTZ": 611,
    "GOQ": 778,
    "J": 500,
    "Mm": 833,
    "W": 944,
    "^": 469,
    "cksvxyz": 500,
    "{}": 334,
    "|": 260,
    "→": 1000,
}
_BOLD = {
    " ,./\\Iijl": 278,
    "!:;()-[]`ft": 333,
    '"': 474,
    "'": 238,
    "#$0123456789_aceksvxy": 556,
    "%": 889,
    "&ABCDHKNRU": 722,
    "*": 389,
    "+<=>^~×": 584,
    "?FLTZbdghnopqu": 611,
    "@": 975,
    "EPSVXY": 667,
    "GOQw": 778,
    "J": 556,
    "M": 833,
    "W": 944,
    "m": 889,
    "r{}": 389,
    "z": 500,
    "|": 280,
    "→": 1000,
}
MARGIN = 1.06  # the stand-in fonts (DejaVu Sans is the widest common one) run a little wider
UNKNOWN = 1000  # any other character: a full em (wide scripts, symbols)


def _table(groups: dict) -> dict:
    out = {}
    for chars, width in groups.items():
        for c in chars:
            out[c] = width
    return out


_WIDTHS = (_table(_REGULAR), _table(_BOLD))


@functools.lru_cache(maxsize=8192)  # names and shapes repeat
def text_width(text: str, size: float, bold: bool = False) -> float:
    """The drawn width of ``text`` at ``size`` px, an upper estimate."""
    table = _WIDTHS[bold]
    return sum(table.get(c, UNKNOWN) for c in text) * size / 1000 * MARGIN

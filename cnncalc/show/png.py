"""A drawn net as PNG, for slides and issues: the SVG rendered by CairoSVG (the ``png`` extra)."""

from __future__ import annotations

SCALE = 2  # pixels per SVG unit: sharp on a slide


class Unavailable(Exception):
    """CairoSVG or the cairo library it loads is not installed."""


def png(svg_text: str) -> bytes:
    try:
        import cairosvg
    except (ImportError, OSError) as e:  # the cairo library missing surfaces as OSError
        raise Unavailable(
            "PNG output needs CairoSVG and the cairo library: pip install 'cnncalc[png]' "
            f"(Debian: apt-get install libcairo2) ({type(e).__name__}: {e})"
        ) from None
    return cairosvg.svg2png(bytestring=svg_text.encode("utf-8"), scale=SCALE)

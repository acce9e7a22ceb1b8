"""One error type with a source position, and the diagnostic lines the CLI prints.

Everything below the CLI raises :class:`SpecError` (or returns :class:`Diagnostic`
warnings); only ``cli.py`` turns them into ``PATH:LINE:COL: error: MESSAGE`` and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass

Pos = tuple[int, int]  # 1-based (line, column)


class SpecError(Exception):
    """A problem in a spec, at a 1-based (line, column) position."""

    def __init__(self, message: str, pos: Pos | None = None, layer: str | None = None):
        super().__init__(message)
        self.message = message
        self.pos = pos or (1, 1)
        self.layer = layer  # the layer whose shapes do not fit, when the spec itself was read
        self.partial = None  # the analysis of the layers above it
        self._diagnostics = None

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The findings as diagnostics: path, line, col, severity and message."""
        if self._diagnostics is not None:
            return self._diagnostics
        return [Diagnostic("<spec>", self.pos[0], self.pos[1], "error", self.message)]

    @diagnostics.setter
    def diagnostics(self, value: list[Diagnostic]) -> None:
        self._diagnostics = value


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where it is, how bad it is and what it says."""

    path: str
    line: int
    col: int
    severity: str  # "error" | "warning"
    message: str

    @classmethod
    def of(cls, path: str, err: SpecError, severity: str = "error") -> Diagnostic:
        return cls(path, err.pos[0], err.pos[1], severity, err.message)

    def __str__(self) -> str:
        return (
            f"{printable(self.path)}:{self.line}:{self.col}: {self.severity}: "
            f"{printable(self.message)}"
        )


def cut(text: str, n: int = 60) -> str:
    """Text for a message: at most ``n`` characters (a spec's value is never pasted whole)."""
    return text if len(text) <= n else text[: n - 3] + "..."


def printable(text: str) -> str:
    """Control characters (a newline, a terminal escape) shown as escapes: one diagnostic stays
    one line."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean 'Conv2d'?)`` for the nearest choice, or ``""``."""
    import difflib

    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    if word.lower() in lower:
        return f" (did you mean '{lower[word.lower()]}'?)"
    near = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""

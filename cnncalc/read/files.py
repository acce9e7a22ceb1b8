"""A spec's bytes: a regular file (or standard input) of at most MAX_BYTES, decoded as UTF-8."""

from __future__ import annotations

from ..diagnostics import SpecError

MAX_BYTES = 4 << 20  # a spec is text; a larger file is refused before it is read


class NotAFile(OSError):
    """The path is not a regular file (a folder, a FIFO, a device): refused without reading it."""


def read_text(path: str) -> str:
    """A spec file's text ('-': standard input); OSError for a missing or unreadable file,
    SpecError for bytes that are not UTF-8."""
    import os
    import stat

    if path == "-":
        import sys

        data = sys.stdin.buffer.read(MAX_BYTES + 1)
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

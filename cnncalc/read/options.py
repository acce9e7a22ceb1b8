"""What a command line (or a caller) says about how to read a spec, carried as an argument."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadOptions:
    """``scale`` and ``imgsz`` for an Ultralytics model YAML; ``sizes`` the named input dims' sizes
    (``--set H=224``), as sorted (name, size) pairs."""

    scale: str | None = None
    imgsz: int | None = None
    sizes: tuple[tuple[str, int], ...] = ()

    @property
    def set(self) -> dict[str, int]:
        return dict(self.sizes)

    @classmethod
    def of(cls, scale=None, imgsz=None, sizes: dict | None = None) -> ReadOptions:
        return cls(scale, imgsz, tuple(sorted((sizes or {}).items())))


DEFAULT = ReadOptions()

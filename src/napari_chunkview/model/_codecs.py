"""Codecs described as data, never as library objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "(" + ",".join(_fmt(v) for v in value) + ")"
    return str(value)


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """One step of a chunk's codec chain, e.g. ``CodecInfo("zstd", {"level": 3})``.

    ``inner`` holds the inner chain of a container codec (``sharding_indexed``), ``index``
    the chain applied to a shard index.
    """

    name: str
    configuration: Mapping[str, Any] = field(default_factory=dict)
    inner: tuple[CodecInfo, ...] = ()
    index: tuple[CodecInfo, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "configuration", _freeze(dict(self.configuration)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "configuration": _thaw(self.configuration)}
        if self.inner:
            out["inner"] = [c.to_dict() for c in self.inner]
        if self.index:
            out["index"] = [c.to_dict() for c in self.index]
        return out

    def describe(self) -> str:
        """Readable one-line text, e.g. ``zstd(level=3)``."""
        if self.name == "sharding_indexed" and self.inner:
            shape = self.configuration.get("chunk_shape", ())
            where = self.configuration.get("index_location", "end")
            index = " → ".join(c.describe() for c in self.index) or "raw"
            return (
                f"sharding(inner {'×'.join(map(str, shape))}: {describe_chain(self.inner)}; "
                f"index {index} @{where})"
            )
        items = [
            f"{k}={_fmt(v)}"
            for k, v in self.configuration.items()
            if v is not None and not isinstance(v, Mapping)
        ]
        return f"{self.name}({', '.join(items)})" if items else self.name


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def describe_chain(codecs: tuple[CodecInfo, ...]) -> str:
    """``transpose(order=(1,0)) → bytes(endian=little) → zstd(level=3)``."""
    return " → ".join(c.describe() for c in codecs) if codecs else "raw"

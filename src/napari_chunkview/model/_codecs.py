"""Codecs described as data, never as library objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

    def describe(self, shard_shape: Sequence[int] | None = None) -> str:
        """Readable one-line text: ``zstd(3)``, ``bytes(le)``, ``transpose(0,1,3,2)``,
        ``blosc(lz4:5, shuffle)``; a sharding codec reads
        ``<inner chain> inside sharding(64³ of 4×32×32, index crc32c @start)``
        (``shard_shape``, the array's chunk shape, is not part of the codec's own
        configuration: pass it to name the shard's size)."""
        if self.name == "sharding_indexed":
            return _describe_sharding(self, shard_shape)
        short = _SHORT.get(self.name.removeprefix("numcodecs."))
        if short is not None:
            try:
                args = short(self.configuration)
            except (TypeError, ValueError, KeyError):
                args = None
            if args is not None:
                return f"{self.name}({args})" if args else self.name
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


def describe_chain(
    codecs: Sequence[CodecInfo], shard_shape: Sequence[int] | None = None
) -> str:
    """``transpose(1,0) → bytes(le) → zstd(3)``; ``raw`` for an empty chain.
    ``shard_shape`` names the shard size of a sharding codec in the chain."""
    return " → ".join(c.describe(shard_shape) for c in codecs) if codecs else "raw"


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def shape_text(shape: Sequence[int]) -> str:
    """``64³`` for a cube, else ``4×32×32``."""
    shape = [int(s) for s in shape]
    if len(shape) >= 2 and len(set(shape)) == 1:
        return f"{shape[0]}{str(len(shape)).translate(_SUPERSCRIPT)}"
    return "×".join(map(str, shape)) or "scalar"


def _describe_sharding(codec: CodecInfo, shard_shape: Sequence[int] | None) -> str:
    conf = codec.configuration
    inner_shape = conf.get("chunk_shape") or ()
    where = conf.get("index_location", "end")
    # the index is little-endian bytes by the spec: only what follows it is news
    index = [c for c in codec.index if not (c.name == "bytes" and _endian(c.configuration) != "be")]
    index_text = " → ".join(c.describe() for c in index)
    if shard_shape is not None:
        size = f"{shape_text(shard_shape)} of {shape_text(inner_shape)}"
    else:
        size = f"{shape_text(inner_shape)} chunks"
    head = f"sharding({size}, index {index_text + ' ' if index_text else ''}@{where})"
    return f"{describe_chain(codec.inner)} inside {head}" if codec.inner else head


def _level(conf: Mapping[str, Any], *keys: str) -> str:
    for k in keys:
        if conf.get(k) is not None:
            return str(conf[k])
    return ""


def _endian(conf: Mapping[str, Any]) -> str:
    e = conf.get("endian")
    if e is None:
        return ""
    return {"little": "le", "big": "be", "<": "le", ">": "be"}.get(str(e), str(e))


def _transpose(conf: Mapping[str, Any]) -> str:
    order = conf.get("order")
    return ",".join(map(str, order)) if isinstance(order, tuple) else str(order or "")


_SHUFFLE = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle", -1: "autoshuffle"}


def _blosc(conf: Mapping[str, Any]) -> str:
    cname = conf.get("cname", "lz4")
    clevel = conf.get("clevel")
    shuffle = conf.get("shuffle")
    if isinstance(shuffle, int) and not isinstance(shuffle, bool):
        shuffle = _SHUFFLE.get(shuffle, f"shuffle={shuffle}")
    parts = [f"{cname}:{clevel}" if clevel is not None else str(cname)]
    if shuffle:
        parts.append(str(shuffle))
    return ", ".join(parts)


def _zstd(conf: Mapping[str, Any]) -> str:
    out = _level(conf, "level")
    return f"{out}, checksum" if conf.get("checksum") else out


def _gzip(conf: Mapping[str, Any]) -> str:
    out = _level(conf, "level")
    return f"{out}, zlib" if conf.get("useZlib") else out


def _lz4(conf: Mapping[str, Any]) -> str:
    if conf.get("blockSize") is not None:  # N5 lz4: framing block size
        return f"block {conf['blockSize']}"
    return f"acceleration {conf['acceleration']}" if conf.get("acceleration", 1) != 1 else ""


def _delta(conf: Mapping[str, Any]) -> str:
    return ", ".join(str(conf[k]) for k in ("dtype", "astype") if conf.get(k) is not None)


#: Short argument text per codec name (numcodecs ids, zarr v3 names, N5 compressions).
_SHORT: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "bytes": _endian,
    "endian": _endian,
    "n5-block": _endian,
    "transpose": _transpose,
    "zstd": _zstd,
    "gzip": _gzip,
    "zlib": lambda c: _level(c, "level"),
    "bz2": lambda c: _level(c, "level"),
    "bzip2": lambda c: _level(c, "blockSize", "level"),
    "xz": lambda c: _level(c, "preset"),
    "lzma": lambda c: _level(c, "preset"),
    "blosc": _blosc,
    "lz4": _lz4,
    "crc32c": lambda c: "",
    "crc32": lambda c: "",
    "adler32": lambda c: "",
    "raw": lambda c: "",
    "delta": _delta,
    "shuffle": lambda c: _level(c, "elementsize"),
}

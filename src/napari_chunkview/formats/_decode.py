"""Chunk decoders on numcodecs, built from zarr-python's parsed metadata.

zarr-python decodes correctly but pays ~0.2-0.6 ms of event-loop and indexing overhead per
chunk, and tells nobody which chunk was missing or broken. The loading layer needs both
(per-chunk events, one bad chunk flagged rather than the whole read failing), so for the
codecs below we decode each chunk's bytes ourselves with the numcodecs objects zarr-python
already parsed (or the same codecs by name for zarr v3). Anything not listed here returns
``None`` and is read through zarr-python instead, so correctness never depends on this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numcodecs
import numpy as np
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec

from ._inflate import bounded_decoder

Decoder = Callable[[bytes], np.ndarray]
_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
#: Filters may change the item size (``astype``: up to 8 times) between the compressor's output
#: and the array; that output is then bounded by this factor of the chunk's bytes.
_FILTER_FACTOR = 8


def margin(nbytes: int) -> int:
    """Bound on the bytes of a compressed form of ``nbytes`` bytes (compressors expand
    incompressible data by a header and a fraction of a percent at most)."""
    return nbytes + nbytes // 8 + 65536


def _buffer(data: Any) -> memoryview:
    return memoryview(data.tobytes() if isinstance(data, np.ndarray) else data)


def _bytes_codec(name: str, conf: dict[str, Any]) -> Any | None:
    """A numcodecs object for a zarr v3 bytes→bytes codec, ``None`` if unknown."""
    if name == "gzip":
        from ._extra_codecs import GzipOrZlib

        return GzipOrZlib(conf.get("level", -1))
    if name == "zstd":
        return numcodecs.Zstd(level=conf.get("level", 0), checksum=conf.get("checksum", False))
    if name == "blosc":
        shuffle = conf.get("shuffle", "noshuffle")
        return numcodecs.Blosc(
            cname=conf.get("cname", "lz4"),
            clevel=conf.get("clevel", 5),
            shuffle=_SHUFFLE.get(shuffle, shuffle) if isinstance(shuffle, str) else shuffle,
            blocksize=conf.get("blocksize", 0) or 0,
        )
    if name == "crc32c":
        return numcodecs.CRC32C()
    if name.startswith("numcodecs."):
        return numcodecs.get_codec({"id": name.removeprefix("numcodecs."), **conf})
    return None


def v3_parts(codec: Any) -> tuple[str, dict[str, Any]]:
    d = codec.to_dict()
    return str(d["name"]), dict(d.get("configuration") or {})


def v3_chain_decoder(
    codecs: Sequence[Any], chunk_shape: tuple[int, ...], dtype: np.dtype[Any]
) -> Decoder | None:
    """Decoder for a zarr v3 codec chain (zarr-python codec objects) of one chunk of
    ``chunk_shape``; ``None`` when a codec is outside what we decode ourselves."""
    aa = [c for c in codecs if isinstance(c, ArrayArrayCodec)]
    ab = [c for c in codecs if isinstance(c, ArrayBytesCodec)]
    bb = [c for c in codecs if isinstance(c, BytesBytesCodec)]
    if len(ab) != 1 or dtype.kind not in "biufc":
        return None
    name, conf = v3_parts(ab[0])
    if name != "bytes":
        return None
    endian = conf.get("endian") or "little"
    wire = dtype.newbyteorder("<" if endian == "little" else ">") if dtype.itemsize > 1 else dtype
    bytes_codecs = []
    for c in bb:
        obj = _bytes_codec(*v3_parts(c))
        if obj is None:
            return None
        bytes_codecs.append(obj)
    # array→array codecs: only transpose; the array reaching ``bytes`` has the shape
    # after every transpose.
    orders = []
    shape = tuple(chunk_shape)
    for a in aa:
        cname, cconf = v3_parts(a)
        if cname != "transpose":
            return None
        order = tuple(int(i) for i in cconf["order"])
        orders.append(order)
        shape = tuple(shape[i] for i in order)
    encoded_shape = shape
    n = math.prod(encoded_shape)
    expected = n * wire.itemsize
    # decode order: every codec but the innermost one yields compressed bytes (bounded by
    # ``margin``); the innermost yields exactly the chunk's bytes
    steps = [bounded_decoder(obj, margin(expected)) for obj in reversed(bytes_codecs[1:])]
    steps += [bounded_decoder(obj, expected, exact=True) for obj in bytes_codecs[:1]]

    def decode(raw: bytes) -> np.ndarray:
        data: Any = raw
        for step in steps:
            data = step(data)
        arr = np.frombuffer(_buffer(data), dtype=wire)
        if arr.size != n:
            raise ValueError(f"decoded chunk has {arr.size} elements, expected {n}")
        arr = arr.reshape(encoded_shape)
        for order in reversed(orders):
            arr = arr.transpose(np.argsort(order))
        return arr.astype(dtype, copy=False)

    return decode


def v2_wire_dtype(metadata: Any, dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype a zarr v2 array's chunks are stored in (its byte order), given the
    array's native ``dtype`` for metadata that does not say."""
    to_native = getattr(metadata.dtype, "to_native_dtype", None)
    return np.dtype(to_native()) if to_native is not None else dtype


def v2_decoder(metadata: Any, dtype: np.dtype[Any]) -> Decoder | None:
    """Decoder for a zarr v2 chunk (N5 too: its codec returns a full, padded block)."""
    if dtype.kind not in "biufcmM" or dtype.fields is not None:
        return None
    compressor = metadata.compressor
    filters = list(metadata.filters or ())
    chunks = tuple(metadata.chunks)
    order = metadata.order
    n = math.prod(chunks)
    wire = v2_wire_dtype(metadata, dtype)
    expected = n * wire.itemsize
    limit = margin(expected * _FILTER_FACTOR) if filters else expected
    inflate = (
        bounded_decoder(compressor, limit, exact=not filters) if compressor is not None else None
    )
    same = wire == dtype

    def decode(raw: bytes) -> np.ndarray:
        data: Any = inflate(raw) if inflate is not None else raw
        for f in reversed(filters):
            data = f.decode(data)
        if isinstance(data, np.ndarray) and data.dtype == wire and data.size == n:
            arr = data
        else:
            arr = np.frombuffer(_buffer(data), dtype=wire)
        if arr.size != n:
            raise ValueError(f"decoded chunk has {arr.size} elements, expected {n}")
        arr = arr.reshape(chunks, order=order)
        return arr if same else arr.astype(dtype, copy=False)

    return decode

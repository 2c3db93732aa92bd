"""Fuzz targets: each takes the fuzzer's bytes and exercises one chunk-decoding entry point.

The contract under test (the loading layer flags a chunk on *any* exception, but anything
other than these is a bug in our glue): decoding hostile bytes either returns a chunk of
exactly the declared shape or raises ``ValueError`` / a ``ChunkviewError``. A crash, a hang
or memory beyond the fuzzer's ``-rss_limit_mb`` is a bug too.

Targets
-------
``n5_block``   ``formats/_n5_codec.N5BlockCodec.decode`` (header parsing + every compression)
``inflate``    ``formats/_inflate.bounded_decode`` (size-bounded numcodecs decompression)
``zarr_chunk`` ``formats/_decode`` decoders for zarr v2 and v3 codec chains
``shard``      sharding index parsing + inner chunk fetch/decode (``formats/_zarr_source``)
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ALLOWED: tuple[type[BaseException], ...] = (ValueError,)  # + ChunkviewError, set in load()
TARGETS: dict[str, Callable[[bytes], None]] = {}


def load() -> None:
    """Import the code under test (call inside ``atheris.instrument_imports()``)."""
    global ALLOWED
    from napari_chunkview.formats import _decode, _inflate, _n5_codec, _zarr_source  # noqa: F401
    from napari_chunkview.model import ChunkviewError

    ALLOWED = (ValueError, ChunkviewError)


def target(fn: Callable[[bytes], None]) -> Callable[[bytes], None]:
    TARGETS[fn.__name__] = fn
    return fn


def _fdp(data: bytes) -> Any:
    import atheris

    return atheris.FuzzedDataProvider(data)


def _expect(decoded: Any, nbytes: int, what: str) -> None:
    n = decoded.nbytes if hasattr(decoded, "nbytes") else len(decoded)
    if n != nbytes:
        raise AssertionError(f"{what}: decoded {n} bytes, expected {nbytes}")


# -- N5 blocks --------------------------------------------------------------------------------
_N5_COMPRESSIONS = ["raw", "gzip", "zlib", "bzip2", "xz", "lz4", "blosc", "zstd"]
_N5_DTYPES = [">u1", ">u2", ">i4", ">f8"]


@functools.cache
def _n5_codec(kind: str, shape: tuple[int, ...], dtype: str) -> Any:
    from napari_chunkview.formats._n5_codec import N5BlockCodec

    return N5BlockCodec({"type": kind}, shape, dtype)


@target
def n5_block(data: bytes) -> None:
    f = _fdp(data)
    kind = f.PickValueInList(_N5_COMPRESSIONS)
    ndim = f.ConsumeIntInRange(1, 3)
    shape = tuple(f.ConsumeIntInRange(1, 16) for _ in range(ndim))
    dtype = f.PickValueInList(_N5_DTYPES)
    codec = _n5_codec(kind, shape, dtype)
    try:
        out = codec.decode(f.ConsumeBytes(f.remaining_bytes()))
    except ALLOWED:
        return
    _expect(out, math.prod(shape) * np.dtype(dtype).itemsize, "N5 block")


# -- bounded decompression ----------------------------------------------------------------------
@functools.cache
def _numcodecs() -> list[Any]:
    """One codec of every id ``bounded_decode`` bounds (default settings)."""
    import numcodecs

    from napari_chunkview.formats._inflate import BOUNDED_CODEC_IDS

    return [numcodecs.get_codec({"id": cid}) for cid in BOUNDED_CODEC_IDS]


@target
def inflate(data: bytes) -> None:
    from napari_chunkview.formats._inflate import bounded_decode

    f = _fdp(data)
    codec = f.PickValueInList(_numcodecs())
    limit = f.PickValueInList([0, 1, 16, 1000, 1 << 16, 1 << 20])
    exact = f.ConsumeBool()
    try:
        out = bounded_decode(codec, f.ConsumeBytes(f.remaining_bytes()), limit, exact=exact)
    except ALLOWED:
        return
    n = out.nbytes if hasattr(out, "nbytes") else len(out)
    if n > limit or (exact and n != limit):
        raise AssertionError(f"{codec.codec_id}: {n} bytes past the limit {limit}")


# -- zarr v2 / v3 decoders -------------------------------------------------------------------
_V2 = [
    None,
    {"id": "gzip", "level": 1},
    {"id": "zstd"},
    {"id": "blosc"},
    {"id": "lz4"},
    {"id": "chunkview.gzip_or_zlib"},
    {"id": "bz2"},
]
_LE = {"name": "bytes", "configuration": {"endian": "little"}}
_V3 = [
    [{"name": "bytes", "configuration": {"endian": "little"}}],
    [
        {"name": "bytes", "configuration": {"endian": "big"}},
        {"name": "gzip", "configuration": {"level": 1}},
    ],
    [_LE, {"name": "zstd", "configuration": {"level": 1, "checksum": False}}],
    [
        _LE,
        {
            "name": "blosc",
            "configuration": {
                "cname": "zstd",
                "clevel": 1,
                "shuffle": "bitshuffle",
                "typesize": 2,
                "blocksize": 0,
            },
        },
    ],
    [_LE, {"name": "crc32c"}],
    [
        {"name": "transpose", "configuration": {"order": [1, 0]}},
        _LE,
        {"name": "zstd", "configuration": {"level": 1, "checksum": False}},
        {"name": "crc32c"},
    ],
]


@functools.cache
def _v2_decoder(i: int, chunks: tuple[int, int], dtype: str, with_filter: bool) -> Any:
    from zarr.core.metadata.v2 import ArrayV2Metadata

    from napari_chunkview.formats import _extra_codecs  # noqa: F401
    from napari_chunkview.formats._decode import v2_decoder

    meta = ArrayV2Metadata.from_dict(
        {
            "zarr_format": 2,
            "shape": [32, 32],
            "chunks": list(chunks),
            "dtype": dtype,
            "compressor": _V2[i],
            "fill_value": 0,
            "order": "C",
            "filters": [{"id": "delta", "dtype": dtype}] if with_filter else None,
        }
    )
    return v2_decoder(meta, np.dtype(dtype).newbyteorder("="))


@functools.cache
def _v3_decoder(i: int, chunks: tuple[int, int]) -> Any:
    from zarr.core.metadata.v3 import ArrayV3Metadata

    from napari_chunkview.formats._decode import v3_chain_decoder

    meta = ArrayV3Metadata.from_dict(
        {
            "zarr_format": 3,
            "node_type": "array",
            "shape": [32, 32],
            "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": 0,
            "codecs": _V3[i],
        }
    )
    return v3_chain_decoder(tuple(meta.codecs), chunks, np.dtype("uint16"))


@target
def zarr_chunk(data: bytes) -> None:
    f = _fdp(data)
    chunks = (f.ConsumeIntInRange(1, 8), f.ConsumeIntInRange(1, 8))
    if f.ConsumeBool():
        dtype = f.PickValueInList(["<u2", ">u2", "|u1", "<f4"])
        decode = _v2_decoder(f.ConsumeIntInRange(0, len(_V2) - 1), chunks, dtype, f.ConsumeBool())
        itemsize = np.dtype(dtype).itemsize
    else:
        decode = _v3_decoder(f.ConsumeIntInRange(0, len(_V3) - 1), chunks)
        itemsize = 2
    assert decode is not None
    try:
        out = decode(f.ConsumeBytes(f.remaining_bytes()))
    except ALLOWED:
        return
    if out.shape != chunks:
        raise AssertionError(f"decoded shape {out.shape}, expected {chunks}")
    _expect(out, math.prod(chunks) * itemsize, "zarr chunk")


# -- sharding -----------------------------------------------------------------------------------
@functools.cache
def _sharded() -> tuple[Any, Path]:
    import zarr

    from napari_chunkview import open_pyramid

    tmp = Path(tempfile.mkdtemp(prefix="chunkview-fuzz-"))
    path = tmp / "s.zarr"
    zarr.create_array(
        path,
        data=np.arange(64, dtype="uint16").reshape(8, 8),
        chunks=(2, 2),
        shards=(4, 4),
        zarr_format=3,
    )
    source = open_pyramid(path).levels[0].source
    return source, path / "c" / "0" / "0"


@target
def shard(data: bytes) -> None:
    source, shard_file = _sharded()
    shard_file.write_bytes(data)
    source._sharding._cache.clear()  # the index of the previous input
    inner = [(i, j) for i in range(2) for j in range(2)]
    try:
        raws = source.fetch(inner)
    except ALLOWED:
        return
    for idx, raw in zip(inner, raws, strict=True):
        if raw is None:
            continue
        try:
            out = source.decode(idx, raw)
        except ALLOWED:
            continue
        if out.shape != (2, 2):
            raise AssertionError(f"decoded shape {out.shape}")


def seeds() -> dict[str, list[bytes]]:
    """A few valid inputs per target (fuzzing starts from them)."""
    import numcodecs

    payload = np.arange(16, dtype=">u2").tobytes()
    header = np.array([0, 2], ">u2").tobytes() + np.array([4, 2], ">u4").tobytes()
    # FuzzedDataProvider consumes choices from the *end* of the input; prefix = payload
    out: dict[str, list[bytes]] = {
        "n5_block": [
            header + bytes(numcodecs.GZip(1).encode(payload)) + b"\x01\x01\x01\x02\x04",
            header + payload + b"\x00\x01\x02\x04\x00",
        ],
        "inflate": [
            bytes(c.encode(bytes(1000))) + b"\x03\x01\x00"
            for c in _numcodecs()
            if c.codec_id != "chunkview.gzip_or_zlib"
        ],
        "zarr_chunk": [bytes(numcodecs.GZip(1).encode(bytes(32))) + b"\x01\x01\x01\x04\x04"],
    }
    _source, shard_file = _sharded()
    out["shard"] = [shard_file.read_bytes()]
    return out

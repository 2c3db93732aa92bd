"""The N5 block codec ``chunkview.n5``: header + compressed payload → one full chunk.

Written by hand because no Python N5 reader decodes all the N5 data that exists
(``shared/FORMATS.md`` §5.2): tensorstore has no n5-java ``lz4`` (lz4-java ``LZ4Block``
framing) and rejects the legacy ``compressionType`` form, zarr-n5 knows 4 of the 7
compressions, z5py fails on n5-java lz4 and needs a root ``attributes.json``. The block
format itself is small: a big-endian header, then the payload of one compressor.

zarr-python does the chunk I/O (the N5 adapter builds zarr v2 metadata with this codec as
the compressor); this codec turns one stored block into the full, C-ordered, big-endian
chunk zarr-python expects, padding truncated edge blocks with zeros.
"""

from __future__ import annotations

import bz2
import lzma
import math
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy
from numcodecs.registry import register_codec

from ..model import UnsupportedError
from ._inflate import zstd_content_size

#: Compression ``type``s this codec decodes (``zlib`` is listed in the N5 README intro).
COMPRESSIONS = frozenset({"raw", "gzip", "zlib", "bzip2", "xz", "lz4", "blosc", "zstd"})
_MODES = {1: "varlength", 2: "object"}
_LZ4_MAGIC = b"LZ4Block"
_LZ4_HEADER = len(_LZ4_MAGIC) + 1 + 3 * 4
#: Slack allowed when asking a streaming decompressor for output (to detect overlong data).
_SLACK = 1


class N5BlockCodec(Codec):  # type: ignore[misc]
    """Decodes one N5 block (mode 0, "default") into a full ``block_shape`` chunk.

    Parameters
    ----------
    compression
        The dataset's N5 ``compression`` object (legacy ``compressionType`` already turned
        into ``{"type": ...}``).
    block_shape
        The chunk shape in C order (N5 ``blockSize`` reversed).
    dtype
        numpy big-endian typestr of the elements, e.g. ``">u2"`` (``"|u1"`` for bytes).
    """

    codec_id = "chunkview.n5"

    def __init__(
        self, compression: Mapping[str, Any], block_shape: Sequence[int], dtype: str
    ) -> None:
        self.compression = dict(compression)
        self.block_shape = [int(b) for b in block_shape]
        self.dtype = str(dtype)
        kind = self.compression.get("type")
        if kind not in COMPRESSIONS:
            raise UnsupportedError(f"N5 compression {kind!r} is not supported")
        self._decompress: Callable[[memoryview, int], bytes | np.ndarray] = _DECOMPRESS[kind]
        self._dtype = np.dtype(dtype)

    def encode(self, buf: Any) -> bytes:  # pragma: no cover - we never write
        raise NotImplementedError("napari-chunkview only reads")

    def decode(self, buf: Any, out: Any = None) -> Any:
        data = memoryview(ensure_contiguous_ndarray(buf).view("u1")).cast("B")
        ndim = len(self.block_shape)
        if len(data) < 4:
            raise ValueError(f"N5 block is {len(data)} bytes, shorter than its header")
        mode, n = struct.unpack_from(">HH", data, 0)
        if mode in _MODES:
            raise UnsupportedError(f"N5 block mode {mode} ({_MODES[mode]}) is not supported")
        if mode != 0:
            raise ValueError(f"N5 block has unknown mode {mode}")
        if n != ndim:
            raise ValueError(f"N5 block header has {n} dimensions, the dataset {ndim}")
        start = 4 + 4 * ndim
        if len(data) < start:
            raise ValueError(f"N5 block is {len(data)} bytes, shorter than its header")
        # Header dims are in N5 order (fastest axis first): reverse them to C order.
        dims = struct.unpack_from(f">{ndim}I", data, 4)[::-1]
        if any(d > b for d, b in zip(dims, self.block_shape, strict=True)):
            raise ValueError(
                f"N5 block header size {list(dims[::-1])} exceeds blockSize "
                f"{self.block_shape[::-1]} (both in N5 order)"
            )
        expected = math.prod(dims) * self._dtype.itemsize
        try:
            raw = self._decompress(data[start:], expected)
        except (UnsupportedError, ValueError):
            raise
        except Exception as e:  # zlib.error, OSError, lzma.LZMAError, RuntimeError, ...
            kind = self.compression["type"]
            raise ValueError(f"N5 block: {kind} payload does not decode ({e})") from None
        nbytes = raw.nbytes if isinstance(raw, np.ndarray) else len(raw)
        if nbytes != expected:
            raise ValueError(
                f"N5 block payload is {nbytes} bytes, its header says {list(dims[::-1])} "
                f"x {self._dtype.itemsize} B = {expected} bytes"
            )
        arr = np.frombuffer(raw, dtype=self._dtype).reshape(dims)
        if list(dims) != self.block_shape:  # truncated edge block: pad to the full chunk
            full = np.zeros(self.block_shape, dtype=self._dtype)
            full[tuple(slice(0, d) for d in dims)] = arr
            arr = full
        return ndarray_copy(arr, out) if out is not None else arr


def edge_check(
    shape: Sequence[int], block_shape: Sequence[int]
) -> Callable[[tuple[int, ...], bytes], None]:
    """A check of each block's header against where the block is (all in C order): its
    size must be the full ``block_shape`` (interior blocks, padded edge blocks) or what is
    left of the array at its edge (truncated edge blocks). The codec alone cannot tell:
    it does not know which block it decodes."""
    shape, block = [int(s) for s in shape], [int(b) for b in block_shape]
    ndim = len(block)
    fmt = f">{ndim}I"

    def check(index: tuple[int, ...], raw: bytes) -> None:
        if len(raw) < 4 + 4 * ndim or raw[:2] != b"\x00\x00" or raw[2:4] != ndim.to_bytes(2, "big"):
            return  # not a default-mode header of this rank: the codec says what is wrong
        dims = list(struct.unpack_from(fmt, raw, 4)[::-1])
        if dims == block or any(d > b for d, b in zip(dims, block, strict=True)):
            return  # (larger than a block: the codec refuses it)
        edge = [min(b, s - i * b) for i, b, s in zip(index, block, shape, strict=True)]
        if dims != edge:
            raise ValueError(
                f"N5 block {list(index[::-1])}: header size {dims[::-1]} is neither blockSize "
                f"{block[::-1]} nor the edge {edge[::-1]} (N5 order)"
            )

    return check


# -- decompressors: (payload, expected size) → bytes, never inflating far past ``expected`` --


def _raw(buf: memoryview, expected: int) -> bytes:
    return bytes(buf)


def _stream(dec: Any, buf: memoryview, expected: int) -> bytes:
    out: bytes = dec.decompress(buf, expected + _SLACK)
    if len(out) > expected:
        raise ValueError(f"N5 block payload decompresses to more than {expected} bytes")
    return out


def _gzip(buf: memoryview, expected: int) -> bytes:
    # wbits 47 = auto-detect gzip or zlib framing (n5-java ``useZlib``).
    return _stream(zlib.decompressobj(47), buf, expected)


def _bzip2(buf: memoryview, expected: int) -> bytes:
    return _stream(bz2.BZ2Decompressor(), buf, expected)


def _xz(buf: memoryview, expected: int) -> bytes:
    return _stream(lzma.LZMADecompressor(), buf, expected)


def _lz4(buf: memoryview, expected: int) -> bytes:
    """lz4-java ``LZ4BlockOutputStream`` framing, as n5-java writes it: repeated
    ``"LZ4Block"`` + token + LE int32 compressed length + LE int32 decompressed length +
    LE int32 checksum + data; a block with decompressed length 0 ends the stream. The
    token's high nibble is the method (0x10 raw, 0x20 lz4), its low nibble the level.
    (The xxhash32 checksum is not verified: that would need another dependency.)

    z5py writes a bare lz4 block instead (no framing, no size): a payload that does not
    start with ``"LZ4Block"`` is decoded as one, into at most ``expected`` bytes."""
    import lz4.block

    if bytes(buf[: len(_LZ4_MAGIC)]) != _LZ4_MAGIC:
        return lz4.block.decompress(bytes(buf), uncompressed_size=expected)  # type: ignore[no-any-return]
    parts: list[bytes] = []
    pos, total = 0, 0
    while True:
        if len(buf) - pos < _LZ4_HEADER or bytes(buf[pos : pos + 8]) != _LZ4_MAGIC:
            raise ValueError("N5 lz4 payload: missing LZ4Block header")
        token = buf[pos + 8]
        clen, dlen, _checksum = struct.unpack_from("<iiI", buf, pos + 9)
        pos += _LZ4_HEADER
        if dlen == 0 and clen == 0:
            break
        if clen < 0 or dlen < 0 or clen > len(buf) - pos:
            raise ValueError(f"N5 lz4 payload: bad block lengths {clen}/{dlen}")
        if total + dlen > expected:
            raise ValueError(f"N5 lz4 payload declares more than {expected} bytes")
        data = bytes(buf[pos : pos + clen])
        pos += clen
        method = token & 0xF0
        if method == 0x10:
            if clen != dlen:
                raise ValueError("N5 lz4 payload: raw block with differing lengths")
            parts.append(data)
        elif method == 0x20:
            part = lz4.block.decompress(data, uncompressed_size=dlen)
            if len(part) != dlen:
                raise ValueError(f"N5 lz4 block decoded to {len(part)} bytes, not {dlen}")
            parts.append(part)
        else:
            raise ValueError(f"N5 lz4 payload: unknown block method {token:#04x}")
        total += dlen
    return b"".join(parts)


def _blosc(buf: memoryview, expected: int) -> np.ndarray:
    from numcodecs import Blosc

    if len(buf) < 16:
        raise ValueError("N5 blosc payload is shorter than a blosc header")
    nbytes, _blocksize, cbytes = struct.unpack_from("<III", buf, 4)
    if nbytes != expected or cbytes > len(buf):
        raise ValueError(
            f"N5 blosc payload holds {nbytes} bytes in {cbytes} (of {len(buf)}), "
            f"expected {expected}"
        )
    out = np.empty(expected, dtype="u1")
    Blosc().decode(buf, out=out)
    return out


def _zstd_content_size(buf: memoryview) -> int | None:
    """The frame content size a zstd frame header declares, ``None`` when absent."""
    try:
        return zstd_content_size(buf)
    except ValueError as e:
        raise ValueError(f"N5 zstd payload: {e}") from None


def _zstd(buf: memoryview, expected: int) -> np.ndarray:
    from numcodecs import Zstd

    declared = _zstd_content_size(buf)
    if declared is not None and declared != expected:
        raise ValueError(f"N5 zstd frame declares {declared} bytes, expected {expected}")
    # With ``out`` numcodecs decodes into that buffer only (and, for frames without a
    # declared size, checks that exactly ``expected`` bytes came out).
    out = np.empty(expected, dtype="u1")
    Zstd().decode(buf, out=out)
    return out


_DECOMPRESS: dict[str, Callable[[memoryview, int], Any]] = {
    "raw": _raw,
    "gzip": _gzip,
    "zlib": _gzip,
    "bzip2": _bzip2,
    "xz": _xz,
    "lz4": _lz4,
    "blosc": _blosc,
    "zstd": _zstd,
}

register_codec(N5BlockCodec)

"""Whole-box reads through tensorstore, for local zarr arrays whose codecs it decodes.

Why: the per-chunk path (``fetch`` + ``decode`` in Python) pays ~20–40 µs of interpreter
work per chunk besides the I/O and the decompression themselves, so on small chunks it
is several times slower than a reader in C++ (benchmarks/run.py --only throughput: a
1024² view of 256 chunks of 64², 12 ms per chunk vs 3.5 ms with tensorstore). tensorstore
reads and decodes a box on its own threads, without the GIL.

It is only ever asked for boxes whose chunks are all expected to be stored: with
``fill_missing_data_reads`` off a missing chunk fails the read, and so does an
undecodable one; the loading layer then reads those chunks one by one through the
per-chunk path, which tells a missing chunk from a broken one and flags it. Decoding is
bounded by the chunk size (a chunk that inflates beyond it is an error, not an
allocation). Arrays are handed to tensorstore only when it reads the same keys with the
same codecs as we do (checked below); anything else keeps the per-chunk path, so
correctness never depends on this module.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._store import _NOFOLLOW, StoreRoot

log = logging.getLogger(__name__)


#: zarr v2 compressors (numcodecs ids) that tensorstore's ``zarr`` driver decodes.
V2_COMPRESSORS = frozenset({"blosc", "zlib", "gzip", "bz2", "zstd"})
#: zarr v3 codecs that tensorstore's ``zarr3`` driver decodes.
V3_CODECS = frozenset({"bytes", "transpose", "gzip", "blosc", "zstd", "crc32c", "sharding_indexed"})
#: ``CHUNKVIEW_TENSORSTORE=0`` keeps every read on the per-chunk path.
ENABLED = os.environ.get("CHUNKVIEW_TENSORSTORE", "1").lower() not in ("0", "false", "no")

_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> Any:
    """One tensorstore context for every array: its cache off (the loading layer has the
    shared chunk cache), its thread pools shared."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            import tensorstore as ts

            _CONTEXT = ts.Context({"cache_pool": {"total_bytes_limit": 0}})
        return _CONTEXT


def _v3_json_names(codecs: Sequence[Any]) -> set[str]:
    """Names of the codecs of a zarr v3 chain given as JSON, those inside shards too."""
    names: set[str] = set()
    for c in codecs:
        c = {"name": c} if isinstance(c, str) else c
        names.add(str(c["name"]))
        conf = c.get("configuration") or {}
        if c["name"] == "sharding_indexed":
            names |= _v3_json_names([*conf.get("codecs", ()), *conf.get("index_codecs", ())])
    return names


def _v3_codec_names(codecs: Sequence[Any]) -> set[str]:
    """The same for zarr-python codec objects (their ``to_dict`` is that JSON)."""
    return _v3_json_names([c.to_dict() for c in codecs])


def _their_key(meta: dict[str, Any], index: Sequence[int], v2: bool) -> str:
    """The key tensorstore reads for chunk ``index``, from the metadata it parsed."""
    if v2:
        sep = meta.get("dimension_separator") or "."
        return sep.join(map(str, index)) or "0"
    enc = meta.get("chunk_key_encoding") or {}
    conf = enc.get("configuration") or {}
    if enc.get("name", "default") == "default":
        sep = conf.get("separator", "/")
        return sep.join(["c", *map(str, index)])
    sep = conf.get("separator", ".")
    return sep.join(map(str, index)) or "0"


def eligible(metadata: Any, dtype: np.dtype[Any]) -> str | None:
    """``None`` when tensorstore can read this array as we do, else why not."""
    from zarr.core.metadata.v2 import ArrayV2Metadata

    if dtype.kind not in "biufc" or dtype.fields is not None:
        return f"data type {dtype}"
    if isinstance(metadata, ArrayV2Metadata):
        if metadata.filters:
            return "zarr v2 filters"
        comp = metadata.compressor
        if comp is not None and comp.codec_id not in V2_COMPRESSORS:
            return f"compressor {comp.codec_id}"
        return None
    names = _v3_codec_names(metadata.codecs)
    if not names <= V3_CODECS:
        return f"codecs {sorted(names - V3_CODECS)}"
    if "sharding_indexed" in names and (
        len(metadata.codecs) != 1
        or "sharding_indexed" in _v3_codec_names(
            [*metadata.codecs[0].codecs, *metadata.codecs[0].index_codecs]
        )
    ):
        return "sharding nested or among other codecs"
    # (tensorstore allocates what a blosc header declares before it finds the chunk too
    # big: every chunk's header is checked first, ``BoxReader.blosc_max``; inner chunks'
    # through the shard index, ``ZarrSource._checked_reader``)
    return None


def _has_blosc(metadata: Any) -> bool:
    from zarr.core.metadata.v2 import ArrayV2Metadata

    if isinstance(metadata, ArrayV2Metadata):
        return metadata.compressor is not None and metadata.compressor.codec_id == "blosc"
    return "blosc" in _v3_codec_names(metadata.codecs)


class BoxReader:
    """Reads a box (every ``step``-th element) of one array with tensorstore.

    ``blosc_max``: for blosc-compressed chunks, the most bytes a chunk's blosc header may
    declare (the chunk's size plus a little); tensorstore trusts that header and would
    allocate whatever it says (a 1 KiB chunk can declare 2 GiB), so ``LocalFiles`` reads
    the 16 header bytes of each chunk before a box is handed to tensorstore.
    """

    #: Chunks per tensorstore call, about: a read over more is made band by band along
    #: the first axis. tensorstore fetches every chunk of a call at once and decodes them
    #: as it can, so one call over 4096 chunks of 2 MiB held up to 1.5 GiB (measured,
    #: the 65536² overview); bands of 64 chunks stay near 200 MiB.
    BAND_CHUNKS = 64

    def __init__(self, store: Any, blosc_max: int | None) -> None:
        self._store = store
        self.blosc_max = blosc_max
        self._chunks = tuple(int(c) for c in store.chunk_layout.read_chunk.shape)

    def __call__(
        self, box: Sequence[tuple[int, int]], step: Sequence[int] | None = None
    ) -> np.ndarray:
        steps = tuple(step or (1,) * len(box))
        if not box:
            return np.asarray(self._store.read().result())
        touched = math.prod(
            -(-b // c) * c - (a // c) * c for (a, b), c in zip(box, self._chunks, strict=True)
        )
        if all(k == 1 for k in steps) and touched <= 2 * math.prod(b - a for a, b in box):
            # the chunks hold at most twice the block: one call is fastest, and what it
            # holds at once is about the block (1 GiB of 64³ chunks: 0.8-0.9 s, against
            # 2-3 s in bands joined by ``np.concatenate``, which copies the block again)
            return np.asarray(self._store[tuple(slice(a, b) for a, b in box)].read().result())
        (a0, b0), k0, c0 = box[0], steps[0], self._chunks[0]
        per_row = math.prod(
            -(-(b - a) // c) if k <= c else -(-(b - a) // k)
            for (a, b), k, c in zip(box[1:], steps[1:], self._chunks[1:], strict=True)
        )
        rows = max(1, self.BAND_CHUNKS // max(1, per_row))
        n0 = len(range(a0, b0, k0))
        band = max(1, rows * c0 // k0)  # output elements along axis 0 per call
        rest = tuple(slice(a, b, k) for (a, b), k in zip(box[1:], steps[1:], strict=True))
        if band >= n0:
            return np.asarray(self._store[(slice(a0, b0, k0), *rest)].read().result())
        parts = []
        for j in range(0, n0, band):
            lo = a0 + j * k0
            hi = min(b0, a0 + (j + band) * k0)
            parts.append(np.asarray(self._store[(slice(lo, hi, k0), *rest)].read().result()))
        return np.concatenate(parts, axis=0)


    def start(self, box: Sequence[tuple[int, int]]) -> Callable[[], np.ndarray]:
        """Start reading ``box`` in one call, on tensorstore's threads; the function
        returned waits for the block (and raises what the read raised). For boxes of
        small chunks only: there is no banding here."""
        fut = self._store[tuple(slice(a, b) for a, b in box)].read()
        return lambda: np.asarray(fut.result())


def open_box_reader(
    root_dir: str,
    path: str,
    metadata: Any,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    our_key: Callable[[Sequence[int]], str],
) -> BoxReader | None:
    """A function box → array for the array at ``path`` under the local folder
    ``root_dir``, or ``None`` when tensorstore would read it differently from us."""
    from zarr.core.metadata.v2 import ArrayV2Metadata

    if not ENABLED:
        return None
    why = eligible(metadata, dtype)
    if why is not None:
        log.debug("%s: per-chunk reads (%s)", path, why)
        return None
    v2 = isinstance(metadata, ArrayV2Metadata)
    try:
        import tensorstore as ts
    except ImportError:  # a dependency, but reads never depend on it
        return None

    kv_path = os.path.join(root_dir, path) if path else root_dir
    spec = {
        "driver": "zarr" if v2 else "zarr3",
        "kvstore": {"driver": "file", "path": kv_path.rstrip("/") + "/"},
        "fill_missing_data_reads": False,
        "recheck_cached_data": False,
    }
    try:
        store = ts.open(spec, read=True, open=True, context=_context()).result()
        theirs = store.spec().to_json()["metadata"]
    except Exception as e:  # its metadata parser disagrees with ours: stay per-chunk
        log.debug("%s: tensorstore cannot open it (%s)", path, e)
        return None
    if tuple(store.shape) != tuple(shape) or np.dtype(store.dtype.numpy_dtype) != dtype:
        return None
    # tensorstore reads the documents on disk; we may have mended them (legacy nested
    # keys, z5py's gzip that is zlib, ...): it must read the keys we read, decoded as we do
    ones = (1,) * len(shape)
    if our_key(ones) != (f"{path}/" if path else "") + _their_key(theirs, ones, v2):
        return None
    if v2:
        comp = theirs.get("compressor") or {}
        ours = metadata.compressor.codec_id if metadata.compressor is not None else None
        order = getattr(metadata.order, "value", metadata.order)
        if comp.get("id") != ours or str(theirs.get("order")) != str(order):
            return None
    elif _v3_json_names(theirs.get("codecs") or []) != _v3_codec_names(metadata.codecs):
        return None

    if v2:
        chunk_shape = metadata.chunks
    elif "sharding_indexed" in _v3_codec_names(metadata.codecs):
        chunk_shape = metadata.codecs[0].chunk_shape  # blosc works on the inner chunks
    else:
        chunk_shape = metadata.chunk_grid.chunk_shape
    chunk_nbytes = math.prod(chunk_shape) * dtype.itemsize
    return BoxReader(store, chunk_nbytes + 64 if _has_blosc(metadata) else None)


class LocalFiles:
    """Checks that the files tensorstore is about to read are plain files inside the
    root: its ``file`` driver follows symlinks, and a dataset must never make us read
    outside itself (the per-chunk path opens with ``O_NOFOLLOW``). Folders are checked by
    the store root (``StoreRoot.local_dir_inside``, remembered there); the names in each
    folder that are not regular files (symlinks, folders, devices) come from one
    ``scandir`` per folder, remembered here."""

    def __init__(self, root: StoreRoot) -> None:
        assert root.local_dir is not None
        self.store_root = root
        self.root = root.local_dir
        self._odd: dict[str, frozenset[str] | None] = {}  # folder → odd names; None: outside
        self._lock = threading.Lock()

    def _scan(self, rel: str) -> frozenset[str] | None:
        odd = self._odd.get(rel, ())
        if odd != ():
            return odd  # type: ignore[return-value]
        result: frozenset[str] | None
        if not self.store_root.local_dir_inside(rel):
            result = None
        else:
            try:
                with os.scandir(os.path.join(self.root, rel) if rel else self.root) as it:
                    result = frozenset(
                        e.name for e in it if e.is_symlink() or not e.is_file(follow_symlinks=False)
                    )
            except FileNotFoundError:
                result = frozenset()
            except OSError:
                result = None
        with self._lock:
            self._odd[rel] = result
        return result

    def plain(self, keys: Sequence[str], blosc_max: int | None = None) -> bool:
        """Every key is a regular file (or absent) in a folder inside the root; with
        ``blosc_max``, every file's blosc header declares at most that many bytes."""
        for key in keys:
            parent, _, name = key.rpartition("/")
            odd = self._scan(parent)
            if odd is None or name in odd:
                return False
        if blosc_max is not None:
            return self._blosc_ok(keys, blosc_max)
        return True

    def blosc_ok_at(self, key: str, offsets: np.ndarray, most: int) -> bool:
        """The blosc streams at ``offsets`` of file ``key`` (inner chunks of a shard)
        each declare at most ``most`` bytes. One ``pread`` of 16 bytes per header: 32
        headers of a 9 MiB shard in 0.05 ms, against 0.2-2.5 ms through a read-only map
        of the file (mapping and unmapping cost more than the reads)."""
        try:
            fd = os.open(os.path.join(self.root, key), _NOFOLLOW)
        except OSError:  # gone, a symlinked file (ELOOP), ...
            return False
        try:
            if offsets.size and int(offsets.max()) > os.fstat(fd).st_size - 16:
                return False  # a header past the end: the per-chunk path says which
            for offset in offsets.tolist():
                head = os.pread(fd, 16, offset)
                if len(head) < 16 or struct.unpack_from("<I", head, 4)[0] > most:
                    return False
        except OSError:
            return False
        finally:
            os.close(fd)
        return True

    def _blosc_ok(self, keys: Sequence[str], most: int) -> bool:
        for key in keys:
            try:
                fd = os.open(os.path.join(self.root, key), _NOFOLLOW)
            except FileNotFoundError:
                continue
            except OSError:  # a symlinked file (ELOOP), ...
                return False
            try:
                head = os.pread(fd, 16, 0)
            finally:
                os.close(fd)
            if len(head) < 16 or struct.unpack_from("<I", head, 4)[0] > most:
                return False
        return True

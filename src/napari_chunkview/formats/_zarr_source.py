"""``ChunkSource`` over a zarr-python ``Array`` (used for zarr v2, v3, N5 and the v3 draft:
each adapter builds zarr metadata and lets zarr-python read what we do not decode).

Besides ``read(box)`` (zarr-python, always correct), a source offers the loading layer a
per-chunk fast path, ``fetch`` + ``decode``, when ``_decode`` knows every codec of the
chain: fetch returns the stored bytes of each chunk (``None`` = missing), decode turns them
into the full chunk. For a sharded array the chunks are the inner chunks; ``fetch`` reads
shard indexes (cached) and then byte ranges.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import ByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.array import Array, AsyncArray
from zarr.core.metadata.v2 import ArrayV2Metadata
from zarr.storage import StorePath

from ..model import ChunkGrid, GridSource
from . import _bulk
from ._decode import Decoder, margin, v2_decoder, v3_chain_decoder
from ._store import Refused, StoreRoot
from ._ts_engine import BoxReader, LocalFiles, open_box_reader

KeyFn = Callable[[Sequence[int]], str]
#: (chunk index, stored bytes) → None, or ``ValueError`` when the bytes cannot be that chunk
RawCheck = Callable[[tuple[int, ...], bytes], None]
_EMPTY = 2**64 - 1


def zarr_array(root: StoreRoot, path: str, metadata: Any) -> zarr.Array:
    """A zarr ``Array`` for already-parsed ``metadata`` at ``path`` (no store read)."""
    return Array(AsyncArray(metadata, StorePath(root.store, path)))


class _Sharding:
    """Where each inner chunk of a shard lives (the ``sharding_indexed`` index)."""

    def __init__(self, codec: Any, shard_shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.inner = tuple(codec.chunk_shape)
        self.per_shard = tuple(s // c for s, c in zip(shard_shape, self.inner, strict=True))
        self.at_end = str(getattr(codec.index_location, "value", codec.index_location)) == "end"
        n = math.prod(self.per_shard)
        index_names = [c.to_dict()["name"] for c in codec.index_codecs]
        self.has_crc = "crc32c" in index_names
        self.index_nbytes = 16 * n + (4 if self.has_crc else 0)
        self.decode_inner = v3_chain_decoder(codec.codecs, self.inner, dtype)
        # an inner chunk's stored bytes: its decoded size plus any compressor overhead
        self.max_chunk_nbytes = margin(math.prod(self.inner) * dtype.itemsize)
        self.ok = self.decode_inner is not None and set(index_names) <= {"bytes", "crc32c"}
        self._cache: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._lock = threading.Lock()

    def index_request(self) -> ByteRequest:
        if self.at_end:
            return SuffixByteRequest(self.index_nbytes)
        return RangeByteRequest(0, self.index_nbytes)

    def parse_index(self, raw: bytes | None) -> np.ndarray | None:
        if raw is None:
            return None
        if isinstance(raw, Refused):
            raise ValueError(raw.reason)
        if len(raw) != self.index_nbytes:
            raise ValueError(f"shard index is {len(raw)} bytes, expected {self.index_nbytes}")
        if self.has_crc:
            import numcodecs

            try:
                raw = numcodecs.CRC32C().decode(raw)
            except RuntimeError as e:  # numcodecs' checksum mismatch
                raise ValueError(f"shard index: {e}") from None
        return np.frombuffer(raw, dtype="<u8").reshape(*self.per_shard, 2)

    def cached_index(self, key: str) -> tuple[bool, np.ndarray | None]:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return True, self._cache[key]
        return False, None

    def remember(self, key: str, index: np.ndarray | None) -> None:
        with self._lock:
            self._cache[key] = index
            while len(self._cache) > 4096:
                self._cache.popitem(last=False)


class ZarrSource(GridSource):
    """Reads an array through zarr-python; ``key_fn`` maps a storage-unit index (a shard's
    for sharded arrays) to its store key."""

    def __init__(self, array: zarr.Array, key_fn: KeyFn, check_raw: RawCheck | None = None) -> None:
        self._array = array
        self._key_fn = key_fn
        self._check_raw = check_raw  # format-specific checks of a chunk's stored bytes
        shards = getattr(array, "shards", None)
        self._grid = ChunkGrid(
            tuple(array.shape), tuple(array.chunks), tuple(shards) if shards else None
        )
        # native byte order for napari/vispy; decoders and ``read`` convert
        dtype = np.dtype(array.dtype)
        self._dtype = dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype
        self._root: StoreRoot | None = getattr(array.store_path.store, "_owner", None)
        self._sharding: _Sharding | None = None
        self._decoder = self._make_decoder()
        self._box_reader: BoxReader | None = None
        self._box_reader_known = self._root is None or self._root.local_dir is None
        self._box_lock = threading.Lock()
        self._bulk_mode = (
            _bulk.layout(array.metadata, self._dtype, self._grid.shard_shape is not None)
            if self._root is not None and self._root.local_dir is not None and check_raw is None
            else None
        )
        if self._grid.shard_shape is not None and (self._sharding is None or not self._sharding.ok):
            self._bulk_mode = None
        self._bulk_template = self._key_template() if self._bulk_mode is not None else None
        if self._bulk_template is None:
            self._bulk_mode = None

    def _make_decoder(self) -> Decoder | None:
        meta = self._array.metadata
        if self._root is None:
            return None
        if isinstance(meta, ArrayV2Metadata):
            return v2_decoder(meta, self._dtype)
        codecs = tuple(meta.codecs)
        if self._grid.shard_shape is not None:
            sharding = [c for c in codecs if c.to_dict()["name"] == "sharding_indexed"]
            if len(codecs) != 1 or len(sharding) != 1:
                return None
            self._sharding = _Sharding(sharding[0], self._grid.shard_shape, self._dtype)
            return self._sharding.decode_inner if self._sharding.ok else None
        return v3_chain_decoder(codecs, self._grid.chunk_shape, self._dtype)

    @property
    def array(self) -> zarr.Array:
        return self._array

    @property
    def fill_value(self) -> Any:
        return self._array.fill_value

    @property
    def has_fast_path(self) -> bool:
        return self._decoder is not None

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        sel = tuple(slice(a, b) for a, b in box)
        out = np.asarray(self._array[sel] if sel else self._array[()])
        return out.astype(self._dtype, copy=False) if out.dtype != self._dtype else out

    def chunk_key(self, index: Sequence[int]) -> str:
        unit = self._grid.shard_shape
        if unit is not None:
            index = [
                i * c // s for i, c, s in zip(index, self._grid.chunk_shape, unit, strict=True)
            ]
        return self._key_fn(tuple(index))

    # -- fast path ------------------------------------------------------------------------
    def fetch(self, indices: Sequence[tuple[int, ...]]) -> list[bytes | None]:
        """Stored bytes of each chunk (``None`` = not stored)."""
        assert self._root is not None and self._decoder is not None
        if self._sharding is None:
            return self._root.fetch([(self.chunk_key(i), None) for i in indices])
        sh = self._sharding
        keys = [self.chunk_key(i) for i in indices]
        todo = sorted({k for k in keys if not sh.cached_index(k)[0]})
        broken: dict[str, str] = {}  # shard key → why its index is unusable (not cached)
        if todo:
            raws = self._root.fetch([(k, sh.index_request()) for k in todo])
            for k, raw in zip(todo, raws, strict=True):
                try:
                    sh.remember(k, sh.parse_index(raw))
                except ValueError as e:
                    broken[k] = f"{k}: {e}"
        requests: list[tuple[str, ByteRequest | None]] = []
        where: list[int] = []
        out_bad: dict[int, Refused] = {}
        for n, (idx, key) in enumerate(zip(indices, keys, strict=True)):
            if key in broken:
                out_bad[n] = Refused.because(broken[key])
                continue
            index = sh.cached_index(key)[1]
            if index is None:
                continue
            pos = tuple(i % p for i, p in zip(idx, sh.per_shard, strict=True))
            offset, nbytes = (int(v) for v in index[pos])
            if offset == _EMPTY and nbytes == _EMPTY:
                continue
            if nbytes > sh.max_chunk_nbytes or offset >= 2**63 - nbytes:
                out_bad[n] = Refused.because(
                    f"shard index entry of chunk {idx} in {key} is out of bounds "
                    f"(offset {offset}, {nbytes} bytes)"
                )
                continue
            requests.append((key, RangeByteRequest(offset, offset + nbytes)))
            where.append(n)
        out: list[bytes | None] = [None] * len(indices)
        raws = self._root.fetch(requests)
        for n, (key, rng), raw in zip(where, requests, raws, strict=True):
            assert isinstance(rng, RangeByteRequest)
            if raw is not None and not isinstance(raw, Refused) and len(raw) != rng.end - rng.start:
                raw = Refused.because(
                    f"shard index entry of chunk {indices[n]} in {key} points past the end "
                    f"of the shard (bytes {rng.start} to {rng.end})"
                )
            out[n] = raw
        for n, bad in out_bad.items():
            out[n] = bad
        return out

    def shard_index(self, shard: tuple[int, ...]) -> np.ndarray | None:
        """The index of shard ``shard`` (``(*chunks_per_shard, 2)`` of offset, nbytes),
        ``None`` when the shard is not stored."""
        sh = self._sharding
        if sh is None or self._root is None:
            raise ValueError("not a sharded array with a readable index")
        key = self._key_fn(tuple(shard))
        known, index = sh.cached_index(key)
        if not known:
            index = sh.parse_index(self._root.fetch([(key, sh.index_request())])[0])
            sh.remember(key, index)
        return index

    def box_reader(self) -> BoxReader | None:
        """Reads a box whose chunks are all stored, in one call (see ``_ts_engine``);
        ``None`` when this array keeps per-chunk reads. Opened on first use."""
        if not self._box_reader_known:
            with self._box_lock:
                if not self._box_reader_known:
                    assert self._root is not None and self._root.local_dir is not None
                    self._box_reader = open_box_reader(
                        self._root.local_dir,
                        self._array.store_path.path,
                        self._array.metadata,
                        self.shape,
                        self._dtype,
                        self.chunk_key if self._sharding is None else self._key_fn,
                    )
                    self._files = LocalFiles(self._root)
                    self._box_reader_known = True
        return self._box_reader

    def read_stored(
        self,
        box: Sequence[tuple[int, int]],
        indices: Sequence[tuple[int, ...]],
        step: Sequence[int] | None = None,
    ) -> np.ndarray | None:
        """``box`` (every ``step``-th element; the chunks ``indices`` are all it touches)
        read in one call by the box reader; ``None`` when there is none or a chunk's file
        is not a plain file inside the dataset. Raises when a chunk is missing or cannot
        be decoded."""
        reader = self._checked_reader(indices)
        return None if reader is None else reader(box, step)

    def start_read_stored(
        self, box: Sequence[tuple[int, int]], indices: Sequence[tuple[int, ...]]
    ) -> Callable[[], np.ndarray] | None:
        """Like ``read_stored`` (no steps), but the read runs on tensorstore's threads
        while the caller works: returns the function that waits for the block."""
        reader = self._checked_reader(indices)
        return None if reader is None else reader.start(box)

    def _checked_reader(self, indices: Sequence[tuple[int, ...]]) -> BoxReader | None:
        """The box reader, once every chunk in ``indices`` is checked safe to hand it
        (``LocalFiles.plain``); ``None`` when there is none or a chunk is not."""
        reader = self.box_reader()
        if reader is None or self._root is None:
            return None
        keys = {self._root.map_key(self.chunk_key(i)) for i in indices}
        sh = self._sharding
        if sh is None:
            return reader if self._files.plain(sorted(keys), reader.blosc_max) else None
        if not self._files.plain(sorted(keys)):
            return None
        if reader.blosc_max is not None and not self._inner_blosc_ok(indices, reader.blosc_max):
            return None
        return reader

    def _inner_blosc_ok(self, indices: Sequence[tuple[int, ...]], most: int) -> bool:
        """Every stored inner chunk in ``indices`` (the ones tensorstore decodes: it reads
        inner chunks by their byte ranges) has a usable place in its shard's index (as the
        per-chunk path requires) and a blosc header that declares at most ``most`` bytes."""
        shards, at, length = self._inner_places(np.asarray(indices, np.int64))
        if (length == _bulk.BAD).any():
            return False  # the per-chunk path says what is wrong
        stored = np.flatnonzero(length >= 0)
        if (length[stored] < 16).any():
            return False
        assert self._root is not None
        for shard in set(map(tuple, shards[stored].tolist())):
            mine = stored[(shards[stored] == shard).all(axis=1)]
            key = self._root.map_key(self._key_fn(shard))
            if not self._files.blosc_ok_at(key, at[mine], most):
                return False
        return True

    # -- compiled reads of many small chunks (``_bulk``) ----------------------------------
    @property
    def bulk_capable(self) -> bool:
        """Whether ``read_bulk`` can serve this array (a local folder, plain chunks)."""
        return self._bulk_mode is not None

    def bulk_ready(self) -> bool:
        """Whether ``read_bulk`` can run now; starts preparing it when it cannot yet."""
        return self._bulk_mode is not None and _bulk.warm_up(when_quiet=True)

    def _key_template(self) -> tuple[str, str] | None:
        """``(head, separator)`` when every chunk's (shard's) key (mapped) is ``head`` and
        its indices in decimal joined by the separator (zarr's key encodings), found by
        asking our key function; ``None`` otherwise."""
        nd = len(self.shape)
        if not nd or self._root is None:
            return None
        probe = tuple(10**a + 7 * a + 3 for a in range(nd))  # digits of all lengths
        key = self._root.map_key(self._key_fn(probe))
        zero = self._root.map_key(self._key_fn((0,) * nd))
        for sep in "./":
            body = sep.join(map(str, probe))
            head = key[: -len(body)]
            if key.endswith(body) and zero == head + sep.join("0" * nd):
                return head, sep
        return None

    def read_bulk(
        self,
        indices: Sequence[tuple[int, ...]],
        box: Sequence[tuple[int, int]],
        out: np.ndarray,
        keep: bool,
        run_parts: Callable[[list[Callable[[], Any]]], None],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Read the chunks ``indices`` of ``box`` into ``out`` in compiled code (see
        ``_bulk.read``: status per chunk, stored sizes, and the chunks when ``keep``);
        ``None`` when it cannot (not ready, or a chunk folder leads outside the dataset:
        the per-chunk path then says which). Inner chunks of shards are read at the
        places their shard's index gives; those it does not give (not stored, an index
        that cannot be read, an entry out of bounds) are left to the per-chunk path."""
        root, template = self._root, self._bulk_template
        if self._bulk_mode is None or root is None or template is None or not self.bulk_ready():
            return None
        head, sep = template
        index = np.asarray(indices, np.int64)
        places = None if self._sharding is None else self._inner_places(index)
        names = index if places is None else places[0]
        # the folders holding the chunk files must resolve inside the dataset (the files
        # themselves are opened without following a symlink)
        nested = sep == "/" and names.shape[1] > 1
        # (a set of tuples: np.unique sorts, 0.4 ms for the 1024 chunks of a plane)
        rows = set(map(tuple, (names if nested else names[:1])[:, :-1].tolist()))
        folders = {(head + sep.join(map(str, [*r, 0]))).rpartition("/")[0] for r in rows}
        if not all(root.local_dir_inside(d) for d in folders):
            return None
        prefix = root.local_dir or ""
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        return _bulk.read(
            prefix + head, sep, index, self._grid.chunk_shape, self._dtype.itemsize,
            self._bulk_mode, box, out, keep, run_parts, places,
        )

    def _inner_places(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For inner chunks ``index`` (``(n, ndim)``): their shards' indices, and each
        chunk's offset and length in its shard; ``_bulk.SKIP`` for a chunk not stored,
        ``_bulk.BAD`` where the shard's index cannot be read or gives a place that ``fetch``
        refuses."""
        sh = self._sharding
        assert sh is not None
        per = np.asarray(sh.per_shard, np.int64)
        shards, which = np.unique(index // per, axis=0, return_inverse=True)
        local = index % per
        at = np.zeros(len(index), np.int64)
        length = np.full(len(index), _bulk.SKIP, np.int64)
        for s, shard in enumerate(shards.tolist()):
            mine = np.flatnonzero(which.reshape(-1) == s)
            try:
                entries = self.shard_index(tuple(shard))
            except ValueError:
                length[mine] = _bulk.BAD
                continue
            if entries is None:
                continue  # not stored
            got = entries[tuple(local[mine].T)]  # (m, 2) offsets and lengths
            off, nb = got[:, 0], got[:, 1]
            stored = ~((off == _EMPTY) & (nb == _EMPTY))
            # the bounds ``fetch`` checks (there, offset >= 2**63 - nbytes is refused)
            usable = stored & (nb <= sh.max_chunk_nbytes)
            usable &= off < np.uint64(2**63) - np.minimum(nb, np.uint64(2**62))
            length[mine[stored & ~usable]] = _bulk.BAD
            at[mine[usable]] = off[usable].astype(np.int64)
            length[mine[usable]] = nb[usable].astype(np.int64)
        return index // per, at, length

    def decode(self, index: tuple[int, ...], raw: bytes) -> np.ndarray:
        """The full chunk (``grid.chunk_shape``) from its stored bytes."""
        assert self._decoder is not None
        if isinstance(raw, Refused):
            raise ValueError(raw.reason)
        if self._check_raw is not None:
            self._check_raw(index, raw)
        return self._decoder(raw)

    def __repr__(self) -> str:
        return f"ZarrSource({self._array.store_path}, shape={self.shape}, dtype={self.dtype})"

"""The array-like napari reads: it slices exactly the chunks in view, through one shared
cache, reporting every chunk on the event stream, and never lets one bad chunk take a
read down (the chunk is filled with the fill value and flagged)."""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from functools import partial
from typing import Any

import numpy as np

from ..formats import _bulk, _memory
from ..model import ChunkSource, ChunkviewError, error_reason
from ._cache import CACHE, MISSING, ChunkCache
from ._events import EVENTS, ChunkEvent, EventStream
from ._pool import shared_pool

log = logging.getLogger(__name__)
Index = tuple[int, ...]
Box = Sequence[tuple[int, int]]


def _default_max_read() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


#: One read larger than this is refused with a clear error instead of a MemoryError.
MAX_READ_BYTES = _default_max_read()
#: Chunks fetched per task: remote stores fetch a batch concurrently, so bigger batches
#: overlap more latency; local batches keep both cores decoding.
_LOCAL_BATCH, _REMOTE_BATCH = 8, 16
_TOKENS = itertools.count()
#: Fewer chunks than this are read one by one even when a box reader exists.
_MIN_BOX_CHUNKS = 2
#: Chunks above this size are decoded one by one when the box only grazes them.
_THIN_CHUNK_BYTES = 256 << 10
#: Box reads are used for stored chunks of at least this size (see ``_boxes_pay``).
_BOX_MIN_CHUNK_BYTES = 256 << 10
#: Reads of at least this many small chunks are split between tensorstore and this
#: thread (see ``_start_split``), when the half for tensorstore is at most this big.
_MIN_SPLIT_CHUNKS, _SPLIT_MAX_BYTES = 128, 64 << 20
#: The share of the chunks tensorstore reads in a split read (0.5 to 0.7 measured alike
#: on a 2048² plane of 64² chunks; this thread also checks tensorstore's blosc headers).
_SPLIT_FAR = 0.6
#: Chunks of a box read up to this size are cached as views of it (see ``_load_box``).
_VIEW_BLOCK_BYTES = 16 << 20
#: Reads of at least this many small chunks go to the compiled reader (``_read_bulk``).
_MIN_BULK_CHUNKS = 8


def _local_batch(source: ChunkSource) -> int:
    """Chunks per task for local reads: about 8 MiB of decoded chunks, at least 8. On
    small chunks the per-chunk work is interpreter time that threads cannot share (the
    GIL), so splitting a view of 8 KiB chunks over threads makes it slower, not faster
    (a 2048² plane of 1024 chunks of 64² uint16: 24 ms on one thread, 33-38 ms in
    batches of 256 over two); big chunks decode without the GIL, in parallel."""
    base: Any = getattr(source, "base", None) or source  # a virtual level decodes its base's
    nbytes = math.prod(base.grid.chunk_shape) * max(1, np.dtype(base.dtype).itemsize)
    return max(_LOCAL_BATCH, min(4096, (8 << 20) // max(1, nbytes)))


def _boxes_pay(source: ChunkSource) -> bool:
    """Whether box reads (tensorstore) beat chunk-by-chunk reads for this source: for
    virtual levels (strided reads decode in C and keep only the samples), shards, and
    stored chunks of at least ``_BOX_MIN_CHUNK_BYTES`` (decoded in C on several
    threads). Below that, the chunk-by-chunk path on one thread wins: tensorstore's part
    is as fast, but a box read adds a blosc header check per chunk and a copy of the
    block (measured on a 2048² uint16 plane, chunk by chunk vs box: 64² chunks 22.5 vs
    29.8 ms, 128² 8.5 vs 10.4 ms, 256² 5.6 vs 6.1 ms)."""
    grid = source.grid
    if getattr(source, "base", None) is not None or grid.shard_shape is not None:
        return True
    nbytes = math.prod(grid.chunk_shape) * max(1, np.dtype(source.dtype).itemsize)
    return nbytes >= _BOX_MIN_CHUNK_BYTES


def warm_up(timeout: float | None = None) -> bool:
    """Prepare the compiled reader of many small chunks now and wait for it (at most
    ``timeout`` seconds); returns whether it is available. Without this, the first read
    of enough small chunks starts preparing it in the background (numba: about 0.5 s
    once compiled code is cached on disk, a few seconds the very first time), and reads
    go chunk by chunk meanwhile."""
    return _bulk.warm_up(wait=True, timeout=timeout)


def _pool() -> ThreadPoolExecutor:
    return shared_pool("io")


def _ahead_pool() -> ThreadPoolExecutor:
    """Read-ahead (see ``LevelArray._read_thin``) has its own pool, one thread per core, so
    that it never holds up the reads somebody waits for."""
    return shared_pool("ahead", workers=os.cpu_count() or 2)


#: Read-ahead batches not finished yet, in every level (for ``settle``).
_PENDING: set[Future[Any]] = set()
_PENDING_LOCK = threading.Lock()


def _drop_read_ahead() -> None:
    """Cancel the read-ahead batches still queued (those under way finish)."""
    with _PENDING_LOCK:
        pending = list(_PENDING)
    for f in pending:
        f.cancel()


# The interpreter joins pool threads at exit after running every queued task: read-ahead
# nobody will look at (up to an eighth of the cache) must not hold up closing napari.
# These hooks run newest first, so this one runs before that join (``concurrent.futures``
# registered its own when ``ThreadPoolExecutor`` was imported above).
if (_register_atexit := getattr(threading, "_register_atexit", None)) is not None:
    _register_atexit(_drop_read_ahead)


def settle(timeout: float | None = None) -> bool:
    """Wait until no read-ahead is running or queued (at most ``timeout`` seconds); returns
    whether none is left. Reads never need this: a read of chunks being read ahead waits
    for them by itself. It is for measurements and tests that clear the cache."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _PENDING_LOCK:
            pending = list(_PENDING)
        if not pending:
            return True
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        wait_futures(pending, timeout=left)


def _normalise(key: Any, shape: Sequence[int]) -> tuple[list[tuple[int, int]], list[Any]]:
    """Basic indexing → (box to read, post-selection on the read block)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1 :]
    key = key + (slice(None),) * (len(shape) - len(key))
    if len(key) != len(shape):
        raise IndexError(f"too many indices for a {len(shape)}-d array")
    box: list[tuple[int, int]] = []
    post: list[Any] = []
    for k, n in zip(key, shape, strict=True):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step < 0:
                raise IndexError("negative steps are not supported")
            box.append((start, max(start, stop)))
            post.append(slice(None, None, step) if step != 1 else slice(None))
        else:
            i = int(k)
            i = i + n if i < 0 else i
            if not 0 <= i < n:
                raise IndexError(f"index {k} out of bounds for axis of size {n}")
            box.append((i, i + 1))
            post.append(0)
    return box, post


class LevelArray:
    """``shape``/``dtype``/``ndim``/``__getitem__`` over a ``ChunkSource``.

    Chunk states for the inspector: ``state(index)`` is ``"loaded"``, ``"missing"``,
    ``"failed"``, ``"in_flight"`` or ``"not_loaded"``; ``failures`` maps a chunk index to
    the reason it could not be read.
    """

    def __init__(
        self,
        source: ChunkSource,
        name: str = "",
        cache: ChunkCache | None = None,
        events: EventStream | None = None,
    ) -> None:
        self.source = source
        self.name = name
        self.shape = tuple(source.shape)
        self.dtype = source.dtype
        self.ndim = len(self.shape)
        self.size = math.prod(self.shape)
        self.cache = CACHE if cache is None else cache
        self.events = EVENTS if events is None else events
        self.failures: dict[Index, str] = {}
        # cache keys use a token, not id(): ids are reused once an object is collected
        self._token = next(_TOKENS)
        self._in_flight: set[Index] = set()
        #: chunks being read ahead → the batch reading them (see ``_read_thin``)
        self._ahead: dict[Index, Future[Any]] = {}
        self._lock = threading.Lock()
        self._fast = bool(getattr(source, "has_fast_path", False))
        root = getattr(source, "_root", None)
        self._batch = _REMOTE_BATCH if getattr(root, "is_remote", False) else _local_batch(source)
        self._boxes = callable(getattr(source, "read_stored", None))
        self._box_worth_it = _boxes_pay(source)
        compiled = bool(getattr(source, "bulk_capable", False))
        self._bulk = compiled and not self._box_worth_it
        #: thin reads through big chunks may use the compiled reader too (``_read_thin``)
        self._thin_compiled = compiled and self._box_worth_it
        self._dask: Any = None

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    @property
    def dask(self) -> Any:
        """A dask array over this array, chunked along storage boundaries (built once)."""
        d = self._dask
        if d is None:
            from ._dask import as_dask

            with self._lock:
                if self._dask is None:
                    self._dask = as_dask(self)
                d = self._dask
        return d

    def __repr__(self) -> str:
        return f"LevelArray({self.name!r}, shape={self.shape}, dtype={self.dtype})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.read_box([(0, n) for n in self.shape])
        return out.astype(dtype) if dtype is not None else out

    def __getitem__(self, key: Any) -> Any:
        """Basic indexing is lazy: it returns a ``LevelView`` (nothing is read until
        ``np.asarray``); a stepped slice reads at once."""
        box, post = _normalise(key, self.shape)
        if any(isinstance(p, slice) and p.step not in (None, 1) for p in post) or not any(
            isinstance(p, slice) for p in post
        ):  # stepped slices and single elements are read at once
            return self.read_box(box)[tuple(post)]
        return LevelView(self, box, tuple(isinstance(p, slice) for p in post))

    # -- states ---------------------------------------------------------------------------
    def _ckey(self, idx: Index) -> tuple[int, Index]:
        return (self._token, idx)

    def state(self, idx: Index) -> str:
        idx = tuple(idx)
        if idx in self._in_flight:
            return "in_flight"
        if idx in self.failures:
            return "failed"
        hit = self.cache.peek(self._ckey(idx))
        if hit is None:
            return "not_loaded"
        return "missing" if hit is MISSING else "loaded"

    def known_states(self) -> dict[Index, str]:
        """The state of every chunk that is not ``"not_loaded"``, in one pass over the
        cache: cheaper than ``state()`` per chunk when a view covers very many chunks."""
        token = self._token
        out = {
            k[1]: ("missing" if v is MISSING else "loaded")
            for k, v in self.cache.items()
            if isinstance(k, tuple) and k[0] == token
        }
        with self._lock:
            out.update(dict.fromkeys(self.failures, "failed"))
            out.update(dict.fromkeys(self._in_flight, "in_flight"))
        return out

    # -- reading --------------------------------------------------------------------------
    def read_box(self, box: Box) -> np.ndarray:
        shape = tuple(max(0, b - a) for a, b in box)
        if 0 in shape:
            return _memory.empty(shape, self.dtype)
        nbytes = math.prod(shape) * max(1, self.dtype.itemsize)
        if nbytes > MAX_READ_BYTES:
            raise ChunkviewError(
                f"refusing to read {nbytes / 2**30:.1f} GiB at once from {self.name} "
                f"(limit {MAX_READ_BYTES / 2**30:.1f} GiB): read a smaller region"
            )
        # chunk regions tile the box: fill only those of missing or failed chunks
        # (touching the whole block first costs page faults on large reads)
        grid = self.source.grid
        if self._bulk or self._thin_compiled:
            _bulk.busy()
        empty: list[Index] = []
        hits: list[tuple[Index, np.ndarray]] = []
        todo = self._lookup(list(grid.chunks_in_box(box)), hits, empty)
        taken: list[Index] = []
        if self._ahead and todo:
            todo, taken = self._join_ahead(todo, hits, empty)
        out: np.ndarray | None = None
        finish: Any = None
        ahead: list[Index] = []  # chunks to read ahead once the answer is ready
        src: Any = self.source
        if self._bulk and len(todo) >= _MIN_BULK_CHUNKS and src.bulk_ready():
            out = _memory.empty(shape, self.dtype)
            todo = self._read_bulk(box, out, todo)
        elif len(todo) >= _MIN_BOX_CHUNKS and self._box_worth_it and (
            self._boxes or self._thin_compiled
        ):
            out, todo = self._load_box(box, shape, todo, not hits and not empty, ahead)
        elif len(todo) >= _MIN_SPLIT_CHUNKS and self._boxes and self._fast:
            todo, finish = self._start_split(todo)
        if out is None:
            out = _memory.empty(shape, self.dtype)
        todo += taken  # whole chunks, as the read-ahead would have
        paste = _Paster(grid, box, out).fn
        for idx, hit in hits:
            paste(idx, hit)
        if todo:
            empty += self._read_chunks(todo, paste)
        if finish is not None:
            rest = finish(out, box)
            if rest:  # the box read failed: chunk by chunk finds which chunk and why
                empty += self._read_chunks(rest, paste)
        if empty:
            fill = self._fill_block(())
            for idx in empty:
                out[grid.overlap(box, idx)[0]] = fill
        if ahead:
            self._read_ahead(ahead)
        return out

    def _lookup(
        self, indices: list[Index], hits: list[tuple[Index, np.ndarray]], empty: list[Index]
    ) -> list[Index]:
        """Sort ``indices`` by the cache: cached chunks go to ``hits``, chunks cached as not
        stored to ``empty``; returns the chunks to read."""
        todo: list[Index] = []
        token = self._token
        for idx, hit in zip(
            indices, self.cache.get_many([(token, i) for i in indices]), strict=True
        ):
            if hit is None:
                todo.append(idx)
                continue
            if self.events.active:
                self.events.emit(ChunkEvent("cache_hit", self.name, idx))
            if hit is MISSING:
                empty.append(idx)
            else:
                hits.append((idx, hit))
        return todo

    def _join_ahead(
        self, todo: list[Index], hits: list[tuple[Index, np.ndarray]], empty: list[Index]
    ) -> tuple[list[Index], list[Index]]:
        """Chunks of ``todo`` that are being read ahead: waits for the batches that have
        started and takes back those still queued (the read-ahead pool may hold batches
        of planes the viewer has left). Returns the chunks to read as usual and those
        taken back, which this read reads whole, chunk by chunk."""
        batches: dict[Future[Any], list[Index]] = {}
        with self._lock:
            for i in todo:
                f = self._ahead.get(i)
                if f is not None:
                    batches.setdefault(f, []).append(i)
        if not batches:
            return todo, []
        # a cancelled batch's done-callback clears its marks
        taken = {i for f, mine in batches.items() if f.cancel() for i in mine}
        if len(taken) == sum(map(len, batches.values())):
            return [i for i in todo if i not in taken], sorted(taken)
        wait_futures([f for f in batches if not f.cancelled()])
        todo = self._lookup(todo, hits, empty)
        return [i for i in todo if i not in taken], [i for i in todo if i in taken]

    def _read_chunks(
        self, todo: list[Index], paste: Callable[[Index, np.ndarray], None]
    ) -> list[Index]:
        """Read ``todo`` chunk by chunk (in batches, on the pool when there are several)
        and paste them; returns the chunks to fill (missing or failed). Each batch pastes
        its own chunks as soon as they are decoded, on its thread (the blocks are
        disjoint; numpy copies without the GIL): pasting 2048 chunks of 64³ into a
        1 GiB block after all of them were decoded took 2.5 s on the calling thread."""
        load = self._load_fast if self._fast else self._load_slow

        def run(batch: list[Index]) -> list[Index]:
            empty = []
            for idx, chunk in load(batch):
                if chunk is None:
                    empty.append(idx)
                else:
                    paste(idx, chunk)
            return empty

        batches = [todo[i : i + self._batch] for i in range(0, len(todo), self._batch)]
        if len(batches) == 1:
            return run(batches[0])
        return [idx for empty in _pool().map(run, batches) for idx in empty]

    def _read_bulk(self, box: Box, out: np.ndarray, todo: list[Index]) -> list[Index]:
        """Read ``todo`` into ``out`` (the block for ``box``) with the source's compiled
        reader (``formats/_bulk``: both cores, no GIL; a 2048² plane of 1024 chunks of
        64² uint16 in about 8 ms, against 17-23 ms chunk by chunk and 9-13 ms for
        tensorstore), in groups of at most ``_VIEW_BLOCK_BYTES`` of chunks, which are
        cached as views of their group's buffer. Returns the chunks it left to the
        per-chunk path (missing, unusual or broken ones, or all when it could not run)."""
        grid = self.source.grid
        chunk_nbytes = math.prod(grid.chunk_shape) * self.dtype.itemsize
        keep = len(todo) * chunk_nbytes <= self.cache.max_bytes // 8
        per_group = max(1, _VIEW_BLOCK_BYTES // max(1, chunk_nbytes))
        rest: list[Index] = []
        for g in range(0, len(todo), per_group):
            group = todo[g : g + per_group]
            t0 = time.perf_counter()
            got = self._try_bulk(group, box, out, keep)
            if got is None:
                rest += group
                continue
            status, sizes, chunks = got
            ok = np.flatnonzero(status == 0)
            done = [group[i] for i in ok]
            if len(done) < len(group):
                rest += [group[i] for i in np.flatnonzero(status != 0)]
            if keep and chunks is not None:
                chunks.flags.writeable = False  # and so every chunk, a view of it
                token = self._token
                rows = list(chunks) if len(done) == len(group) else [chunks[i] for i in ok]
                self.cache.put_many(
                    [((token, idx), row) for idx, row in zip(done, rows, strict=True)],
                    cost=chunk_nbytes,
                )
            self._report_done(done, chunk_nbytes, time.perf_counter() - t0, sizes[ok])
            with self._lock:
                self._in_flight.difference_update(group)
                if self.failures:
                    for idx in done:
                        self.failures.pop(idx, None)
        return rest

    def _try_bulk(self, chunks: list[Index], box: Box, out: np.ndarray, keep: bool) -> Any:
        """The source's compiled read of ``chunks`` (in flight meanwhile; see
        ``_read_bulk``), or ``None`` when it could not run (their marks cleared)."""
        with self._lock:
            self._in_flight.update(chunks)
        try:
            got = self.source.read_bulk(chunks, box, out, keep, _run_parts)  # type: ignore[attr-defined]
        except Exception as e:  # a bug, not bad data: the per-chunk path still reads
            log.warning("compiled read of %s failed (%s): chunk by chunk", self.name, e)
            got = None
        if got is None:
            with self._lock:
                self._in_flight.difference_update(chunks)
        return got

    def _report_done(
        self, done: list[Index], decoded: int, seconds: float, stored: Any = None
    ) -> None:
        """Events and store reports for chunks read together in ``seconds`` (only when
        somebody listens): each chunk's latency is the whole call's. ``stored``: each
        chunk's stored bytes; without it, the store is asked (not for inner chunks of
        shards, whose size only the shard index knows)."""
        src: Any = self.source
        root = getattr(src, "_root", None)
        report = root is not None and root.has_listeners
        active = self.events.active
        if not (active or report):
            return
        ask = stored is None and root is not None and self.source.grid.shard_shape is None
        for n, idx in enumerate(done):
            key = src.chunk_key(idx)
            nbytes: int | None
            if stored is not None:
                nbytes = int(stored[n])
            else:
                nbytes = root.size(key) if ask and root is not None else None
            if report and root is not None:
                root.report(key, nbytes, seconds / len(done))
            if active:
                self.events.emit(ChunkEvent("requested", self.name, idx, key))
                self.events.emit(ChunkEvent(
                    "done", self.name, idx, key, nbytes_stored=nbytes or 0,
                    nbytes_decoded=decoded, ms=seconds * 1e3, fetch_ms=0.0,
                ))

    def _start_split(self, todo: list[Index]) -> tuple[list[Index], Any]:
        """Many small chunks: the far half of the block is read by tensorstore, on its own
        threads, while this thread reads the near half chunk by chunk. Either path alone
        leaves a core idle (chunk by chunk is interpreter time, one thread at a time;
        a box read of small chunks spends a third of its time checking blosc headers in
        Python first): together, a 2048² plane of 1024 chunks of 64² takes 17-18 ms
        instead of 23 (tensorstore alone: 11-13 ms, without the checks we need).

        Returns the chunks for this thread and a function ``finish(out, box)`` that waits
        for the far half, pastes it into ``out`` and returns the chunks it could not read
        (all of the far half when the box read failed); ``(todo, None)`` when no split."""
        grid = self.source.grid
        idx_arr = np.asarray(todo)
        lo, hi = idx_arr.min(axis=0), idx_arr.max(axis=0) + 1
        if int(np.prod(hi - lo)) != len(todo):
            return todo, None  # some chunks cached already: not one block
        ax = next((a for a in range(len(todo[0])) if hi[a] - lo[a] >= 2), None)
        if ax is None:
            return todo, None
        mid = int(lo[ax]) + max(1, int((hi[ax] - lo[ax]) * (1 - _SPLIT_FAR)))
        near = [i for i in todo if i[ax] < mid]
        far = [i for i in todo if i[ax] >= mid]
        flo = [int(v) for v in lo]
        flo[ax] = mid
        rbox = tuple(
            (a * c, min(int(b) * c, n))
            for a, b, c, n in zip(flo, hi, grid.chunk_shape, grid.shape, strict=True)
        )
        if math.prod(b - a for a, b in rbox) * self.dtype.itemsize > _SPLIT_MAX_BYTES:
            return todo, None
        src: Any = self.source
        start = getattr(src, "start_read_stored", None)
        if start is None:
            return todo, None
        t0 = time.perf_counter()
        wait = self._try_box(lambda: start(rbox, far), rbox, far)
        if wait is None:
            return todo, None

        def finish(out: np.ndarray, box: Box) -> list[Index]:
            try:
                block = wait()
            except Exception as e:
                log.debug("box read of %s in %s failed (%s): chunk by chunk", rbox, self.name, e)
                with self._lock:
                    self._in_flight.difference_update(far)
                return far
            _paste_block(out, box, block, rbox)
            self._adopt_block(block, rbox, far, time.perf_counter() - t0)
            return []

        return near, finish

    def _load_box(
        self, box: Box, shape: tuple[int, ...], todo: list[Index], whole: bool,
        ahead: list[Index],
    ) -> tuple[np.ndarray | None, list[Index]]:
        """Read the chunks ``todo``, when they fill a box of the chunk grid, in one call
        of the source's box reader (tensorstore: ``formats/_ts_engine``), and cache them.
        Returns the block for ``box`` (``None`` when nothing was read) and the chunks left
        for the per-chunk path: all of them when the box read is not possible or fails (a
        chunk in it is missing or broken, and the per-chunk path finds which). ``whole``:
        ``todo`` is every chunk of ``box``, so the block read may be returned as it is.
        ``ahead`` gets the chunks to read ahead (``_read_thin``)."""
        grid = self.source.grid
        if self.events.active and grid.shard_shape is not None:
            return None, todo  # the per-chunk path knows each inner chunk's stored size
        idx_arr = np.asarray(todo)
        lo, hi = idx_arr.min(axis=0), idx_arr.max(axis=0) + 1
        if int(np.prod(hi - lo)) > 2 * len(todo):
            # mostly cached already (a pan): chunk by chunk. When at least half of the
            # box's chunks are to read (a few cached by an earlier sample, say), the whole
            # box is read and only the chunks to read are used from it.
            return None, todo
        src: Any = self.source
        rbox = tuple(
            (int(a) * c, min(int(b) * c, n))
            for a, b, c, n in zip(lo, hi, grid.chunk_shape, grid.shape, strict=True)
        )
        chunk_nbytes = math.prod(grid.chunk_shape) * self.dtype.itemsize
        if chunk_nbytes > _THIN_CHUNK_BYTES and 2 * math.prod(shape) < math.prod(
            b - a for a, b in rbox
        ):
            # a thin box through big chunks (a z-plane of 64³ chunks)
            return self._read_thin(box, shape, todo, rbox, whole, ahead)
        if not self._boxes:
            return None, todo
        inside = todo if len(todo) == int(np.prod(hi - lo)) else list(grid.chunks_in_box(rbox))
        t0 = time.perf_counter()
        # (read_stored checks every chunk it reads)
        block = self._try_box(lambda: src.read_stored(rbox, inside), rbox, todo)
        if block is None:
            return None, todo
        seconds = time.perf_counter() - t0
        if whole and not self._caches(block) and tuple(box) == rbox:
            out = block  # nobody else holds it: hand it over without a copy
        else:
            out = _memory.empty(shape, self.dtype)
            _paste_block(out, box, block, rbox)
        self._adopt_block(block, rbox, todo, seconds)
        return out, []

    def _read_thin(
        self, box: Box, shape: tuple[int, ...], todo: list[Index], rbox: Box, whole: bool,
        ahead: list[Index],
    ) -> tuple[np.ndarray | None, list[Index]]:
        """A thin box through big chunks (a z-plane of 64³ chunks uses 1/64 of each): read
        just the box, and then read the whole chunks into the cache in the background
        (read-ahead), for the next planes. Reads of these chunks meanwhile wait for them
        (``_join_ahead``); they stay in flight until they are cached, and their events
        come from the read-ahead, one requested/done pair a chunk.

        The box is read by the compiled reader when it is ready (``formats/_bulk``: blosc
        decodes by blocks, and it decodes only the blocks that hold the box: one of the two
        256 KiB blocks of a 64³ uint16 chunk for a z-plane), else by the box reader
        (tensorstore, which decodes whole chunks into buffers it reuses).

        Why: keeping the whole chunks is what makes browsing cheap (the next 63 planes are
        cache hits), but doing it before answering costs the first touch of all that memory
        (a 1024² plane of 64³ uint16 chunks: 128 MiB of fresh pages, ~73 ms of CPU here,
        more than decoding it). A read whose chunks are too big to cache (``_caches``) is
        only read thin.

        Returns like ``_load_box``; ``(None, todo)`` sends the read chunk by chunk. The
        chunks to read ahead go to ``ahead``: ``read_box`` starts the read-ahead when its
        answer is ready (its threads would otherwise take the GIL from the answer's last
        steps, for up to the 5 ms switch interval at a time)."""
        if not self._fast:
            return None, todo
        src: Any = self.source
        grid = src.grid
        t0 = time.perf_counter()
        out: np.ndarray | None = None
        read: list[Index] = todo
        rest: list[Index] = []
        if self._thin_compiled and src.bulk_ready():
            out = _memory.empty(shape, self.dtype)
            read, rest = self._read_compiled_thin(box, out, todo)
        if out is None:
            if not self._boxes:
                return None, todo
            tbox = tuple(
                (max(a, ra), min(b, rb)) for (a, b), (ra, rb) in zip(box, rbox, strict=True)
            )
            inside = list(grid.chunks_in_box(tbox))
            block = self._try_box(lambda: src.read_stored(tbox, inside), tbox, todo)
            if block is None:
                return None, todo
            if whole and tbox == tuple(box):
                out = block
            else:
                out = _memory.empty(shape, self.dtype)
                _paste_block(out, box, block, tbox)
        chunk_nbytes = math.prod(grid.chunk_shape) * self.dtype.itemsize
        if len(read) * chunk_nbytes <= self.cache.max_bytes // 8:
            ahead += read
        else:  # read, not kept
            self._report_done(read, chunk_nbytes, time.perf_counter() - t0)
            self._mark_read(read)
        return out, rest

    def _read_compiled_thin(
        self, box: Box, out: np.ndarray, todo: list[Index]
    ) -> tuple[list[Index], list[Index]]:
        """``_read_thin``'s read with the compiled reader, nothing kept: returns the chunks
        it read (still in flight) and those left to the per-chunk path (all of them when
        it could not run)."""
        got = self._try_bulk(todo, box, out, False)
        if got is None:  # (its marks cleared)
            return [], todo
        status = got[0]
        read = [todo[i] for i in np.flatnonzero(status == 0)]
        rest = [todo[i] for i in np.flatnonzero(status != 0)]
        with self._lock:
            self._in_flight.difference_update(rest)
        return read, rest

    def _read_ahead(self, todo: list[Index]) -> None:
        """Read the chunks ``todo`` (marked in flight) into the cache on the read-ahead pool,
        in batches that the next reads can wait for or take back."""
        pool = _ahead_pool()
        for i in range(0, len(todo), self._batch):
            batch = todo[i : i + self._batch]
            f = pool.submit(self._ahead_batch, batch)
            with _PENDING_LOCK:
                _PENDING.add(f)
            with self._lock:
                if not f.done():  # else its callback has run: nothing to mark
                    for idx in batch:
                        self._ahead[idx] = f
            f.add_done_callback(partial(self._ahead_done, batch))

    def _ahead_batch(self, batch: list[Index]) -> None:
        """One read-ahead batch: the chunks not cached meanwhile, read whole and cached."""
        token = self._token
        need = [i for i in batch if self.cache.peek((token, i)) is None]
        with self._lock:
            self._in_flight.difference_update(set(batch).difference(need))
        if need:
            self._load_fast(need)  # (only sources with a fast path read thin: _read_thin)

    def _ahead_done(self, batch: list[Index], f: Future[Any]) -> None:
        with _PENDING_LOCK:
            _PENDING.discard(f)
        with self._lock:
            for idx in batch:
                if self._ahead.get(idx) is f:
                    del self._ahead[idx]
            if f.cancelled() or f.exception() is not None:
                self._in_flight.difference_update(batch)
        if not f.cancelled() and f.exception() is not None:
            log.warning("read-ahead in %s failed: %s", self.name, f.exception())

    def _try_box(self, read: Callable[[], Any], rbox: Box, chunks: list[Index]) -> Any:
        """``read()``, a box read (or its start) of ``chunks``, in flight meanwhile; ``None``
        when it was declined or failed: those chunks then go chunk by chunk (no more box
        reads are tried when the source has no box reader at all)."""
        with self._lock:
            self._in_flight.update(chunks)
        try:
            got = read()
        except Exception as e:
            log.debug("box read of %s in %s failed (%s): chunk by chunk", rbox, self.name, e)
            got = None
        if got is None:
            with self._lock:
                self._in_flight.difference_update(chunks)
            if self.source.box_reader() is None:  # type: ignore[attr-defined]
                self._boxes = False
        return got

    def _caches(self, block: np.ndarray) -> bool:
        """A bulk read larger than an eighth of the cache is not cached, so that one big
        read does not flush what the viewer is showing."""
        return block.nbytes <= self.cache.max_bytes // 8

    def _adopt_block(
        self, block: np.ndarray, rbox: Box, todo: list[Index], seconds: float
    ) -> None:
        """Cache the chunks ``todo`` of ``block`` (the box ``rbox``, read in one call in
        ``seconds``), report them, and clear their in-flight and failed marks. Chunks of
        a small block are cached as views of it (no copy: 2.3 ms for the 614 chunks of
        a 4.8 MiB block, twice that as copies; the block lives while any of them is
        cached, so a block whose chunks were partly evicted holds up to
        _VIEW_BLOCK_BYTES that the cache does not count), of a larger one as copies."""
        grid = self.source.grid
        as_views = block.nbytes <= _VIEW_BLOCK_BYTES
        if self._caches(block):
            cs, full = grid.chunk_shape, grid.shape
            starts = [ra for ra, _ in rbox]
            items = []
            for idx in todo:
                sl = tuple(
                    slice(i * c - r0, min((i + 1) * c, n) - r0)
                    for i, c, n, r0 in zip(idx, cs, full, starts, strict=True)
                )
                chunk = block[sl] if as_views else block[sl].copy()
                items.append((self._ckey(idx), self._pad(idx, chunk)))
            self.cache.put_many(items)
        self._report_done(todo, math.prod(grid.chunk_shape) * self.dtype.itemsize, seconds)
        self._mark_read(todo)

    def _mark_read(self, chunks: list[Index]) -> None:
        """``chunks`` were read: no longer in flight, nor failed."""
        with self._lock:
            self._in_flight.difference_update(chunks)
            for idx in chunks:
                self.failures.pop(idx, None)

    def _fill_block(self, shape: tuple[int, ...]) -> np.ndarray:
        out = _memory.empty(shape, self.dtype)
        fill = self.source.fill_value
        try:
            out[...] = 0 if fill is None else fill
        except (TypeError, ValueError):
            out[...] = np.zeros((), dtype=self.dtype)
        return out

    def _begin(self, batch: Iterable[Index]) -> float:
        with self._lock:
            self._in_flight.update(batch)
        if self.events.active:
            for idx in batch:
                key = self.source.chunk_key(idx)
                self.events.emit(ChunkEvent("requested", self.name, idx, key))
        return time.perf_counter()

    def _finish(self, idx: Index, chunk: Any, t0: float, fetch_s: float, nbytes: int | None) -> Any:
        """Cache, record and report one chunk; returns the array to paste (or None)."""
        ms = (time.perf_counter() - t0) * 1e3
        with self._lock:
            self._in_flight.discard(idx)
        if isinstance(chunk, BaseException):
            reason = error_reason(chunk)
            with self._lock:
                self.failures[idx] = reason
            log.warning("chunk %s of %s could not be read: %s", idx, self.name, reason)
            if self.events.active:
                self.events.emit(ChunkEvent("failed", self.name, idx, self.source.chunk_key(idx),
                                            ms=ms, reason=reason))
            return None
        with self._lock:
            self.failures.pop(idx, None)
        if chunk is MISSING:
            self.cache.put(self._ckey(idx), MISSING)
            if self.events.active:
                self.events.emit(ChunkEvent("missing", self.name, idx, self.source.chunk_key(idx),
                                            ms=ms, fetch_ms=fetch_s * 1e3))
            return None
        self.cache.put(self._ckey(idx), chunk)
        if self.events.active:
            self.events.emit(ChunkEvent(
                "done", self.name, idx, self.source.chunk_key(idx),
                nbytes_stored=nbytes if nbytes is not None else chunk.nbytes,
                nbytes_decoded=chunk.nbytes, ms=ms, fetch_ms=fetch_s * 1e3,
            ))
        return chunk

    def _load_fast(self, batch: list[Index]) -> list[tuple[Index, Any]]:
        """Fetch the batch's stored bytes together, then decode each chunk. Chunks that
        decode are recorded together at the end (one lock, one cache insertion): on small
        chunks this bookkeeping, done chunk by chunk, cost as much as the decoding."""
        t0 = self._begin(batch)
        src: Any = self.source
        try:
            raws = src.fetch(batch)
        except Exception as e:  # the whole fetch failed (server error, ...)
            return [(idx, self._finish(idx, e, t0, 0.0, None)) for idx in batch]
        fetch_s = time.perf_counter() - t0
        out: list[tuple[Index, Any]] = []
        good: list[tuple[Index, np.ndarray, int, float]] = []
        for idx, raw in zip(batch, raws, strict=True):
            if raw is None:
                out.append((idx, self._finish(idx, MISSING, t0, fetch_s, None)))
                continue
            try:
                chunk: Any = src.decode(idx, raw)
            except Exception as e:
                out.append((idx, self._finish(idx, e, t0, fetch_s, len(raw))))
                continue
            good.append((idx, chunk, len(raw), time.perf_counter()))
            out.append((idx, chunk))
        if good:
            self._finish_many(good, t0, fetch_s)
        return out

    def _finish_many(
        self, good: list[tuple[Index, np.ndarray, int, float]], t0: float, fetch_s: float
    ) -> None:
        """``_finish`` for chunks that decoded: (index, chunk, stored bytes, end time)."""
        with self._lock:
            for idx, *_ in good:
                self._in_flight.discard(idx)
                self.failures.pop(idx, None)
        self.cache.put_many([(self._ckey(idx), chunk) for idx, chunk, *_ in good])
        if self.events.active:
            key = self.source.chunk_key
            for idx, chunk, nbytes, t1 in good:
                self.events.emit(ChunkEvent(
                    "done", self.name, idx, key(idx), nbytes_stored=nbytes,
                    nbytes_decoded=chunk.nbytes, ms=(t1 - t0) * 1e3, fetch_ms=fetch_s * 1e3,
                ))

    def _load_slow(self, batch: list[Index]) -> list[tuple[Index, Any]]:
        """Sources without a fast path: read each chunk's box through the source."""
        out = []
        grid = self.source.grid
        for idx in batch:
            t0 = self._begin([idx])
            try:
                chunk: Any = np.asarray(self.source.read(grid.chunk_box(idx)))
                chunk = self._pad(idx, chunk)
            except Exception as e:
                chunk = e
            out.append((idx, self._finish(idx, chunk, t0, 0.0, None)))
        return out

    def _pad(self, idx: Index, block: np.ndarray) -> np.ndarray:
        """Edge chunks read through ``source.read`` are clipped; cache full chunks."""
        full = self.source.grid.chunk_shape
        if block.shape == full:
            return block
        out = self._fill_block(full)
        out[tuple(slice(0, s) for s in block.shape)] = block
        return out


def _run_parts(parts: list[Callable[[], Any]]) -> None:
    """Run the first part on this thread and the others on the pool, together."""
    futures = [_pool().submit(p) for p in parts[1:]]
    try:
        parts[0]()
    finally:
        for f in futures:
            f.result()


def _paste_block(out: np.ndarray, box: Box, block: np.ndarray, rbox: Box) -> None:
    """Copy where ``block`` (holding the box ``rbox``) meets ``box`` into ``out`` (holding
    ``box``)."""
    pairs = list(zip(box, rbox, strict=True))
    dst = tuple(slice(max(a, ra) - a, min(b, rb) - a) for (a, b), (ra, rb) in pairs)
    sel = tuple(slice(max(a, ra) - ra, min(b, rb) - ra) for (a, b), (ra, rb) in pairs)
    out[dst] = block[sel]


class _Paster:
    """Copies the part of a full chunk that lies in ``box`` into ``out`` (the block for
    ``box``). The slices are worked out once per axis for the whole box, not per chunk
    (``ChunkGrid.overlap`` per chunk cost as much as decoding a small chunk)."""

    def __init__(self, grid: Any, box: Box, out: np.ndarray) -> None:
        self.out = out
        self.dst: list[dict[int, slice]] = []
        self.src: list[dict[int, slice]] = []
        for (a, b), r, c, n in zip(
            box, grid.chunk_ranges(box), grid.chunk_shape, grid.shape, strict=True
        ):
            dst, src = {}, {}
            for i in r:
                ca, cb = i * c, min((i + 1) * c, n)
                lo, hi = max(a, ca), min(b, cb)
                dst[i], src[i] = slice(lo - a, hi - a), slice(lo - ca, hi - ca)
            self.dst.append(dst)
            self.src.append(src)
        #: the function to call per chunk; the usual 3-d case unrolled
        self.fn: Callable[[Index, np.ndarray], None] = (
            self._call3 if len(self.dst) == 3 else self._call
        )

    def _call(self, idx: Index, chunk: np.ndarray) -> None:
        self.out[tuple(d[i] for d, i in zip(self.dst, idx, strict=True))] = chunk[
            tuple(s[i] for s, i in zip(self.src, idx, strict=True))
        ]

    def _call3(self, idx: Index, chunk: np.ndarray) -> None:
        i, j, k = idx
        d0, d1, d2 = self.dst
        s0, s1, s2 = self.src
        self.out[d0[i], d1[j], d2[k]] = chunk[s0[i], s1[j], s2[k]]


class LevelView:
    """A lazy box of a ``LevelArray``: ``shape``/``dtype``/``ndim``, further basic
    slicing, and ``np.asarray(view)`` to read exactly the chunks it covers."""

    def __init__(self, base: LevelArray, box: Box, keep: tuple[bool, ...]) -> None:
        self.base = base
        self.box = tuple(box)
        self.keep = keep
        self.shape = tuple(b - a for (a, b), k in zip(self.box, keep, strict=True) if k)
        self.dtype = base.dtype
        self.ndim = len(self.shape)
        self.size = math.prod(self.shape)

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def __repr__(self) -> str:
        return f"LevelView({self.base.name!r}, box={self.box}, shape={self.shape})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.base.read_box(self.box)
        out = out[tuple(slice(None) if k else 0 for k in self.keep)]
        return out.astype(dtype) if dtype is not None else out

    def __getitem__(self, key: Any) -> Any:
        sub, post = _normalise(key, self.shape)
        if any(isinstance(p, slice) and p.step not in (None, 1) for p in post):
            return np.asarray(self)[key]
        box, keep, it = [], [], iter(zip(sub, post, strict=True))
        for (a, b), k in zip(self.box, self.keep, strict=True):
            if not k:
                box.append((a, b))
                keep.append(False)
                continue
            (sa, sb), p = next(it)
            box.append((a + sa, a + sb))
            keep.append(isinstance(p, slice))
        if not any(keep):
            return np.asarray(LevelView(self.base, box, tuple(keep)))[()]
        return LevelView(self.base, box, tuple(keep))

"""Many small chunk files read, checked, decoded and pasted in compiled code (numba).

Why by hand: on chunks of a few KiB, the work per chunk in Python (open, read, blosc
header check, decode, paste: about 13 µs in the leanest loop) costs more than
tensorstore's whole read of a chunk (9-13 µs), and it holds the GIL, so a second thread
does not help. Tensorstore cannot be given such chunks unchecked either: it allocates
whatever size a valid blosc stream declares (a 1 MiB chunk grew to 256 MiB of RSS), and
checking each header first in Python costs most of what it saves. No library reads a
list of chunk files with a bound on each chunk's decoded size; the loop below does,
compiled once by numba (cached on disk) and run without the GIL, so that each core reads
its share of the chunks.

The loop accepts only the plain case: a regular file (not a symlink) holding a blosc
stream whose header declares exactly this chunk's bytes and its own length (or, for
uncompressed chunks, exactly the chunk's bytes), which blosc then decodes into a buffer of
that size. Anything else (a missing file, a symlink, an oversized or short file, another
header, a decode error) is marked ``FALLBACK`` and left to the per-chunk path, which reads
it again and says what is wrong. Compiling takes a few seconds the first time and loading
the cached code about 0.5 s (with numba's import): ``warm_up()`` does it on a background
thread, and reads use the per-chunk path until it is done. ``CHUNKVIEW_COMPILED=0`` turns
the loop off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._decode import v2_wire_dtype, v3_parts
from ._memory import empty
from ._store import _NOFOLLOW

log = logging.getLogger(__name__)

#: ``status`` values: decoded and pasted / left to the per-chunk path.
OK, FALLBACK = 0, 1
#: Stored chunk layouts the loop decodes.
BLOSC, RAW = 0, 1
#: ``places`` lengths: the whole file / not stored / a place that cannot be used (a shard
#: index that cannot be read, an entry out of bounds); the loop leaves the last two to the
#: per-chunk path, which reads them as the fill value or says what is wrong.
WHOLE, SKIP, BAD = -1, -2, -3
#: A blosc stream is at most its data plus this header (c-blosc's BLOSC_MAX_OVERHEAD).
_BLOSC_OVERHEAD = 16

_state: dict[str, Any] = {"kernel": None, "error": None}
_lock = threading.Lock()
_started = threading.Event()
_done = threading.Event()


def kernel() -> Any:
    """The compiled loop, or ``None`` while it is not ready (or cannot be built)."""
    return _state["kernel"]


#: The build asked for by reads waits until they have paused for ``QUIET`` seconds (at
#: most ``MAX_WAIT`` seconds after the first asked): it takes the GIL for a good part of
#: its 0.5 s, which measured +180 ms on napari's first frame, and a 160 ms freeze among
#: z-steps, when it ran during them.
QUIET, MAX_WAIT = 1.0, 10.0
_now = threading.Event()
_last_ask = [0.0]


def warm_up(wait: bool = False, timeout: float | None = None, when_quiet: bool = False) -> bool:
    """Build the compiled loop on a background thread (once): at once, or with
    ``when_quiet`` once such calls have paused (see ``QUIET``); with ``wait``, at once,
    blocking until it is ready (at most ``timeout`` seconds). Returns whether it is
    ready."""
    if _state["kernel"] is not None:
        return True
    if os.environ.get("CHUNKVIEW_COMPILED", "1").lower() in ("0", "false", "no"):
        return False
    _last_ask[0] = time.monotonic()
    if wait or not when_quiet:
        _now.set()
    with _lock:
        if not _started.is_set():
            _started.set()
            threading.Thread(target=_build, name="chunkview-bulk-warmup", daemon=True).start()
    if wait:
        _done.wait(timeout)
    return _state["kernel"] is not None


def busy() -> None:
    """Note that reads go on (cache hits too), which delays a build waiting for quiet:
    stepping through planes already cached asks nothing, and a build then froze napari's
    z-steps for 150-180 ms (``benchmarks/responsiveness.py --datasets small``)."""
    if _state["kernel"] is None:
        _last_ask[0] = time.monotonic()


def _build() -> None:
    give_up = time.monotonic() + MAX_WAIT
    while not _now.is_set():
        quiet_at = _last_ask[0] + QUIET
        now = time.monotonic()
        if now >= quiet_at or now >= give_up:
            break
        _now.wait(min(quiet_at, give_up) - now)
    try:
        fn = _compile()
        _smoke(fn)
        _state["kernel"] = fn
    except Exception as e:  # no numba, no exported blosc symbols, ...: per-chunk reads
        _state["error"] = e
        log.info("compiled chunk reads unavailable (%s): reading chunk by chunk", e)
    finally:
        _done.set()


def _compile() -> Any:
    from ._bulk_kernel import read_chunks  # imports numba: seconds the first time

    return read_chunks


def _smoke(fn: Any) -> None:
    """Compile (or load) ``fn`` for the argument types ``read`` uses, on no chunk."""
    i8, z = np.zeros(1, np.int64), np.zeros((1, 1), np.int64)
    u8 = np.zeros(1, np.uint8)
    fn(u8, 47, z, i8.copy(), i8.copy(), 0, 0, BLOSC, 1, _NOFOLLOW, u8.copy(), u8.copy(),
       np.zeros((1, 1), np.uint8), True, np.zeros(1, np.int8), i8.copy(), u8.copy(), i8.copy(),
       i8.copy(), z.copy(), z.copy(), z.copy())


def read(
    head: str,
    sep: str,
    index: np.ndarray,
    chunk_shape: Sequence[int],
    itemsize: int,
    mode: int,
    box: Sequence[tuple[int, int]],
    out: np.ndarray,
    keep: bool,
    run_parts: Any,
    places: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read the chunks at ``index`` (``(n, ndim)``; the file of a chunk is ``head`` and
    its indices joined by ``sep``) into ``out`` (the C-contiguous block for ``box``).
    ``places``: for chunks that are part of a file (inner chunks of shards), the indices
    that name each chunk's file, and the offset and length of the chunk in it (or
    ``SKIP``, ``BAD``). ``run_parts(fns)`` calls each function of a list, one of them on
    the calling thread and the others in parallel, and returns when all are done.
    Returns ``(status, stored sizes, chunks)``: ``chunks`` is ``(n, *chunk_shape)`` of
    ``out.dtype`` when ``keep``, else ``None``."""
    fn = _state["kernel"]
    assert fn is not None, "warm_up() first"
    n, nd = index.shape
    index = np.ascontiguousarray(index, np.int64)
    if places is None:
        names, at, length = index, np.zeros(n, np.int64), np.full(n, WHOLE, np.int64)
    else:
        names = np.ascontiguousarray(places[0], np.int64)
        at = np.ascontiguousarray(places[1], np.int64)
        length = np.ascontiguousarray(places[2], np.int64)
    head_arr = np.frombuffer(bytearray(head.encode("utf-8", "surrogateescape")), np.uint8)
    path_len = head_arr.size + nd * 21 + 1  # 20 digits at most, a separator, the NUL
    c = np.asarray(chunk_shape, np.int64)
    a = np.asarray([lo for lo, _ in box], np.int64)
    b = np.asarray([hi for _, hi in box], np.int64)
    start = index * c
    lo = np.maximum(a, start)
    src0, dst0, extent = lo - start, lo - a, np.minimum(b, start + c) - lo
    for arr in (src0, dst0, extent):
        arr[:, -1] *= itemsize  # the last axis in bytes
    chunk_strides = np.ones(nd, np.int64)
    out_strides = np.ones(nd, np.int64)
    for k in range(nd - 2, -1, -1):
        unit = itemsize if k == nd - 2 else 1
        chunk_strides[k] = chunk_strides[k + 1] * c[k + 1] * unit
        out_strides[k] = out_strides[k + 1] * out.shape[k + 1] * unit
    expected = int(np.prod(c)) * itemsize
    status = np.full(n, FALLBACK, np.int8)
    sizes = np.zeros(n, np.int64)
    flat = out.reshape(-1).view(np.uint8)
    cap = expected + (_BLOSC_OVERHEAD if mode == BLOSC else 0) + 1
    parts = max(1, min(os.cpu_count() or 1, 4, n // 32))
    bounds = [n * p // parts for p in range(parts + 1)]
    stack = empty((n, expected), np.uint8) if keep else None
    sep_byte = ord(sep)

    def part(p: int) -> Any:
        rows = stack if stack is not None else np.empty((1, expected), np.uint8)
        return lambda: fn(head_arr, sep_byte, names, at, length, bounds[p], bounds[p + 1], mode,
                          expected, _NOFOLLOW, np.empty(path_len, np.uint8),
                          np.empty(cap, np.uint8), rows, keep, status, sizes, flat, out_strides,
                          chunk_strides, src0, dst0, extent)

    run_parts([part(p) for p in range(parts)])
    chunks = None
    if stack is not None:
        chunks = stack.view(out.dtype).reshape((n, *chunk_shape))
    return status, sizes, chunks


def layout(metadata: Any, dtype: np.dtype[Any], sharded: bool) -> int | None:
    """``BLOSC`` or ``RAW`` when every stored chunk (inner chunk, for a sharded array) of
    an array with this zarr metadata is, in the plain case, a blosc stream of (or
    exactly) the chunk's bytes in C order and native byte order; else ``None``."""
    if dtype.kind not in "biuf" or dtype.fields is not None:
        return None
    from zarr.core.metadata.v2 import ArrayV2Metadata

    if isinstance(metadata, ArrayV2Metadata):
        if sharded or metadata.filters or metadata.order != "C":
            return None
        if not v2_wire_dtype(metadata, dtype).isnative:
            return None
        compressor = metadata.compressor
        if compressor is None:
            return RAW
        return BLOSC if getattr(compressor, "codec_id", None) == "blosc" else None
    codecs = metadata.codecs
    if sharded:  # one sharding codec, over plain inner chunks
        if len(codecs) != 1 or v3_parts(codecs[0])[0] != "sharding_indexed":
            return None
        codecs = getattr(codecs[0], "codecs", ())
    parts = [v3_parts(codec) for codec in codecs]
    native = "little" if np.little_endian else "big"
    for name, conf in parts:
        if name == "bytes" and dtype.itemsize > 1 and (conf.get("endian") or "little") != native:
            return None
    names = [name for name, _ in parts]
    if names == ["bytes"]:
        return RAW
    return BLOSC if names == ["bytes", "blosc"] else None

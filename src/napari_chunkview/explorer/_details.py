"""One chunk, described for the inspector: its key, state, stored size and read cost."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..model import Level, Pyramid
from ._live import LiveFeed
from ._state import store_root
from ._view import ChunkDetails

_EMPTY = 2**64 - 1  # a shard index entry for an inner chunk that is not stored
LOOKING_UP = "looking up…"


def chunk_details(
    pyramid: Pyramid,
    level: int,
    idx: tuple[int, ...],
    feed: LiveFeed | None,
    pinned: bool,
    previous: ChunkDetails | None = None,
) -> ChunkDetails:
    """What is known of chunk ``idx`` of ``level`` now, without touching the store: its
    state, key, read cost (from the event feed) and stored size when a read or an earlier
    look-up told it (else ``size_note`` is ``LOOKING_UP``: call ``stored_size``)."""
    lv = pyramid.levels[level]
    array = lv.array
    state = array.state(idx) if array is not None else "not_loaded"
    rec = feed.record(array.name, idx) if feed is not None and array is not None else None
    try:
        key = lv.chunk_key(idx)
    except Exception as e:
        key = f"? ({e})"
    note = ""
    grid = lv.grid
    if lv.virtual:
        note = f"Computed ({lv.virtual}); the key is that of the stored chunk it starts in"
    elif grid.shard_shape is not None:
        pos = tuple(
            i % (s // c) for i, s, c in zip(idx, grid.shard_shape, grid.chunk_shape, strict=True)
        )
        note = f"Inner chunk ({', '.join(map(str, pos))}) of the shard at {key}"
    root = store_root(pyramid)
    if root is not None and not lv.virtual:
        note = (note + " · " if note else "") + f"Path: {root.describe(key)}"
    read = rec is not None and rec.kind != "failed"
    failure = array.failures.get(idx, "") if array is not None else ""
    details = ChunkDetails(
        level=level,
        level_path=lv.path,
        index=idx,
        key=key,
        state=state,
        ms=rec.ms if read and rec is not None else None,
        fetch_ms=rec.fetch_ms if read and rec is not None else None,
        reason=failure or (rec.reason if rec is not None else ""),
        note=note,
        pinned=pinned,
    )
    if rec is not None and rec.kind == "done" and rec.nbytes_stored:
        return replace(details, stored_bytes=rec.nbytes_stored, size_note="")
    if (
        previous is not None
        and (previous.level, previous.index) == (level, idx)
        and (previous.stored_bytes is not None or previous.size_note)
    ):
        return replace(details, stored_bytes=previous.stored_bytes, size_note=previous.size_note)
    if lv.virtual:
        return replace(details, size_note="computed: not stored")
    return replace(details, size_note=LOOKING_UP)


def stored_size(level: Level, index: tuple[int, ...]) -> tuple[int | None, str]:
    """Stored bytes of one chunk (a stat, or the shard index for an inner chunk) and a
    note ("not stored", "from the shard index")."""
    src: Any = level.source
    grid = level.grid
    if grid.shard_shape is not None and hasattr(src, "shard_index"):
        per = [s // c for s, c in zip(grid.shard_shape, grid.chunk_shape, strict=True)]
        shard = tuple(i // q for i, q in zip(index, per, strict=True))
        table = src.shard_index(shard)
        if table is None:
            return None, "not stored (no shard)"
        offset, nbytes = (
            int(v) for v in table[tuple(i % q for i, q in zip(index, per, strict=True))]
        )
        if offset == _EMPTY and nbytes == _EMPTY:
            return None, "not stored (empty in its shard)"
        return nbytes, "from the shard index"
    root = getattr(src, "_root", None)
    if root is None:
        return None, "unknown"
    size = root.size(level.chunk_key(index))
    return (size, "") if size is not None else (None, "not stored")


__all__ = ["LOOKING_UP", "chunk_details", "stored_size"]

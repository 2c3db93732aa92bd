"""Follow the chunk-event stream for one pyramid: running totals and what each chunk's
last read cost. The listener runs on reader threads: it only filters, counts and records;
the controller reads the results on its own thread."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..loading import EVENTS, ChunkEvent, EventStream, LoadStats
from ..model import Pyramid
from ._grid import GridCells
from ._state import ViewState, level_reason
from ._view import LivePanel

#: Per-chunk read details remembered (most recent first out).
MAX_DETAILS = 100_000


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """The last read of one chunk: outcome, stored size, time to decoded array."""

    kind: str  # "done" | "missing" | "failed"
    nbytes_stored: int
    ms: float
    fetch_ms: float
    reason: str = ""


class LiveFeed:
    """Subscribes to ``events`` for the level arrays named in ``sources``.

    ``dirty`` lists the sources that had an event since the last ``take_dirty()``;
    ``stats`` holds the running totals (a ``LoadStats``); ``record(source, index)`` the
    last read of a chunk. ``close()`` unsubscribes (also safe to call twice).
    """

    def __init__(
        self,
        sources: Iterable[str],
        events: EventStream | None = None,
        history: Iterable[ChunkEvent] = (),
    ) -> None:
        self.sources = frozenset(sources)
        self.stats = LoadStats()
        self._records: OrderedDict[tuple[str, tuple[int, ...]], ReadRecord] = OrderedDict()
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        for ev in history:  # events from before this feed existed (see ``Backlog``)
            self._on_event(ev)
        stream = EVENTS if events is None else events
        self._unsubscribe: Callable[[], None] | None = stream.subscribe(self._on_event)

    def _on_event(self, ev: ChunkEvent) -> None:
        if ev.source not in self.sources:
            return
        self.stats(ev)
        with self._lock:
            self._dirty.add(ev.source)
            if ev.kind in ("done", "missing", "failed"):
                key = (ev.source, ev.index)
                self._records.pop(key, None)
                self._records[key] = ReadRecord(
                    ev.kind, ev.nbytes_stored, ev.ms, ev.fetch_ms, ev.reason
                )
                if len(self._records) > MAX_DETAILS:
                    self._records.popitem(last=False)

    def take_dirty(self) -> set[str]:
        with self._lock:
            out, self._dirty = self._dirty, set()
        return out

    def record(self, source: str, index: tuple[int, ...]) -> ReadRecord | None:
        with self._lock:
            return self._records.get((source, tuple(index)))

    def reset(self) -> None:
        self.stats.reset()
        with self._lock:
            self._records.clear()

    def close(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    @property
    def closed(self) -> bool:
        return self._unsubscribe is None


class Backlog:
    """The last ``size`` chunk events of every source, so that a ``LiveFeed`` started
    later (the inspector follows a layer once napari has already read its first frame)
    can count them too. Appending is the listener's only work."""

    def __init__(self, events: EventStream | None = None, size: int = 50_000) -> None:
        self._events: deque[ChunkEvent] = deque(maxlen=size)
        stream = EVENTS if events is None else events
        self._unsubscribe: Callable[[], None] | None = stream.subscribe(self._events.append)

    def matching(self, sources: Iterable[str]) -> list[ChunkEvent]:
        names = frozenset(sources)
        return [ev for ev in list(self._events) if ev.source in names]

    def close(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._events.clear()


def live_panel(
    snap: dict[str, Any], pyramid: Pyramid, state: ViewState | None, cells: GridCells | None
) -> LivePanel:
    """The live figures (``LoadStats.snapshot()``), the level shown and why, the view."""
    level_text = why = note = ""
    if state is not None:
        lv = pyramid.levels[state.level]
        level_text = (
            f"level {state.level} of {len(pyramid.levels)}: "
            f'{"virtual level" if lv.virtual else "array"} "{lv.path or "/"}" · '
            f"{'×'.join(map(str, lv.shape))}"
        )
        why = level_reason(pyramid, state)
    if cells is not None and cells.coarse:
        kr, kc = cells.block
        note = f"1 cell = {kr}×{kc} chunks ({cells.n_chunks:,} chunks in view)"
    return LivePanel(
        in_flight=snap["in_flight"],
        done=snap["done"],
        missing=snap["missing"],
        failed=snap["failed"],
        cache_hits=snap["cache_hits"],
        cache_hit_rate=snap["cache_hit_rate"],
        mb_per_s=snap["mb_per_s"],
        p50_ms=snap["latency_ms"][50],
        p90_ms=snap["latency_ms"][90],
        bytes_stored=snap["bytes_stored"],
        shown_level=state.level if state is not None else None,
        level=level_text,
        why=why,
        view_resolved=cells.resolved if cells is not None else 0,
        view_total=cells.n_chunks if cells is not None else 0,
        view_counts=dict(cells.counts) if cells is not None else {},
        grid_note=note,
    )

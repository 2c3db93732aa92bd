"""The stream of chunk-read events that the dock, the notebook widget and the CLI follow.

Thread-safe and free when nobody listens: emitters check ``EVENTS.active`` first.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["requested", "done", "missing", "failed", "cache_hit"]


@dataclass(frozen=True, slots=True)
class ChunkEvent:
    """One step in the life of one chunk read.

    ``source`` names the level (``"<pyramid>/<path>"``), ``index`` is the chunk index in C
    order, ``key`` the store key; for ``done``: stored and decoded bytes and the time from
    request to decoded array (``ms``, with ``fetch_ms`` of it spent fetching).
    """

    kind: EventKind
    source: str
    index: tuple[int, ...]
    key: str = ""
    nbytes_stored: int = 0
    nbytes_decoded: int = 0
    ms: float = 0.0
    fetch_ms: float = 0.0
    reason: str = ""
    t: float = field(default_factory=time.monotonic)


Listener = Callable[[ChunkEvent], None]


class EventStream:
    """Subscribe with ``subscribe(fn)``; it returns the function that unsubscribes.

    Listeners run on the reading thread: they must be quick (append to a queue, bump a
    counter) and must not call back into napari or Qt directly.
    """

    def __init__(self) -> None:
        self._listeners: tuple[Listener, ...] = ()
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._listeners)

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners = (*self._listeners, fn)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(f for f in self._listeners if f is not fn)

        return unsubscribe

    def emit(self, event: ChunkEvent) -> None:
        for fn in self._listeners:
            try:
                fn(event)
            except Exception:  # a broken listener must never break a read
                pass


#: The one stream every level reports to.
EVENTS = EventStream()


class LoadStats:
    """Running totals over the event stream: counts, bytes, MB/s, latency percentiles.

    ``source_prefix`` restricts it to one pyramid (``"<name>/"``) or level.
    """

    def __init__(self, source_prefix: str = "", window_s: float = 5.0) -> None:
        self.prefix = source_prefix
        self.window_s = window_s
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requested = self.done = self.missing = self.failed = self.cache_hits = 0
            self.bytes_stored = self.bytes_decoded = 0
            self._latencies: collections.deque[float] = collections.deque(maxlen=2048)
            self._recent: collections.deque[tuple[float, int]] = collections.deque()
            self._inflight: set[tuple[str, tuple[int, ...]]] = set()

    def __call__(self, ev: ChunkEvent) -> None:
        if self.prefix and not ev.source.startswith(self.prefix):
            return
        with self._lock:
            k = (ev.source, ev.index)
            if ev.kind == "requested":
                self.requested += 1
                self._inflight.add(k)
                return
            self._inflight.discard(k)
            if ev.kind == "cache_hit":
                self.cache_hits += 1
            elif ev.kind == "missing":
                self.missing += 1
                self._latencies.append(ev.ms)
            elif ev.kind == "failed":
                self.failed += 1
            elif ev.kind == "done":
                self.done += 1
                self.bytes_stored += ev.nbytes_stored
                self.bytes_decoded += ev.nbytes_decoded
                self._latencies.append(ev.ms)
                self._recent.append((ev.t, ev.nbytes_stored))

    def snapshot(self) -> dict[str, Any]:
        """Totals now: ``mb_per_s`` over the last ``window_s`` seconds of completed
        reads; latency percentiles (ms) over the last 2048 reads."""
        with self._lock:
            now = time.monotonic()
            while self._recent and self._recent[0][0] < now - self.window_s:
                self._recent.popleft()
            recent = sum(n for _, n in self._recent)
            lat = sorted(self._latencies)
            looked_up = self.cache_hits + self.requested
            return {
                "requested": self.requested,
                "in_flight": len(self._inflight),
                "done": self.done,
                "missing": self.missing,
                "failed": self.failed,
                "cache_hits": self.cache_hits,
                "cache_hit_rate": self.cache_hits / looked_up if looked_up else 0.0,
                "bytes_stored": self.bytes_stored,
                "bytes_decoded": self.bytes_decoded,
                "mb_per_s": recent / 1e6 / self.window_s,
                "latency_ms": {p: _percentile(lat, p) for p in (50, 90, 99)},
            }


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[round(p / 100 * (len(sorted_values) - 1))]

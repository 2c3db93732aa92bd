"""One bounded cache of decoded chunks, shared by every level of every layer."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

#: Stands for a chunk that is not stored (reads as the fill value).
MISSING = object()
_MISSING_COST = 64


def _default_size() -> int:
    env = os.environ.get("CHUNKVIEW_CACHE_MB")
    if env:
        return int(float(env) * 2**20)
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 8 << 30
    return int(min(2 << 30, max(256 << 20, ram // 8)))


class ChunkCache:
    """LRU by bytes. Values are read-only arrays (or ``MISSING``)."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = _default_size() if max_bytes is None else int(max_bytes)
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = self.misses = self.evictions = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def get_many(self, keys: Sequence[Hashable]) -> list[Any | None]:
        """``get`` of several keys under one lock (a view of small chunks asks for
        hundreds at once)."""
        data = self._data
        out: list[Any | None] = []
        found = 0
        with self._lock:
            for key in keys:
                item = data.get(key)
                if item is None:
                    out.append(None)
                    continue
                data.move_to_end(key)
                out.append(item[0])
                found += 1
            self.hits += found
            self.misses += len(out) - found
        return out

    def peek(self, key: Hashable) -> Any | None:
        """Like ``get`` without counting or touching the LRU order."""
        with self._lock:
            item = self._data.get(key)
        return None if item is None else item[0]

    def items(self) -> list[tuple[Hashable, Any]]:
        """A snapshot of the (key, value) pairs, without touching the LRU order."""
        with self._lock:
            return [(k, v[0]) for k, v in self._data.items()]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def put_many(self, items: Sequence[tuple[Hashable, Any]], cost: int | None = None) -> None:
        """Cache several values (arrays or ``MISSING``) under one lock, oldest evicted
        first; an array larger than the whole cache is not kept. ``cost``: every value
        is a read-only array of this many bytes (no per-value checks: a thousand small
        chunks at once)."""
        if cost is not None:
            entries = [(key, value, cost) for key, value in items] if cost <= self.max_bytes \
                else []
        else:
            entries = []
            for key, value in items:
                c = value.nbytes if isinstance(value, np.ndarray) else _MISSING_COST
                if c > self.max_bytes:
                    continue
                if isinstance(value, np.ndarray) and value.flags.writeable:
                    value.flags.writeable = False
                entries.append((key, value, c))
        with self._lock:
            for key, value, cost in entries:
                old = self._data.pop(key, None)
                if old is not None:
                    self.nbytes -= old[1]
                self._data[key] = (value, cost)
                self.nbytes += cost
            while self.nbytes > self.max_bytes and self._data:
                _, (_, c) = self._data.popitem(last=False)
                self.nbytes -= c
                self.evictions += 1

    def put(self, key: Hashable, value: Any) -> None:
        self.put_many([(key, value)])

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = int(max_bytes)
            while self.nbytes > self.max_bytes and self._data:
                _, (_, c) = self._data.popitem(last=False)
                self.nbytes -= c
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._data)


#: The cache every level shares (size: ``CHUNKVIEW_CACHE_MB`` or an eighth of the RAM,
#: between 256 MiB and 2 GiB). Resize with ``CACHE.resize(nbytes)``.
CACHE = ChunkCache()

"""Process-wide thread pools, created on first use (one per purpose)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[str, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def shared_pool(name: str, workers: int | None = None) -> ThreadPoolExecutor:
    """The pool called ``name`` (threads ``chunkview-<name>``): by default twice the cores,
    at least 4 threads, since its work mixes I/O waits with GIL-releasing decodes;
    ``workers`` (used when the pool is created) for work that should take fewer."""
    with _LOCK:
        pool = _POOLS.get(name)
        if pool is None:
            pool = _POOLS[name] = ThreadPoolExecutor(
                max_workers=workers or max(4, 2 * (os.cpu_count() or 2)),
                thread_name_prefix=f"chunkview-{name}",
            )
        return pool

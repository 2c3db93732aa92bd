"""The inspector's worker threads: a small pool, the futures still running, and waiting
for them (tests, scripted screenshots)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from ..model import Level, Pyramid
from ..qc import Cancelled, StorageFigures, scan_storage


class Workers:
    """Two threads for storage scans, store listings and size look-ups."""

    def __init__(self, name: str = "chunkview-inspector", threads: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self.closed = False

    def submit(self, fn: Callable[[], None]) -> None:
        if self.closed:
            return
        fut = self._executor.submit(fn)
        with self._lock:
            self._futures.add(fut)
        fut.add_done_callback(self._forget)

    def _forget(self, fut: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(fut)

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._futures)

    def wait(self, timeout: float = 30.0) -> bool:
        """True when everything submitted so far has finished within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait(pending, timeout=left)

    def shutdown(self) -> None:
        """No new work; queued work is dropped, running work finishes (it is told to stop
        through its own cancel event)."""
        self.closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)


def scan_levels(
    pyramid: Pyramid,
    todo: list[int],
    cancel: threading.Event,
    status: Callable[[int, str], None],
    store: Callable[[Level, StorageFigures], None],
) -> None:
    """Storage figures of the levels ``todo``, coarsest first (quickest answers first);
    ``status(level, text)`` reports progress ("" when done), ``store`` keeps the figures.
    A store error ends one level's scan, ``cancel`` all of them."""
    done: set[int] = set()
    for i in reversed(todo):
        lv = pyramid.levels[i]
        last = [0.0]

        def progress(n: int, total: int, i: int = i, last: list[float] = last) -> None:
            now = time.monotonic()
            if now - last[0] > 0.25:
                last[0] = now
                status(i, f"scanning… {n:,}" + (f" of {total:,}" if total else ""))

        status(i, "scanning…")
        try:
            figures = scan_storage(lv, cancel=cancel, progress=progress)
        except Cancelled:
            for j in todo:
                if j not in done:
                    status(j, "scan cancelled")
            return
        except Exception as e:  # a store error: say so in the row, keep going
            status(i, f"scan failed: {type(e).__name__}: {e}")
            done.add(i)
            continue
        store(lv, figures)
        done.add(i)
        status(i, "")

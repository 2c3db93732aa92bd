"""The inspector's worker threads: a small pool, the futures still running, and waiting
for them (tests, scripted screenshots); and ``Coalescer``, which batches the workers'
progress updates so the view's thread handles a few batches, not one call per update."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from ..model import Level, Pyramid, error_reason
from ..qc import Cancelled, StorageFigures, scan_storage


class Coalescer[K, V]:
    """Updates put from any thread, handed to ``apply`` in batches on the view's thread.

    ``put`` keeps the latest value per key and schedules one flush through ``post``
    (``view.call_in_main``, say) unless one is already scheduled; the flush takes every
    update put until it runs. A 200-level scan thus costs the GUI a few table refreshes
    instead of one per status line (hand-written: Qt-free, and superqt's throttlers
    need a Qt event loop in the calling thread). ``post`` returns False when it could
    not schedule (the view is gone): the updates are then dropped.
    """

    def __init__(
        self, post: Callable[[Callable[[], None]], bool], apply: Callable[[dict[K, V]], None]
    ) -> None:
        self._post, self._apply = post, apply
        self._pending: dict[K, V] = {}
        self._scheduled = False
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._pending[key] = value
            if self._scheduled:
                return
            self._scheduled = True
        if not self._post(self._flush):  # outside the lock: ``post`` may run it at once
            with self._lock:
                self._scheduled = False
                self._pending.clear()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending, self._scheduled = self._pending, {}, False
        if batch:
            self._apply(batch)


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
        last = [time.monotonic()]  # a quick scan reports no progress, only its result

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
            status(i, f"scan failed: {error_reason(e)}")
            done.add(i)
            continue
        store(lv, figures)
        done.add(i)
        status(i, "")

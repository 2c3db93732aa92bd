"""Run the scan's dask graph: on the local threaded scheduler, or on a dask.distributed
cluster. Both hand back results as they complete, so a cancelled or interrupted run
still returns what it found."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ..model import ChunkviewError, UnsupportedError, error_reason
from ._chunkscan import BatchResult, scan_batch
from ._plan import LevelPlan

Progress = Callable[[str, int, int], None]
SCAN_PHASE = "scanning chunks"


def build_tasks(
    plans: Sequence[LevelPlan], cancel: threading.Event | None
) -> tuple[list[Any], dict[str, int]]:
    """One delayed ``scan_batch`` per batch, and each task's key → number of chunks."""
    from dask.delayed import delayed

    run = uuid.uuid4().hex[:8]
    tasks, sizes = [], {}
    for p in plans:
        for b, flat in enumerate(p.batches):
            key = f"chunkview-qc-{run}-{p.image}-{p.level}-{b}"
            task = delayed(scan_batch, pure=False)(
                p.ref, b, p.unravel(flat), cancel, dask_key_name=key
            )
            tasks.append(task)
            sizes[key] = len(flat)
    return tasks, sizes


def run_local(
    plans: Sequence[LevelPlan],
    cancel: threading.Event,
    progress: Progress | None,
    workers: int | None,
) -> tuple[list[BatchResult], bool]:
    """Returns (results, interrupted)."""
    from dask.base import compute
    from dask.callbacks import Callback

    tasks, sizes = build_tasks(plans, cancel)
    total = sum(sizes.values())
    results: list[BatchResult] = []
    done = [0]

    class _Collect(Callback):
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if isinstance(result, BatchResult) and key in sizes:
                results.append(result)
                done[0] += sizes[key]
                if progress is not None:
                    progress(SCAN_PHASE, done[0], total)

    if progress is not None:
        progress(SCAN_PHASE, 0, total)
    interrupted = False
    try:
        with _Collect():
            compute(
                *tasks, scheduler="threads", num_workers=workers or max(1, os.cpu_count() or 1)
            )
    except KeyboardInterrupt:
        cancel.set()  # tasks still queued return at once
        interrupted = True
    return results, interrupted


def run_distributed(
    plans: Sequence[LevelPlan],
    scheduler: Any,
    cancel: threading.Event,
    progress: Progress | None,
) -> tuple[list[BatchResult], bool]:
    """``scheduler``: a ``distributed.Client`` or the address of a scheduler."""
    try:
        from distributed import Client
    except ImportError as e:
        raise UnsupportedError(
            f"scanning on a cluster needs dask.distributed ({e}): "
            "pip install 'napari-chunkview[qc]'"
        ) from None

    own = not isinstance(scheduler, Client)
    client = Client(scheduler, set_as_default=False) if own else scheduler
    try:
        tasks, sizes = build_tasks(plans, None)  # an Event does not travel
        total = sum(sizes.values())
        if progress is not None:
            progress(SCAN_PHASE, 0, total)
        futures = client.compute(tasks)
        pending = set(futures)
        results: list[BatchResult] = []
        done = 0
        interrupted = False
        try:
            while pending:
                if cancel.is_set():
                    break
                finished = [f for f in futures if f in pending and f.done()]
                if not finished:  # poll: stays responsive to ``cancel``
                    time.sleep(0.02)
                    continue
                pending.difference_update(finished)
                for fut in finished:
                    try:
                        res = fut.result()
                    except Exception as e:
                        raise ChunkviewError(
                            f"a QC task failed on the cluster ({error_reason(e)}); "
                            "the workers must be able to open the dataset at the same URI"
                        ) from e
                    results.append(res)
                    done += sizes.get(fut.key, 0)
                    if progress is not None:
                        progress(SCAN_PHASE, done, total)
        except KeyboardInterrupt:
            cancel.set()
            interrupted = True
        if pending:
            client.cancel(list(pending))
        return results, interrupted
    finally:
        if own:
            client.close()


def describe_scheduler(scheduler: Any, workers: int | None) -> str:
    if scheduler is None:
        return f"dask threads ({workers or os.cpu_count() or 1} workers)"
    address = getattr(scheduler, "scheduler", None)
    address = getattr(address, "address", None) or str(scheduler)
    return f"dask.distributed at {address}"


def sort_results(results: list[BatchResult]) -> list[BatchResult]:
    """Results in graph order, whatever order they completed in."""
    return sorted(results, key=lambda r: (r.image, r.level, r.batch))

"""Shared checks for the hardening tests: a consistent ``Pyramid``, a call run with a
time limit (in a thread) and its peak traced memory."""

from __future__ import annotations

import math
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

from napari_chunkview import Pyramid


def check_pyramid(pyr: Pyramid) -> None:
    """Levels largest first; every level's shape, chunk grid, scale and translation agree
    with the axes; dask and napari arrays have the level's shape. AssertionError if not."""
    assert pyr.levels, "no levels"
    ndim = len(pyr.axes)
    assert ndim == pyr.ndim
    sizes = [math.prod(lv.shape) for lv in pyr.levels]
    assert sizes == sorted(sizes, reverse=True), f"levels not largest first: {sizes}"
    for lv in pyr.levels:
        g = lv.grid
        assert len(lv.shape) == ndim, f"{lv.path}: shape {lv.shape} for {ndim} axes"
        assert g.shape == lv.shape and len(g.chunk_shape) == ndim
        assert all(isinstance(c, int) and c >= 1 for c in g.chunk_shape), g.chunk_shape
        assert all(isinstance(s, int) and 0 <= s < 2**63 for s in lv.shape), lv.shape
        if g.shard_shape is not None:
            assert len(g.shard_shape) == ndim
            assert all(s % c == 0 for s, c in zip(g.shard_shape, g.chunk_shape, strict=True))
        assert len(lv.scale) == ndim and len(lv.translation) == ndim
        assert all(math.isfinite(s) and s != 0 for s in lv.scale), lv.scale
        assert all(math.isfinite(t) for t in lv.translation), lv.translation
        if lv.data is not None:
            assert tuple(lv.data.shape) == lv.shape
        if lv.array is not None:
            assert tuple(lv.array.shape) == lv.shape
    for labels in pyr.labels:
        check_pyramid(labels)


class Hang(AssertionError):
    pass


def run_bounded(fn: Callable[[], Any], seconds: float) -> tuple[Any, BaseException | None, int]:
    """Run ``fn`` in a thread: (result, exception or None, peak traced bytes). ``Hang``
    when it does not finish within ``seconds`` (the thread is left behind, a daemon)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # reported to the caller, whatever it is
            box["error"] = e

    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        t = threading.Thread(target=target, daemon=True)
        t.start()
        t.join(seconds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if t.is_alive():
        raise Hang(f"did not finish within {seconds} s")
    return box.get("result"), box.get("error"), peak

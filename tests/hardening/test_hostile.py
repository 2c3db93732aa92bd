"""Every case of the hostile corpus behaves as it says: a ``ChunkviewError`` naming the
problem, or a flagged chunk while the rest reads, or a clean open. Never another
exception, never a hang, never memory near a declared shape or a decompression bomb."""

from __future__ import annotations

import logging
import re
import time
import warnings
from pathlib import Path

import dask.array  # noqa: F401  (check_pyramid builds dask arrays: import it outside the measured calls)
import numpy as np
import pytest

from napari_chunkview import ChunkviewError, open_pyramid
from napari_chunkview.loading import ChunkCache, ChunkEvent, EventStream, LevelArray

from ._checks import Hang, check_pyramid, run_bounded
from .hostile import MAX_BYTES, HostileCase, build_hostile_corpus

#: Per case: opening + reading. Generous (2 shared cores, tracemalloc slows Python about 2 times);
#: the slowest cases (2**62-long axes, with virtual levels) take well under 1 s.
CASE_SECONDS = 30.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[HostileCase]:
    pytest.importorskip("tensorstore")
    t0 = time.perf_counter()
    cases = build_hostile_corpus(tmp_path_factory.mktemp("hostile"))
    built = time.perf_counter() - t0
    assert built < 10, f"building the corpus took {built:.1f} s"
    return cases


def _read_level(case: HostileCase) -> tuple[LevelArray, np.ndarray, list[ChunkEvent]]:
    pyr = open_pyramid(case.path)
    check_pyramid(pyr)
    events = EventStream()
    seen: list[ChunkEvent] = []
    events.subscribe(seen.append)
    la = LevelArray(pyr.levels[case.level].source, case.name, ChunkCache(32 << 20), events)
    # the whole level when small (the base levels are 8 x 8), else a corner of it
    box = [(0, min(n, 8)) for n in la.shape]
    return la, la.read_box(box), seen


def _check(case: HostileCase) -> str | None:
    """``None`` when ``case`` behaves as expected, else what went wrong."""
    if case.expect == "error":
        fn = lambda: open_pyramid(case.path)  # noqa: E731
    elif case.expect == "flagged":
        fn = lambda: _read_level(case)  # noqa: E731
    else:

        def fn() -> object:
            pyr = open_pyramid(case.path)
            check_pyramid(pyr)
            small = pyr.levels[-1]
            la = LevelArray(small.source, case.name, ChunkCache(32 << 20), EventStream())
            return la.read_box([(0, min(n, 4)) for n in la.shape])

    try:
        result, error, peak = run_bounded(fn, CASE_SECONDS)
    except Hang as e:
        return str(e)
    if peak > case.max_bytes:
        return f"peak traced memory {peak / 2**20:.0f} MiB > {case.max_bytes / 2**20:.0f} MiB"
    if error is not None and not isinstance(error, ChunkviewError):
        return f"raised {type(error).__name__}: {error}"
    if case.expect == "error":
        if error is None:
            return "opened, expected a ChunkviewError"
        if case.match and not re.search(case.match, str(error)):
            return f"error {error!r} does not match {case.match!r}"
        return None
    if error is not None:
        return f"raised {type(error).__name__}: {error}"
    if case.expect == "flagged":
        la, out, seen = result
        failed = {e.index: e.reason for e in seen if e.kind == "failed"}
        if set(failed) != set(case.chunks) or set(la.failures) != set(case.chunks):
            return f"failed chunks {sorted(failed)}, expected {sorted(case.chunks)}"
        for idx, reason in failed.items():
            if case.match and not re.search(case.match, reason):
                return f"chunk {idx}: reason {reason!r} does not match {case.match!r}"
        assert case.data is not None
        expected = case.data.copy()
        for idx in case.chunks:  # a failed chunk reads as the fill value (0)
            expected[tuple(slice(a, b) for a, b in la.source.grid.chunk_box(idx))] = 0
        if not np.array_equal(out, expected):
            return f"read {out.tolist()}, expected {expected.tolist()}"
    return None


def _run(corpus: list[HostileCase], kind: str) -> None:
    cases = [c for c in corpus if c.kind == kind]
    assert cases
    problems = []
    logging.disable(logging.WARNING)  # every flagged chunk logs a warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for case in cases:
                why = _check(case)
                if why is not None:
                    problems.append(f"{case.name} [{case.expect}]: {why}")
    finally:
        logging.disable(logging.NOTSET)
    assert not problems, "\n".join(problems)


def test_metadata_cases(corpus: list[HostileCase]) -> None:
    _run(corpus, "metadata")


def test_chunk_cases(corpus: list[HostileCase]) -> None:
    _run(corpus, "chunk")


def test_path_cases(corpus: list[HostileCase]) -> None:
    _run(corpus, "path")


def test_tree_cases(corpus: list[HostileCase]) -> None:
    _run(corpus, "tree")


def test_corpus_covers_the_issue(corpus: list[HostileCase]) -> None:
    """The corpus spans every format and convention and every kind of damage."""
    names = {c.name.split("/")[0] for c in corpus}
    for prefix in (
        "v2",
        "v3",
        "v3-sharded",
        "n5",
        "n5-block",
        "ome04",
        "ome05",
        "n5-viewer",
        "bdv",
        "cosem",
        "huge",
        "tree",
        "v2-chunk",
        "v3-zstd",
        "v3-blosc",
    ):
        assert prefix in names, prefix
    assert {c.expect for c in corpus} == {"error", "flagged", "opens"}
    assert all(Path(c.path).exists() for c in corpus)
    assert len({c.name for c in corpus}) == len(corpus)
    assert all(c.max_bytes <= MAX_BYTES for c in corpus)


def test_bombs_are_refused_without_inflating(corpus: list[HostileCase]) -> None:
    """A bomb (a chunk that would inflate to 64 to 256 MiB) costs a small fraction of that."""
    bombs = [c for c in corpus if c.name.endswith("/bomb")]
    assert len(bombs) >= 6
    for case in bombs:
        _, error, peak = run_bounded(lambda c=case: _read_level(c), CASE_SECONDS)
        assert error is None, error
        assert peak < 16 << 20, f"{case.name}: {peak / 2**20:.1f} MiB"


_RSS_SCRIPT = """
import json, logging, sys, warnings
logging.disable(logging.WARNING)
warnings.simplefilter("ignore")
from napari_chunkview import open_pyramid
from napari_chunkview.loading import ChunkCache, EventStream, LevelArray
paths = json.loads(sys.argv[1])
pyramids = [open_pyramid(p) for p in paths]
for pyr in pyramids:  # library set-up (tensorstore's import, its thread pools) off the count
    getattr(pyr.levels[0].source, "box_reader", lambda: None)()
def hwm():  # the peak RSS of this process (ru_maxrss would be the forking parent's)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0])
before = hwm()
failed = []
for p, pyr in zip(paths, pyramids):
    la = LevelArray(pyr.levels[0].source, p, ChunkCache(1 << 20), EventStream())
    la.read_box([(0, 8), (0, 8)])
    failed.append(sorted(la.failures))
grown = hwm() - before
print(json.dumps({"grown_kib": grown, "failed": failed}))
"""


@pytest.mark.parametrize(
    "engine",
    [
        "per-chunk",
        "tensorstore",  # blosc headers are checked before a box goes to tensorstore
    ],
)
def test_bombs_in_c_code_stay_small(corpus: list[HostileCase], engine: str) -> None:
    """tracemalloc does not see C allocations (blosc, zstd, tensorstore): the process's
    peak RSS must not grow by a bomb's size either."""
    import json
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs Linux /proc for the peak RSS")
    bombs = [c for c in corpus if c.name.endswith("/bomb")]
    paths = [str(c.path / "s0") if c.name.startswith("n5") else str(c.path) for c in bombs]
    env = {**os.environ, "CHUNKVIEW_TENSORSTORE": "1" if engine == "tensorstore" else "0"}
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(f == [[1, 1]] for f in out["failed"]), out["failed"]
    # each bomb inflates to 64 MiB; reads themselves take a few MiB (measured: 1-4 MiB)
    assert out["grown_kib"] < 16 << 10, f"peak RSS grew by {out['grown_kib'] >> 10} MiB"

"""Which chunks of a level the scan reads, and in which batches.

With an exact listing (``scan_storage``), only stored chunks are fetched: the missing ones
are known without a request. A ``sample`` fraction picks chunks at random (seeded, so a
run is repeatable and the local and distributed runs read the same chunks), at most
``MAX_SAMPLED_CHUNKS`` of them, drawn without enumerating the grid. Batches of a sharded
level hold whole shards, so each shard index is read by one task. A level whose chunk or
element count does not fit the scan's 64-bit arithmetic is not planned at all
(``LevelPlan.skipped`` says why; the report turns it into a finding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..model import Finding, Level, Location, Pyramid
from ._handles import LevelRef
from ._storage import StorageFigures

#: Without a listing a full scan requests every key; above this many chunks a level is
#: sampled instead (the report says so).
MAX_UNLISTED_CHUNKS = 1 << 22
#: A sampled scan reads at most this many chunks of a level (as many as an unlisted full
#: scan may request): a larger ``sample`` is capped and the report says so. Planning then
#: costs O(this) time and memory, whatever the size of the grid.
MAX_SAMPLED_CHUNKS = 1 << 22
#: Flat chunk indices and element counts are numpy int64 throughout the scan (index
#: arithmetic, histograms); a level with more chunks or elements is not scanned.
MAX_SCANNABLE = int(np.iinfo(np.int64).max)
#: Aim for about this many tasks per level (more = finer progress and balance).
TASKS_PER_LEVEL = 64
MIN_BATCH, MAX_BATCH = 8, 2048


@dataclass
class LevelPlan:
    image: int
    level: int
    lv: Level
    ref: LevelRef
    storage: StorageFigures | None
    sample: float | None
    #: flat (C-order) chunk indices the scan reads, in batches
    batches: list[np.ndarray] = field(default_factory=list)
    #: flat indices in the sample known to be missing from the listing (not fetched);
    #: for a full scan with a listing only their number and elements are kept
    known_missing: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    known_missing_count: int = 0
    known_missing_elements: int = 0
    #: flat indices of every stored chunk (exact listings only)
    stored: np.ndarray | None = None
    #: True when a full scan was asked for but the level is too big to scan unlisted
    auto_sampled: bool = False
    #: chunks the requested ``sample`` fraction asked for when that exceeded
    #: ``MAX_SAMPLED_CHUNKS`` (``sample`` then holds the fraction actually read)
    capped_from: int | None = None
    #: why the level is not scanned at all (too big for the scan's arithmetic)
    skipped: str | None = None

    @property
    def n_fetch(self) -> int:
        return sum(len(b) for b in self.batches)

    def unravel(self, flat: np.ndarray) -> np.ndarray:
        gshape = self.lv.grid.grid_shape
        if not gshape:
            return np.zeros((len(flat), 0), dtype=np.int64)
        return np.stack(np.unravel_index(flat, gshape), axis=1).astype(np.int64)


def _ravel(indices: object, gshape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(sorted(indices), dtype=np.int64).reshape(-1, len(gshape))  # type: ignore[call-overload]
    if not len(arr):
        return np.empty(0, np.int64)
    return np.asarray(np.ravel_multi_index(tuple(arr.T), gshape), dtype=np.int64)


def _unit_chunks(level: Level, units: object) -> np.ndarray:
    """Flat indices of every chunk inside the storage units (shards) ``units``."""
    grid = level.grid
    per = tuple(s // c for s, c in zip(grid.read_unit, grid.chunk_shape, strict=True))
    out = []
    for sidx in units:  # type: ignore[attr-defined]
        ranges = [
            np.arange(s * p, min((s + 1) * p, g))
            for s, p, g in zip(sidx, per, grid.grid_shape, strict=True)
        ]
        mesh = np.meshgrid(*ranges, indexing="ij")
        out.append(np.ravel_multi_index(tuple(m.ravel() for m in mesh), grid.grid_shape))
    return np.concatenate(out).astype(np.int64) if out else np.empty(0, np.int64)


def plan_level(
    image: int,
    index: int,
    level: Level,
    ref: LevelRef,
    storage: StorageFigures | None,
    sample: float | None,
) -> LevelPlan:
    grid = level.grid
    n = grid.n_chunks
    plan = LevelPlan(image, index, level, ref, storage, sample)
    plan.skipped = too_big(level)
    if plan.skipped is not None:
        return plan
    full = sample is None or sample >= 1
    listed = storage is not None and storage.exact and storage.stored is not None
    if listed:
        assert storage is not None and storage.stored is not None
        stored = _ravel(storage.stored, grid.grid_shape)
        if storage.unreadable:
            stored = np.union1d(stored, _unit_chunks(level, storage.unreadable))
        plan.stored = stored
    if full and plan.stored is None and n > MAX_UNLISTED_CHUNKS:
        sample, full = MAX_UNLISTED_CHUNKS / n, False
        plan.sample = sample
        plan.auto_sampled = True
    if full and plan.stored is not None:
        # every chunk, without enumerating the missing ones (levels may declare 10^8 chunks)
        fetch = plan.stored
        plan.known_missing_count = n - len(fetch)
        plan.known_missing_elements = math.prod(grid.shape) - chunk_elements(level, fetch)
    else:
        if full:
            chosen = np.arange(n, dtype=np.int64)
        else:
            assert sample is not None
            want = MAX_UNLISTED_CHUNKS if plan.auto_sampled else max(1, math.ceil(sample * n))
            k = min(want, MAX_SAMPLED_CHUNKS, n)
            if k < min(want, n):
                plan.capped_from = min(want, n)
                plan.sample = k / n
            chosen = sample_flat(np.random.default_rng([image, index, n]), n, k)
        fetch = chosen
        if plan.stored is not None:
            is_stored = np.isin(chosen, plan.stored)
            fetch, plan.known_missing = chosen[is_stored], chosen[~is_stored]
            plan.known_missing_count = len(plan.known_missing)
            plan.known_missing_elements = chunk_elements(level, plan.known_missing)
    plan.batches = _batches(level, fetch)
    return plan


def too_big(level: Level) -> str | None:
    """What of ``level`` overflows the scan's int64 arithmetic ("chunks" or "elements"), or
    ``None``. Counted in Python ints: they may be far beyond 2**63."""
    if level.grid.n_chunks > MAX_SCANNABLE:
        return "chunks"
    if math.prod(level.grid.shape) > MAX_SCANNABLE:
        return "elements"
    return None


def sample_flat(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``k`` distinct flat indices out of ``range(n)``, sorted, at random from ``rng``;
    time and memory O(k) (bounded by ``MAX_SAMPLED_CHUNKS``), not O(n)."""
    if k <= n // 50 or n <= 2 * MAX_SAMPLED_CHUNKS:
        # numpy uses Floyd's algorithm (O(k)) when k <= n / 50, else shuffles arange(n),
        # which the second condition bounds
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    # n / 50 < k <= MAX_SAMPLED_CHUNKS < n / 2: draw with replacement, drop repeats (at
    # most half of the draws repeat), then keep a random k of the distinct ones: every
    # k-subset stays equally likely
    got = np.empty(0, np.int64)
    while len(got) < k:
        more = rng.integers(0, n, size=2 * (k - len(got)) + 16, dtype=np.int64)
        got = np.sort(np.concatenate([got, more]))
        # by hand: np.unique (numpy 2.5, hash based) is ~15x slower than a sort here
        got = got[np.concatenate(([True], got[1:] != got[:-1]))]
    keep = np.sort(rng.choice(len(got), size=k, replace=False))
    return np.asarray(got[keep], dtype=np.int64)


def chunk_elements(level: Level, flat: np.ndarray) -> int:
    """Elements inside the array of the chunks ``flat`` (edge chunks are clipped)."""
    grid = level.grid
    if not len(flat):
        return 0
    if not grid.grid_shape:
        return 1
    nd = np.stack(np.unravel_index(flat, grid.grid_shape), axis=1)
    chunk = np.asarray(grid.chunk_shape, np.int64)
    shape = np.asarray(grid.shape, np.int64)
    ext = np.minimum(chunk, shape - nd * chunk)
    return int(np.prod(ext, axis=1).sum())


def spread(values: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` of ``values``, evenly spread."""
    if len(values) <= k:
        return values
    picked: np.ndarray = values[np.linspace(0, len(values) - 1, k).round().astype(int)]
    return picked


def missing_examples(plan: LevelPlan, k: int) -> np.ndarray:
    """Up to ``k`` missing chunks (flat), spread over the level, without enumerating
    every chunk of a huge level."""
    n = plan.lv.grid.n_chunks
    if plan.stored is None or n == len(plan.stored):
        return np.empty(0, np.int64)
    # evenly spaced probes in Python ints (float steps lose precision near 2**63)
    m = min(n, 8 * k)
    step = max(1, m - 1)
    probe = np.unique(
        np.asarray([(2 * i * (n - 1) + step) // (2 * step) for i in range(m)], np.int64)
    )
    out = probe[~np.isin(probe, plan.stored)]
    if not len(out):  # few gaps between many stored chunks: walk from the start
        pos = np.flatnonzero(plan.stored != np.arange(len(plan.stored)))
        first = int(pos[0]) if len(pos) else len(plan.stored)
        out = np.asarray([first], np.int64)
    return spread(out, k)


def _batches(level: Level, fetch: np.ndarray) -> list[np.ndarray]:
    if not len(fetch):
        return []
    size = min(MAX_BATCH, max(MIN_BATCH, math.ceil(len(fetch) / TASKS_PER_LEVEL)))
    grid = level.grid
    if grid.shard_shape is None or not grid.grid_shape:
        return [fetch[i : i + size] for i in range(0, len(fetch), size)]
    # whole shards per batch: order chunks by shard, cut where a shard ends
    per = np.asarray(
        [s // c for s, c in zip(grid.shard_shape, grid.chunk_shape, strict=True)], np.int64
    )
    nd = np.stack(np.unravel_index(fetch, grid.grid_shape), axis=1)
    sgrid = tuple(int(x) for x in -(-np.asarray(grid.grid_shape) // per))
    shard = np.ravel_multi_index(tuple((nd // per).T), sgrid)
    order = np.argsort(shard, kind="stable")
    fetch, shard = fetch[order], shard[order]
    cuts = np.flatnonzero(np.diff(shard)) + 1  # first row of each new shard
    out, start = [], 0
    for cut in [*cuts.tolist(), len(fetch)]:
        if cut - start >= size or cut == len(fetch):
            out.append(fetch[start:cut])
            start = cut
    return [b for b in out if len(b)]


def plan_findings(images: tuple[Pyramid, ...], plans: list[LevelPlan]) -> list[Finding]:
    """What the plans change about the scan: levels sampled automatically, samples capped
    at ``MAX_SAMPLED_CHUNKS``, levels too big to scan at all."""
    out: list[Finding] = []
    for p in plans:
        pyr, lv, n = images[p.image], p.lv, p.lv.grid.n_chunks
        where = Location(image=pyr.path, level=p.level, path=lv.path)
        if p.skipped is not None:
            count = n if p.skipped == "chunks" else math.prod(lv.grid.shape)
            out.append(
                Finding(
                    "warning",
                    "scan.too_big",
                    f"level {p.level} declares {count} {p.skipped} (shape {tuple(lv.shape)} in "
                    f"chunks of {tuple(lv.grid.chunk_shape)}): too many to scan, its chunks were "
                    f"not checked (the scan counts {p.skipped} in 64-bit integers, at most "
                    f"{MAX_SCANNABLE})",
                    where,
                    "no storage holds a level this big: its shape or chunk shape is almost "
                    "certainly wrong in the metadata, and viewers cannot show it either",
                    "check the level's shape and chunk shape in the metadata (a value typed with "
                    "extra digits, or a chunk shape of 1); the other levels were checked",
                )
            )
        elif p.auto_sampled:
            out.append(
                Finding(
                    "info",
                    "scan.sampled",
                    f"level {p.level} has {n} chunks and the store cannot be listed: "
                    f"{p.n_fetch + len(p.known_missing)} of them ({percent(p.sample)}) "
                    "were scanned",
                    where,
                    "a full scan would request every possible key, stored or not",
                    "run the check where the store can be listed (a local copy, S3), or choose "
                    "--sample yourself",
                )
            )
        elif p.capped_from is not None:
            k = p.n_fetch + len(p.known_missing)
            out.append(
                Finding(
                    "info",
                    "scan.capped",
                    f"the sample of level {p.level} ({p.capped_from} of its {n} chunks) was capped "
                    f"at {k} chunks ({percent(p.sample)} of the level)",
                    where,
                    f"a sample reads at most {MAX_SAMPLED_CHUNKS} chunks per level, so that a "
                    "sampled check of a huge level finishes; statistics come from those chunks",
                    "nothing: a sample of this size estimates the level well; to read more, scan "
                    "the level fully (no --sample)",
                )
            )
    return out


def percent(fraction: float | None) -> str:
    """``0.25`` → ``25%``, ``3.8e-06`` → ``0.00038%`` (never a bare ``0.00%``)."""
    return "?" if fraction is None else f"{fraction * 100:.3g}%"

"""Turn the scan's per-batch results into one ``LevelScan`` per level (chunk-state map,
stored sizes, statistics) and chunk findings. Results are combined in batch order, so a
run gives the same numbers whichever worker finished first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from ..model import Finding, Location, Pyramid
from ._chunkscan import ALL_FILL, FAILED, MISSING, NOT_SCANNED, OK, BatchResult
from ._plan import LevelPlan, missing_examples
from ._stats import Stats, finalize, partial_for

#: Levels with more chunks than this keep no chunk-state map (counts only).
MAP_LIMIT = 1 << 24
#: Chunk findings listed one by one per code and level; the rest are summed up.
MAX_PER_CODE = 50
#: Missing chunks kept as examples (and cross-checked) for levels without a map.
MISSING_EXAMPLES = 512

WHY_FIX: dict[str, tuple[str, str]] = {
    "chunk.undecodable": (
        "the chunk is stored but its bytes do not decode: viewers show it as empty (or "
        "fail), and analyses silently lose that block of the image",
        "restore the chunk from the source data or a backup, or re-export the level; "
        "check the copy/transfer that wrote it (interrupted uploads leave such chunks)",
    ),
    "chunk.size": (
        "the chunk decodes to the wrong number of elements (truncated or written with "
        "other chunk settings): its content cannot be placed in the image",
        "rewrite the chunk (or the level) with the array's chunk shape and data type",
    ),
    "chunk.unreadable": (
        "the store refused or failed to return the chunk",
        "check access rights and the storage service, then run the check again",
    ),
    "n5.header": (
        "the N5 block header disagrees with the dataset's blockSize: readers pad or "
        "crop the block, so part of it is lost or filled with zeros",
        "rewrite the block with the dataset's blockSize (edge blocks may be cropped to "
        "the dataset bounds), or fix blockSize in attributes.json if all blocks agree",
    ),
    "shard.index": (
        "the shard's index (where each inner chunk lies) is corrupt or truncated: every "
        "chunk in the shard is unreadable",
        "rewrite the shard from the source data; check the transfer that wrote it",
    ),
    "shard.bounds": (
        "the shard index points outside the shard's data: those inner chunks are lost",
        "rewrite the shard from the source data; a truncated shard file is the usual cause",
    ),
    "chunk.missing_data": (
        "the chunk is not stored (reads as the fill value) but another level of the pyramid "
        "has image content there: the chunk was most likely lost, so the full-resolution "
        "view shows a hole the overview does not",
        "restore the chunk (re-copy it from the source, or re-export the level)",
    ),
}


@dataclass
class LevelScan:
    plan: LevelPlan
    states: np.ndarray | None  # grid-shaped uint8 map, None for huge grids
    counts: dict[str, int]
    #: missing chunks (flat): all of them, or a spread of examples for huge levels
    missing_flat: np.ndarray
    sizes: np.ndarray  # stored bytes of each scanned stored chunk
    stats: Stats | None
    decoded_bytes: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    all_fill_flat: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    all_fill_bytes: int = 0
    missing_count: int = 0

    @property
    def failed_flat(self) -> np.ndarray:
        return np.asarray(sorted({p[0] for p in self.problems}), dtype=np.int64)


def combine(plan: LevelPlan, results: list[BatchResult]) -> LevelScan:
    lv = plan.lv
    grid = lv.grid
    n = grid.n_chunks
    gshape = grid.grid_shape
    states = np.zeros(n, np.uint8) if n <= MAP_LIMIT else None
    if states is not None and plan.stored is not None:
        states[:] = MISSING
        states[plan.stored] = NOT_SCANNED
    partial = partial_for(lv.dtype)
    partial.add_constant(lv.fill_value, plan.known_missing_elements)
    counts = dict.fromkeys(("scanned", "ok", "all_fill", "missing", "failed"), 0)
    counts["missing"] = plan.known_missing_count
    counts["scanned"] = plan.known_missing_count
    sizes: list[np.ndarray] = []
    problems: list[tuple[int, str, str, str]] = []
    fill_flat: list[np.ndarray] = []
    scan = LevelScan(plan, None, counts, np.empty(0, np.int64), np.empty(0, np.int64), None)
    for r in results:
        flat = (
            np.ravel_multi_index(tuple(r.indices.T), gshape).astype(np.int64)
            if gshape else np.zeros(len(r.states), np.int64)
        )
        done = r.states != NOT_SCANNED
        if states is not None:
            states[flat[done]] = r.states[done]
        counts["scanned"] += int(done.sum())
        counts["ok"] += int((r.states == OK).sum())
        counts["all_fill"] += int((r.states == ALL_FILL).sum())
        counts["missing"] += int((r.states == MISSING).sum())
        counts["failed"] += int((r.states == FAILED).sum())
        stored = r.sizes >= 0
        sizes.append(r.sizes[stored & (r.states != FAILED)])
        is_fill = r.states == ALL_FILL
        fill_flat.append(flat[is_fill])
        scan.all_fill_bytes += int(r.sizes[is_fill].sum())
        problems.extend((int(flat[row]), code, msg, key) for row, code, msg, key in r.problems)
        if r.stats is not None:
            partial.merge(r.stats)
        scan.decoded_bytes += r.decoded_bytes
        scan.seconds += r.seconds
        scan.cancelled |= r.cancelled
    scan.states = states.reshape(gshape) if states is not None else None
    scan.sizes = np.concatenate(sizes) if sizes else np.empty(0, np.int64)
    scan.all_fill_flat = np.sort(np.concatenate(fill_flat)) if fill_flat else scan.all_fill_flat
    scan.problems = sorted(problems)
    scan.stats = finalize(partial)
    if states is not None:
        scan.missing_flat = np.flatnonzero(states == MISSING).astype(np.int64)
        scan.missing_count = len(scan.missing_flat)
    else:  # a huge level: counts, and a spread of examples
        scan.missing_flat = missing_examples(plan, MISSING_EXAMPLES)
        scan.missing_count = (
            lv.grid.n_chunks - len(plan.stored) if plan.stored is not None else counts["missing"]
        )
    return scan


def _idx(plan: LevelPlan, flat: int) -> tuple[int, ...]:
    gshape = plan.lv.grid.grid_shape
    return tuple(int(i) for i in np.unravel_index(flat, gshape)) if gshape else ()


def chunk_findings(pyr: Pyramid, scan: LevelScan) -> list[Finding]:
    plan, lv = scan.plan, scan.plan.lv
    loc = Location(image=pyr.path, level=plan.level, path=lv.path)
    out: list[Finding] = []
    by_code: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for flat, code, msg, key in scan.problems:
        by_code[code].append((flat, msg, key))
    for code, items in by_code.items():
        why, fix = WHY_FIX.get(code, ("", ""))
        if code.startswith("shard."):  # one finding per shard
            per_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
            for flat, msg, key in items:
                per_key[key].append((flat, msg))
            for key, entries in per_key.items():
                first_flat, msg = entries[0]
                n = len(entries)
                out.append(Finding(
                    "error", code,
                    f"shard {key}: {msg}" + (f" ({n} inner chunks affected)" if n > 1 else ""),
                    replace(loc, chunk=_idx(plan, first_flat), key=key), why, fix, count=n,
                ))
            continue
        for flat, msg, key in items[:MAX_PER_CODE]:
            out.append(Finding(
                "error", code, f"chunk {_idx(plan, flat)}: {msg}",
                replace(loc, chunk=_idx(plan, flat), key=key), why, fix,
            ))
        if len(items) > MAX_PER_CODE:
            rest = len(items) - MAX_PER_CODE
            out.append(Finding(
                "error", code, f"{rest} more chunks of level {plan.level} with the same problem",
                loc, why, fix, count=rest,
            ))
    out.extend(_missing_and_fill(pyr, scan, loc))
    return out


def _missing_and_fill(pyr: Pyramid, scan: LevelScan, loc: Location) -> list[Finding]:
    plan, lv = scan.plan, scan.plan.lv
    out = []
    n = lv.grid.n_chunks
    exact = plan.stored is not None
    n_missing = scan.missing_count
    fill = 0 if lv.fill_value is None else lv.fill_value
    if n_missing and n_missing == n:
        out.append(Finding(
            "warning", "level.empty",
            f"level {plan.level} ({lv.path}) stores no chunk at all: all {n} read as the fill "
            f"value {fill}",
            loc,
            "the level shows nothing; if it should hold image data, it was never written or "
            "was lost",
            "write the level (e.g. downsample it from the level above), or remove it from the "
            "multiscale metadata",
            count=n,
        ))
    elif n_missing:
        first = int(scan.missing_flat[0]) if len(scan.missing_flat) else None
        idx = _idx(plan, first) if first is not None else None
        scope = "" if exact else f" (among the {scan.counts['scanned']} chunks scanned)"
        out.append(Finding(
            "info", "chunk.missing",
            f"{n_missing} of {n} chunks of level {plan.level} are not stored{scope}; they read "
            f"as the fill value {fill}",
            replace(loc, chunk=idx, key=lv.chunk_key(idx) if idx is not None else None),
            "normal for empty regions (writers skip chunks that are all fill value); a "
            "problem only where the image should have content (see chunk.missing_data)",
            "nothing, unless the chunks should hold data",
            count=n_missing,
        ))
    if len(scan.all_fill_flat):
        k = len(scan.all_fill_flat)
        idx = _idx(plan, int(scan.all_fill_flat[0]))
        out.append(Finding(
            "info", "chunk.all_fill",
            f"{k} stored chunks of level {plan.level} hold only the fill value {fill} "
            f"({scan.all_fill_bytes} bytes) and could be omitted",
            replace(loc, chunk=idx, key=lv.chunk_key(idx)),
            "they cost storage, transfer and listing time without adding information",
            "rewrite with write_empty_chunks=False (zarr-python) or delete these chunk files; "
            "readers return the fill value for missing chunks",
            count=k,
        ))
    return out


def size_summary(sizes: np.ndarray) -> dict[str, float] | None:
    if not len(sizes):
        return None
    q = np.percentile(sizes, [0, 5, 50, 95, 100])
    return {
        "count": len(sizes),
        "min": int(q[0]),
        "p5": float(q[1]),
        "median": float(q[2]),
        "p95": float(q[3]),
        "max": int(q[4]),
        "mean": float(sizes.mean()),
        "total": int(sizes.sum()),
    }

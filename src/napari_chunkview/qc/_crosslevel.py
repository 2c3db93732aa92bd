"""Checks that compare levels on their content (small reads, in the calling process):

* a missing chunk where a neighbouring level has image content was most likely lost;
* a coarse level should look like the finer level downsampled (compared on a few chunks,
  block means over 4-pixel windows so that the downsampling method — nearest, mean,
  Gaussian, interpolation — does not matter, only gross differences do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model import Finding, Level, Location, Pyramid
from ._combine import MAX_PER_CODE, WHY_FIX, LevelScan
from ._plan import spread

#: Missing chunks cross-checked per level (evenly spread when there are more).
MAX_MISSING_CHECKED = 512
#: A neighbouring level smaller than this is read whole once.
WHOLE_LEVEL_BYTES = 64 << 20
#: A region "has content" when more than this fraction differs from the fill value.
CONTENT_FRACTION = 0.01
#: Coarse chunks compared per pair of levels.
INTENSITY_SAMPLES = 3
#: Mean absolute difference of 4-px block means, as a fraction of the 1-99 % range of the
#: finer level, above which a coarse level does not look like the finer one.
INTENSITY_TOLERANCE = 0.2


def _map_box(
    src: Level, dst: Level, box: Sequence[tuple[int, int]]
) -> list[tuple[int, int]] | None:
    """``box`` of ``src`` in ``dst``'s pixels, shrunk by one pixel per side on scaled axes
    (downsampling filters reach a little past a chunk's edge)."""
    out = []
    for ax, (a, b) in enumerate(box):
        r = src.shape[ax] / dst.shape[ax] if dst.shape[ax] else 1.0
        lo, hi = math.ceil(a / r - 1e-9), math.floor(b / r + 1e-9)
        lo, hi = max(0, lo), min(dst.shape[ax], hi)
        if r != 1 and hi - lo >= 3:
            lo, hi = lo + 1, hi - 1
        if hi <= lo:
            return None
        out.append((lo, hi))
    return out


def _has_content(region: np.ndarray, fill: Any) -> bool:
    if not region.size:
        return False
    if isinstance(fill, float) and math.isnan(fill):
        differs = ~np.isnan(region)
    else:
        differs = region != (0 if fill is None else fill)
    return int(np.count_nonzero(differs)) > CONTENT_FRACTION * region.size


class _Reader:
    """Reads boxes of a level: the whole level once when small, else box by box."""

    def __init__(self, level: Level) -> None:
        self.level = level
        self.whole: np.ndarray | None = None
        if level.logical_nbytes <= WHOLE_LEVEL_BYTES:
            try:
                self.whole = np.asarray(level.source.read([(0, s) for s in level.shape]))
            except Exception:  # a broken chunk: fall back to box reads
                self.whole = None

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray | None:
        if self.whole is not None:
            return self.whole[tuple(slice(a, b) for a, b in box)]
        try:
            return np.asarray(self.level.source.read(list(box)))
        except Exception:  # unreadable region: not evidence either way
            return None


def missing_data_findings(pyr: Pyramid, scans: dict[int, LevelScan]) -> list[Finding]:
    """Missing chunks of each scanned level where the next coarser level (the finer one
    for the coarsest level) has content."""
    levels = pyr.stored_levels
    out: list[Finding] = []
    if len(levels) < 2:
        return out
    for li, scan in sorted(scans.items()):
        missing = scan.missing_flat
        if not len(missing) or scan.missing_count == scan.plan.lv.grid.n_chunks:
            continue  # an empty level is reported as such
        lv = levels[li]
        nb_i = li + 1 if li + 1 < len(levels) else li - 1
        nb = levels[nb_i]
        reader = _Reader(nb)
        checked = spread(missing, MAX_MISSING_CHECKED)
        gshape = lv.grid.grid_shape
        why, fix = WHY_FIX["chunk.missing_data"]
        found = 0
        for flat in checked:
            idx = tuple(int(i) for i in np.unravel_index(int(flat), gshape))
            box = _map_box(lv, nb, lv.grid.chunk_box(idx))
            region = reader.read(box) if box is not None else None
            if region is None or not _has_content(region, nb.fill_value):
                continue
            found += 1
            if found > MAX_PER_CODE:
                continue
            key = lv.chunk_key(idx)
            out.append(Finding(
                "error", "chunk.missing_data",
                f"chunk {idx} is not stored, but level {nb_i} ({nb.path}) has image content "
                "there",
                Location(image=pyr.path, level=li, path=lv.path, chunk=idx, key=key), why, fix,
            ))
        if found > MAX_PER_CODE:
            rest = found - MAX_PER_CODE
            out.append(Finding(
                "error", "chunk.missing_data",
                f"{rest} more missing chunks of level {li} where level {nb_i} has content",
                Location(image=pyr.path, level=li, path=lv.path), why, fix, count=rest,
            ))
    return out


def _block_mean(a: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    crop = tuple(slice(0, (s // f) * f) for s, f in zip(a.shape, factors, strict=True))
    a = a[crop]
    shape: list[int] = []
    for s, f in zip(a.shape, factors, strict=True):
        shape.extend((s // f, f))
    return a.reshape(shape).mean(axis=tuple(range(1, 2 * a.ndim, 2)))


def _difference(coarse: np.ndarray, fine: np.ndarray, r: Sequence[int]) -> float | None:
    """Smoothed mean |coarse - fine downsampled| over the fine level's 1-99 % range."""
    fine = np.nan_to_num(fine.astype(np.float64))
    coarse = np.nan_to_num(coarse.astype(np.float64))
    lo, hi = np.percentile(fine, [1, 99])
    span = hi - lo if hi > lo else max(1.0, float(np.abs(fine).max()))
    window = [min(4, s) if f > 1 else 1 for s, f in zip(coarse.shape, r, strict=True)]
    c = _block_mean(coarse, window)
    best = None
    for down in (_block_mean(fine, r), fine[tuple(slice(None, None, f) for f in r)]):
        down = down[tuple(slice(0, s) for s in coarse.shape)]
        if down.shape != coarse.shape:
            continue
        d = float(np.abs(c - _block_mean(down, window)).mean()) / span
        best = d if best is None else min(best, d)
    return best


def _overlaps(scan: LevelScan | None, level: Level, box: Sequence[tuple[int, int]]) -> bool:
    """Does ``box`` touch a chunk of ``level`` that is missing or failed?"""
    if scan is None or scan.states is None:
        return False
    bad = scan.states[tuple(slice(r.start, r.stop) for r in level.grid.chunk_ranges(box))]
    return bool(np.isin(bad, (3, 4)).any())


def intensity_findings(pyr: Pyramid, scans: dict[int, LevelScan]) -> list[Finding]:
    levels = pyr.stored_levels
    out: list[Finding] = []
    if pyr.kind == "labels":
        return out
    for li in range(len(levels) - 1):
        fine, coarse = levels[li], levels[li + 1]
        ratios = [f / c if c else 1.0 for f, c in zip(fine.shape, coarse.shape, strict=True)]
        r = [max(1, round(x)) for x in ratios]
        if any(abs(x - f) > 0.15 for x, f in zip(ratios, r, strict=True)) or r == [1] * len(r):
            continue
        cscan = scans.get(li + 1)
        n = coarse.grid.n_chunks
        if cscan is not None and cscan.states is not None:
            candidates = np.flatnonzero(cscan.states.reshape(-1) == 1)
        elif cscan is not None and cscan.plan.stored is not None:
            candidates = cscan.plan.stored
        else:
            candidates = np.unique(np.linspace(0, n - 1, min(n, 64)).round().astype(np.int64))
        worst: tuple[float, tuple[int, ...]] | None = None
        for flat in spread(candidates, INTENSITY_SAMPLES):
            idx = tuple(int(i) for i in np.unravel_index(int(flat), coarse.grid.grid_shape))
            box = [
                (a, min(b, fine.shape[ax] // r[ax]))
                for ax, (a, b) in enumerate(coarse.grid.chunk_box(idx))
            ]
            if any(b <= a for a, b in box):
                continue
            fbox = [(a * f, b * f) for (a, b), f in zip(box, r, strict=True)]
            if _overlaps(scans.get(li), fine, fbox):
                continue
            try:
                c = np.asarray(coarse.source.read(box))
                f = np.asarray(fine.source.read(fbox))
            except Exception:  # broken chunks are reported by the scan
                continue
            if not _has_content(c, coarse.fill_value) or not _has_content(f, fine.fill_value):
                continue  # a missing region is not a sample of the content
            d = _difference(c, f, r)
            if d is not None and (worst is None or d > worst[0]):
                worst = (d, idx)
        if worst is None or worst[0] <= INTENSITY_TOLERANCE:
            continue
        d, idx = worst
        out.append(Finding(
            "warning", "pyramid.intensity",
            f"level {li + 1} ({coarse.path}) does not look like level {li} downsampled: on "
            f"chunk {idx} the smoothed difference is {d:.0%} of level {li}'s intensity range",
            Location(image=pyr.path, level=li + 1, path=coarse.path, chunk=idx,
                     key=coarse.chunk_key(idx)),
            "zoomed out, viewers show this level instead of the full-resolution data: a level "
            "with other content, intensity scaling or position shows a different image",
            "regenerate the level by downsampling the finer level (same data type, no "
            "rescaling)",
        ))
    return out

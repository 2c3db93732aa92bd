"""Intensity statistics that combine across chunk batches (and across machines).

A ``StatsPartial`` is built per batch of chunks and merged in batch order, so the result
does not depend on which worker ran which batch. Integers of at most 16 bits (and bool)
keep a full histogram (one bin per value): percentiles are exact. Wider integers and
floats keep exact min / max / mean / NaN / ±inf counts plus a strided subsample of the
values, from which percentiles and the histogram are estimated (``exact=False``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Values kept per chunk (and overall) for dtypes without an exact histogram.
SUBSAMPLE_PER_CHUNK = 4096
SUBSAMPLE_TOTAL = 1 << 20
PERCENTILES = (0.1, 1.0, 50.0, 99.0, 99.9)
REPORT_BINS = 256


def exact_histogram(dtype: np.dtype[Any]) -> bool:
    return dtype.kind == "b" or (dtype.kind in "iu" and dtype.itemsize <= 2)


def _offset(dtype: np.dtype[Any]) -> int:
    return -int(np.iinfo(dtype).min) if dtype.kind == "i" else 0


def _nbins(dtype: np.dtype[Any]) -> int:
    return 2 if dtype.kind == "b" else 1 << (8 * dtype.itemsize)


def numeric(dtype: np.dtype[Any]) -> bool:
    return dtype.kind in "biuf"


def partial_for(dtype: Any) -> StatsPartial:
    """An empty partial for ``dtype`` (non-numeric data types keep no statistics)."""
    dt = np.dtype(dtype)
    return StatsPartial(dt.str if numeric(dt) else "|O")


@dataclass
class StatsPartial:
    """Running statistics of one batch (or several merged)."""

    dtype: str
    count: int = 0
    nan: int = 0  # NaNs in stored chunks
    nan_fill: int = 0  # NaNs that are the fill value of missing chunks
    posinf: int = 0
    neginf: int = 0
    saturated: int = 0
    min: float | None = None
    max: float | None = None
    total: float = 0.0
    total_sq: float = 0.0
    hist: np.ndarray | None = None
    sample: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        dt = np.dtype(self.dtype)
        if self.hist is None and exact_histogram(dt):
            self.hist = np.zeros(_nbins(dt), dtype=np.int64)

    # -- pickling: only the occupied part of the histogram travels from a worker ----------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        hist = state.pop("hist")
        part = None
        if hist is not None:
            nz = np.flatnonzero(hist)
            lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
            part = (len(hist), lo, hist[lo:hi].copy())
        state["hist_part"] = part
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        part = state.pop("hist_part")
        self.__dict__.update(state)
        self.hist = None
        if part is not None:
            n, lo, counts = part
            self.hist = np.zeros(n, dtype=np.int64)
            self.hist[lo : lo + len(counts)] = counts

    # -- adding values --------------------------------------------------------------------
    def add(self, values: np.ndarray) -> None:
        """Add the elements of ``values`` (any shape, this partial's dtype)."""
        dt = np.dtype(self.dtype)
        if not values.size or not numeric(dt):
            return
        flat = values.reshape(-1)
        if self.hist is not None:
            ints: np.ndarray
            if dt.kind == "b":
                ints = flat.view(np.uint8)
            elif dt.kind == "i":
                ints = flat.astype(np.int64) + _offset(dt)
            else:
                ints = flat
            counts = np.bincount(ints)  # only up to the largest value: small allocations
            self.hist[: len(counts)] += counts
            self.count += flat.size
            return
        if dt.kind == "f":
            finite_mask = np.isfinite(flat)
            n_finite = int(finite_mask.sum())
            if n_finite != flat.size:
                self.nan += int(np.isnan(flat).sum())
                self.posinf += int(np.isposinf(flat).sum())
                self.neginf += int(np.isneginf(flat).sum())
                flat = flat[finite_mask]
        elif dt.kind in "iu":
            self.saturated += int(np.count_nonzero(flat == np.iinfo(dt).max))
        self.count += values.size
        if not flat.size:
            return
        lo, hi = flat.min(), flat.max()
        self.min = float(lo) if self.min is None else min(self.min, float(lo))
        self.max = float(hi) if self.max is None else max(self.max, float(hi))
        as_f = flat.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # huge floats: inf, then None
            self.total += float(as_f.sum())
            self.total_sq += float(np.dot(as_f, as_f))
        step = max(1, flat.size // SUBSAMPLE_PER_CHUNK)
        self.sample.append(np.array(flat[::step]))

    def add_constant(self, value: Any, n: int) -> None:
        """Add ``n`` elements equal to ``value`` (the fill value of missing chunks)."""
        if n <= 0:
            return
        dt = np.dtype(self.dtype)
        if not numeric(dt):
            return
        try:
            v = np.asarray(0 if value is None else value).astype(dt)
        except (TypeError, ValueError):
            v = np.zeros((), dtype=dt)
        if self.hist is not None:
            i = int(v.view(np.uint8)) if dt.kind == "b" else int(v) + _offset(dt)
            self.hist[i] += n
            self.count += n
            return
        if dt.kind == "f" and not np.isfinite(v):
            self.count += n
            if np.isnan(v):
                self.nan_fill += n
            elif v > 0:
                self.posinf += n
            else:
                self.neginf += n
            return
        if dt.kind in "iu" and v == np.iinfo(dt).max:
            self.saturated += n
        fv = float(v)
        self.count += n
        self.min = fv if self.min is None else min(self.min, fv)
        self.max = fv if self.max is None else max(self.max, fv)
        self.total += fv * n
        self.total_sq += fv * fv * n
        self.sample.append(np.full(min(n, SUBSAMPLE_PER_CHUNK), v, dtype=dt))

    def merge(self, other: StatsPartial) -> None:
        self.count += other.count
        self.nan += other.nan
        self.nan_fill += other.nan_fill
        self.posinf += other.posinf
        self.neginf += other.neginf
        self.saturated += other.saturated
        for name, pick in (("min", min), ("max", max)):
            a, b = getattr(self, name), getattr(other, name)
            setattr(self, name, b if a is None else a if b is None else pick(a, b))
        self.total += other.total
        self.total_sq += other.total_sq
        if self.hist is not None and other.hist is not None:
            self.hist += other.hist
        self.sample.extend(other.sample)


@dataclass(frozen=True, slots=True)
class Stats:
    """Statistics of one level (over the chunks scanned; missing chunks count as their
    fill value, as a viewer shows them)."""

    dtype: str
    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    nan_count: int
    inf_count: int
    #: elements equal to the dtype's maximum (integers only; ``None`` for floats)
    saturated_count: int | None
    percentiles: dict[str, float]
    #: bin edges (len n+1) and counts (len n) for plotting
    hist_edges: tuple[float, ...]
    hist_counts: tuple[int, ...]
    #: True when percentiles/histogram are exact (≤16-bit integers), False when they
    #: come from a subsample of the values
    exact: bool
    #: NaNs that come from stored chunks (not from a NaN fill value)
    nan_stored: int = 0

    @property
    def saturated_fraction(self) -> float | None:
        if self.saturated_count is None or not self.count:
            return None
        return self.saturated_count / self.count

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "count": self.count,
            "min": _finite(self.min),
            "max": _finite(self.max),
            "mean": _finite(self.mean),
            "std": _finite(self.std),
            "nan_count": self.nan_count,
            "nan_stored": self.nan_stored,
            "inf_count": self.inf_count,
            "saturated_count": self.saturated_count,
            "saturated_fraction": self.saturated_fraction,
            "percentiles": dict(self.percentiles),
            "histogram": {"edges": list(self.hist_edges), "counts": list(self.hist_counts)},
            "exact": self.exact,
        }


def _finite(x: float | None) -> float | None:
    """JSON has no NaN / inf (sums of huge floats can overflow): ``None`` instead."""
    return x if x is None or math.isfinite(x) else None


def finalize(p: StatsPartial) -> Stats | None:
    """The ``Stats`` of a merged partial (``None`` for non-numeric data or no values)."""
    dt = np.dtype(p.dtype)
    if not numeric(dt) or p.count == 0:
        return None
    if p.hist is not None:
        return _from_hist(p, dt)
    finite = p.count - p.nan - p.nan_fill - p.posinf - p.neginf
    sample = np.concatenate(p.sample) if p.sample else np.empty(0, dt)
    if sample.size > SUBSAMPLE_TOTAL:
        sample = sample[:: math.ceil(sample.size / SUBSAMPLE_TOTAL)]
    sample = np.sort(sample.astype(np.float64))
    pct = (
        {_pkey(q): float(np.percentile(sample, q)) for q in PERCENTILES} if sample.size else {}
    )
    mean = p.total / finite if finite else None
    std = None
    if mean is not None and math.isfinite(mean) and math.isfinite(p.total_sq):
        std = math.sqrt(max(0.0, p.total_sq / finite - mean * mean))
    edges, counts = _hist_of_sample(sample, p.min, p.max, dt, finite)
    return Stats(
        dtype=dt.name,
        count=p.count,
        min=p.min,
        max=p.max,
        mean=mean,
        std=std,
        nan_count=p.nan + p.nan_fill,
        inf_count=p.posinf + p.neginf,
        saturated_count=p.saturated if dt.kind in "iu" else None,
        percentiles=pct,
        hist_edges=edges,
        hist_counts=counts,
        exact=False,
        nan_stored=p.nan,
    )


def _pkey(q: float) -> str:
    return f"p{q:g}"


def _from_hist(p: StatsPartial, dt: np.dtype[Any]) -> Stats:
    assert p.hist is not None
    hist = p.hist
    offset = 0 if dt.kind == "b" else _offset(dt)
    nz = np.flatnonzero(hist)
    lo, hi = int(nz[0]) - offset, int(nz[-1]) - offset
    values = np.arange(len(hist), dtype=np.float64) - offset
    total = float(np.dot(hist.astype(np.float64), values))
    total_sq = float(np.dot(hist.astype(np.float64), values * values))
    mean = total / p.count
    std = math.sqrt(max(0.0, total_sq / p.count - mean * mean))
    cum = np.cumsum(hist)
    pct = {}
    for q in PERCENTILES:
        # the smallest value whose cumulative count reaches q% (the "lower" percentile)
        rank = max(1, math.ceil(q / 100 * p.count))
        pct[_pkey(q)] = float(int(np.searchsorted(cum, rank)) - offset)
    # rebin onto at most REPORT_BINS integer-aligned bins between min and max
    span = hi - lo + 1
    width = max(1, math.ceil(span / REPORT_BINS))
    nb = math.ceil(span / width)
    sub = hist[lo + offset : hi + offset + 1]
    padded = np.zeros(nb * width, dtype=np.int64)
    padded[: len(sub)] = sub
    counts = padded.reshape(nb, width).sum(axis=1)
    edges = tuple(float(lo + i * width) - 0.5 for i in range(nb + 1))
    top = 1 if dt.kind == "b" else int(np.iinfo(dt).max)
    return Stats(
        dtype=dt.name,
        count=p.count,
        min=float(lo),
        max=float(hi),
        mean=mean,
        std=std,
        nan_count=0,
        inf_count=0,
        saturated_count=None if dt.kind == "b" else int(hist[top + offset]),
        percentiles=pct,
        hist_edges=edges,
        hist_counts=tuple(int(c) for c in counts),
        exact=True,
    )


def _hist_of_sample(
    sample: np.ndarray, lo: float | None, hi: float | None, dt: np.dtype[Any], finite: int
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """A histogram of the subsample, scaled to the number of finite values."""
    if lo is None or hi is None or not sample.size:
        return (), ()
    if dt.kind in "iu" and hi - lo + 1 <= REPORT_BINS:
        edges = np.arange(lo, hi + 2) - 0.5
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1, REPORT_BINS + 1)
    counts, _ = np.histogram(sample, bins=edges)
    scale = finite / sample.size if sample.size else 0.0
    return (
        tuple(float(e) for e in edges),
        tuple(round(float(c) * scale) for c in counts),
    )

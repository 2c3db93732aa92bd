"""``run_qc``: every check on one pyramid, as one call that front ends share.

Order of work: metadata and pyramid-geometry checks (metadata only), storage listings
(``scan_storage``), the chunk integrity scan (a dask graph, local or distributed), then
the cross-level content checks and the statistics findings. Cancel with ``cancel`` (a
``threading.Event``) or Ctrl-C: the report then holds what was found so far and has
``complete=False``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..model import Finding, Location, Pyramid, ranked
from ._chunkscan import BatchResult
from ._combine import LevelScan, chunk_findings, combine, size_summary
from ._crosslevel import intensity_findings, missing_data_findings
from ._geometry import geometry_findings
from ._handles import LevelRef, OpenSpec
from ._metadata import metadata_findings
from ._plan import LevelPlan, plan_findings, plan_level
from ._report import LevelReport, QCReport
from ._run import describe_scheduler, run_distributed, run_local, sort_results
from ._storage import Cancelled, StorageFigures, scan_storage

#: ``progress(phase, done, total)``; ``total`` is 0 while unknown.
Progress = Callable[[str, int, int], None]
#: A level is called saturated above this fraction of elements at the dtype maximum.
SATURATION_WARN = 0.001


def run_qc(
    pyramid: Pyramid | str | os.PathLike[str],
    *,
    level: int | None = None,
    sample: float | None = None,
    scheduler: Any = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> QCReport:
    """Check ``pyramid`` (a ``Pyramid`` or a path / URL to open) and report.

    Parameters
    ----------
    level
        Scan only this level (index in ``pyramid.levels``) of the image; default: every
        stored level of the image and of its label images. Metadata and pyramid checks
        always cover all levels.
    sample
        Fraction (0, 1] of each scanned level's chunks to read (seeded random choice);
        default: all. Statistics then come from the sample.
    scheduler
        ``None`` for dask's local threads; a ``distributed.Client`` or a scheduler
        address (``"tcp://host:8786"``) to scan on a cluster. Workers reopen the dataset
        from its URI, so they must see the same path (or URL) and credentials.
    progress
        Called as ``progress(phase, done, total)`` from the calling thread.
    cancel
        Set it (from any thread) to stop; the report is then partial (``complete=False``).
    workers
        Threads of the local scheduler (default: the number of CPUs).
    storage_options
        Passed to ``open_pyramid`` when ``pyramid`` is a path, and to the workers.
    """
    if not isinstance(pyramid, Pyramid):
        from .._api import open_pyramid

        pyramid = open_pyramid(pyramid, **(storage_options or {}))
    if sample is not None and not 0 < sample <= 1:
        raise ValueError(f"sample must be a fraction in (0, 1], got {sample}")
    images = pyramid.walk()
    if level is not None and not 0 <= level < len(pyramid.stored_levels):
        raise ValueError(f"level {level} does not exist ({len(pyramid.stored_levels)} levels)")
    cancel = cancel or threading.Event()
    t0, started = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    findings: list[Finding] = [*metadata_findings(pyramid), *geometry_findings(pyramid)]
    spec = OpenSpec.of(pyramid, storage_options)
    targets = [
        (wi, li)
        for wi, pyr in enumerate(images)
        for li in range(len(pyr.stored_levels))
        if level is None or (wi == 0 and li == level)
    ]
    plans: list[LevelPlan] = []
    complete = True
    try:
        for wi, li in targets:
            lv = images[wi].levels[li]
            storage = _storage(lv, images[wi], li, progress, cancel)
            ref = LevelRef(spec, wi, li, lv.path, tuple(lv.shape), live=lv)
            plans.append(plan_level(wi, li, lv, ref, storage, sample))
    except (Cancelled, KeyboardInterrupt):  # Ctrl-C in a notebook: report what is known
        complete = False
    findings.extend(plan_findings(images, plans))
    scanned = [p for p in plans if p.skipped is None]
    results: list[BatchResult] = []
    if complete and not cancel.is_set():
        if scheduler is None:
            results, interrupted = run_local(scanned, cancel, progress, workers)
        else:
            results, interrupted = run_distributed(scanned, scheduler, cancel, progress)
        complete = not interrupted and not cancel.is_set()
    scans = _combine_all(scanned, sort_results(results))
    complete = complete and not any(s.cancelled for s in scans.values())
    for (wi, _li), scan in sorted(scans.items()):
        findings.extend(chunk_findings(images[wi], scan))
    if complete:
        try:
            findings.extend(_content_findings(images, scans, progress, cancel))
        except (Cancelled, KeyboardInterrupt):
            complete = False
    findings.extend(_stats_findings(images, scans))
    report_levels = _level_reports(images, plans, scans)
    return QCReport(
        uri=pyramid.uri if not pyramid.path else f"{pyramid.uri.rstrip('/')}/{pyramid.path}",
        name=pyramid.name,
        format=pyramid.provenance.format,
        convention=pyramid.provenance.convention,
        reason=pyramid.provenance.reason,
        axes=tuple((a.name, a.type, a.unit) for a in pyramid.axes),
        findings=ranked(findings),
        levels=report_levels,
        complete=complete,
        level=level,
        sample=sample,
        scheduler=describe_scheduler(scheduler, workers),
        started=started,
        seconds=round(time.perf_counter() - t0, 3),
    )


def _storage(
    lv: Any, pyr: Pyramid, li: int, progress: Progress | None, cancel: threading.Event
) -> StorageFigures | None:
    if getattr(lv.source, "_root", None) is None:
        return None  # stacked views (BDV, n5-viewer channels): the scan counts them
    phase = f"listing {pyr.path + ' ' if pyr.path else ''}level {li}"
    if progress is not None:
        progress(phase, 0, 0)
    if cancel.is_set():
        raise Cancelled()
    return scan_storage(
        lv, cancel=cancel, progress=(lambda d, t: progress(phase, d, t)) if progress else None
    )


def _combine_all(
    plans: list[LevelPlan], results: list[BatchResult]
) -> dict[tuple[int, int], LevelScan]:
    per: dict[tuple[int, int], list[BatchResult]] = {}
    for r in results:
        per.setdefault((r.image, r.level), []).append(r)
    return {(p.image, p.level): combine(p, per.get((p.image, p.level), [])) for p in plans}


def _content_findings(
    images: tuple[Pyramid, ...],
    scans: dict[tuple[int, int], LevelScan],
    progress: Progress | None,
    cancel: threading.Event,
) -> list[Finding]:
    out: list[Finding] = []
    for wi, pyr in enumerate(images):
        if cancel.is_set():
            raise Cancelled()
        if progress is not None:
            progress("comparing levels", wi, len(images))
        mine = {li: s for (w, li), s in scans.items() if w == wi}
        out.extend(missing_data_findings(pyr, mine))
        out.extend(intensity_findings(pyr, mine))
    if progress is not None:
        progress("comparing levels", len(images), len(images))
    return out


def _stats_findings(
    images: tuple[Pyramid, ...], scans: dict[tuple[int, int], LevelScan]
) -> list[Finding]:
    """Saturation and NaN / inf on the finest scanned level of each image."""
    out: list[Finding] = []
    for wi, pyr in enumerate(images):
        scanned = sorted(li for (w, li) in scans if w == wi)
        if not scanned or pyr.kind == "labels":
            continue
        li = scanned[0]
        st = scans[(wi, li)].stats
        if st is None:
            continue
        lv = pyr.levels[li]
        where = Location(image=pyr.path, level=li, path=lv.path)
        frac = st.saturated_fraction
        if frac is not None and frac > SATURATION_WARN:
            out.append(
                Finding(
                    "warning",
                    "stats.saturated",
                    f"{frac:.2%} of level {li}'s elements ({st.saturated_count}) are at "
                    f"{st.max:g}, the {lv.dtype} maximum",
                    where,
                    "saturated pixels have lost their true intensity: intensity measurements, "
                    "ratios and colocalisation on them are wrong",
                    "acquire with lower exposure or gain; if the data was rescaled on conversion, "
                    "convert without clipping; exclude saturated pixels from measurements",
                    count=st.saturated_count or 1,
                )
            )
        bad = st.nan_stored + st.inf_count
        if bad:
            out.append(
                Finding(
                    "warning",
                    "stats.nan",
                    f"level {li} holds {st.nan_stored} NaN and {st.inf_count} infinite values",
                    where,
                    "NaN and infinity break contrast limits, means and most analysis tools",
                    "mask them explicitly (e.g. a label image) or replace them when converting",
                    count=bad,
                )
            )
    return out


def _level_reports(
    images: tuple[Pyramid, ...],
    plans: list[LevelPlan],
    scans: dict[tuple[int, int], LevelScan],
) -> tuple[LevelReport, ...]:
    storages = {(p.image, p.level): p.storage for p in plans}
    out = []
    for wi, pyr in enumerate(images):
        for li, lv in enumerate(pyr.stored_levels):
            scan = scans.get((wi, li))
            grid = lv.grid
            out.append(
                LevelReport(
                    image=pyr.path,
                    kind=pyr.kind,
                    index=li,
                    path=lv.path,
                    shape=tuple(lv.shape),
                    dtype=str(lv.dtype),
                    chunks=tuple(grid.chunk_shape),
                    shards=tuple(grid.shard_shape) if grid.shard_shape else None,
                    codecs=_chain(lv),
                    n_chunks=grid.n_chunks,
                    storage=storages.get((wi, li)),
                    scanned=scan is not None,
                    counts=dict(scan.counts) if scan else {},
                    sample=scan.plan.sample if scan else None,
                    sizes=size_summary(scan.sizes) if scan else None,
                    stats=scan.stats if scan else None,
                    decoded_bytes=scan.decoded_bytes if scan else 0,
                    seconds=round(scan.seconds, 3) if scan else 0.0,
                    states=scan.states if scan else None,
                )
            )
    return tuple(out)


def _chain(lv: Any) -> str:
    from ..model import describe_chain

    return describe_chain(tuple(lv.codecs))


def failed_open_report(uri: str, error: BaseException) -> QCReport:
    """The report of a dataset that cannot be opened at all (one ``open.failed`` error)."""
    name = str(uri).rstrip("/").rsplit("/", 1)[-1]
    return QCReport(
        uri=str(uri),
        name=name,
        format="",
        convention="",
        reason="",
        axes=(),
        findings=(
            Finding(
                "error",
                "open.failed",
                f"{type(error).__name__}: {error}",
                Location(),
                "nothing of the dataset can be shown or checked until it opens",
                "fix the metadata named in the message (or open a path inside the dataset)",
            ),
        ),
        levels=(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )

"""What the QC step hands a view: the state of a run (progress, then findings as rows
ranked by severity with a summary line), and where a finding is (``locate``).

Pure data and functions on the model; no GUI, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..model import SEVERITIES, Finding, Location, Pyramid

Status = Literal["idle", "running", "done", "cancelled", "failed"]

#: A summary's words per severity (singular, plural).
_WORDS = {
    "error": ("error", "errors"),
    "warning": ("warning", "warnings"),
    "info": ("note", "notes"),
}


@dataclass(frozen=True, slots=True)
class QCRow:
    """One finding as a row of the findings table."""

    severity: str
    code: str
    what: str
    where: str  # ``Location.describe()``
    why: str
    fix: str
    count: int
    location: Location

    @classmethod
    def of(cls, f: Finding) -> QCRow:
        return cls(f.severity, f.code, f.what, f.where.describe(), f.why, f.fix, f.count, f.where)

    @property
    def navigable(self) -> bool:
        """The finding names a level (and maybe a chunk) the viewer can go to."""
        return self.location.level is not None


def _counts_text(counts: Mapping[str, int]) -> str:
    parts = []
    for sev in SEVERITIES:
        n = counts.get(sev, 0)
        one, many = _WORDS[sev]
        parts.append(f"{n} {one if n == 1 else many}")
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class QCState:
    """One pyramid's QC, as a view shows it. ``rows`` are ranked (most severe first)."""

    status: Status = "idle"
    title: str = ""  # the pyramid checked
    level: int | None = None  # the run's options
    sample: float | None = None
    phase: str = ""  # while running: what the engine does now
    done: int = 0
    total: int = 0  # 0 while unknown
    elapsed: float = 0.0  # seconds since the run started (at the last progress report)
    started: float = 0.0  # ``time.monotonic()`` at the start (views may tick the clock)
    rows: tuple[QCRow, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # the run's duration (from the report)
    error: str = ""  # why the run failed
    note: str = ""  # e.g. "Saved report to …", "Saving failed: …"
    report: Any = None  # the ``qc.QCReport`` (for saving), when there is one
    #: array paths of the followed pyramid's stored levels (the "scan only" choices)
    levels: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.status == "running"

    def progress_text(self) -> str:
        if not self.running:
            return ""
        if self.total:
            return f"{self.phase}: {self.done:,} / {self.total:,}"
        return f"{self.phase}…" if self.phase else "starting…"

    def summary(self) -> str:
        """One line: what the tab says above the findings."""
        if self.status == "idle":
            return "Not checked yet. Run checks the metadata, the pyramid and every chunk."
        if self.status == "running":
            return f"Checking… {self.progress_text()} ({self.elapsed:.1f} s)"
        if self.status == "failed":
            return f"QC failed: {self.error}"
        text = _counts_text(self.counts) + self.run_text()
        if self.status == "cancelled":
            return f"Cancelled — partial results: {text}"
        if not self.rows:
            return f"No problems found — {text}"
        return text

    def run_text(self) -> str:
        """`` — 1.2 s (level 0 scanned, 10% of the chunks sampled)``."""
        text = f" — {self.seconds:.1f} s"
        scope = []
        if self.level is not None:
            scope.append(f"level {self.level} scanned")
        if self.sample is not None:
            scope.append(f"{self.sample:.0%} of the chunks sampled")
        return text + (f" ({', '.join(scope)})" if scope else "")


def result_state(base: QCState, report: Any, cancelled: bool) -> QCState:
    """The state of a finished run from its ``QCReport``."""
    from dataclasses import replace

    return replace(
        base,
        status="cancelled" if cancelled or not report.complete else "done",
        phase="",
        rows=tuple(QCRow.of(f) for f in report.findings),
        counts=report.counts(),
        seconds=float(report.seconds),
        report=report,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """Where a finding is: ``image`` (the pyramid or one of its label images), a level of
    it and, for a chunk finding, the chunk. ``box`` is [start, stop) per axis in that
    level's pixels: the chunk's, or the whole level's."""

    image: Pyramid
    level: int
    chunk: tuple[int, ...] | None
    box: tuple[tuple[int, int], ...]

    @property
    def point(self) -> tuple[float, ...]:
        """The box's centre (level pixels, per axis): inside the chunk on every axis."""
        return tuple((a + b) / 2 for a, b in self.box)

    @property
    def slice_index(self) -> tuple[int, ...]:
        """A pixel index inside the box on every axis (the middle one)."""
        return tuple((a + b - 1) // 2 if b > a else a for a, b in self.box)


def locate(pyramid: Pyramid, where: Location) -> Target | None:
    """The place of ``where`` in ``pyramid`` (the pyramid QC ran on), or ``None`` when the
    finding is about no level (group metadata) or names one that does not exist."""
    if where.level is None:
        return None
    image = next((p for p in pyramid.walk() if p.path == where.image), None)
    if image is None and not where.image:
        image = pyramid
    if image is None:
        return None
    level = where.level
    if where.path is not None and not (
        0 <= level < len(image.levels) and image.levels[level].path == where.path
    ):  # the index does not match the array path: trust the path
        level = next((i for i, lv in enumerate(image.levels) if lv.path == where.path), level)
    if not 0 <= level < len(image.levels):
        return None
    grid = image.levels[level].grid
    chunk = tuple(where.chunk) if where.chunk is not None else None
    if chunk is not None and (
        len(chunk) != grid.ndim
        or any(not 0 <= i < n for i, n in zip(chunk, grid.grid_shape, strict=True))
    ):
        chunk = None
    box = grid.chunk_box(chunk) if chunk is not None else tuple((0, s) for s in grid.shape)
    return Target(image, level, chunk, tuple(box))


__all__ = ["QCRow", "QCState", "Status", "Target", "locate", "result_state"]

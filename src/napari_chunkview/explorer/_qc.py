"""The inspector's QC step, free of any GUI: ``qc.run_qc`` for the followed pyramid on a
worker thread, with throttled progress, cancel, and findings for a ``QCView``.

Runs belong to their pyramid: following another layer does not stop a run, and coming
back shows it (still running, or its findings). A label image shows the run of the image
it belongs to when it has none of its own (that run checked the labels too). Every state
change reaches the view through ``view.call_in_main``; a result that arrives after
``close`` (or after a newer run of the same pyramid started) is dropped.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..model import Pyramid, error_reason
from ._qc_rows import QCRow, QCState, Target, locate, result_state

#: Progress reaches the view at most this often (seconds), phase changes always.
THROTTLE_S = 0.1


class QCView(ABC):
    """What the QC step draws into (the dock's QC tab, a notebook panel)."""

    @abstractmethod
    def set_qc(self, state: QCState) -> None:
        """Show ``state`` (the followed pyramid's QC)."""

    @abstractmethod
    def call_in_main(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the thread that owns the view (called from worker threads)."""


def _key(p: Pyramid) -> tuple[str, str]:
    return (p.uri, p.path)


@dataclass(eq=False)
class QCJob:
    """One run: its pyramid, options, cancel flag and latest state. ``done`` is set once
    the worker has finished (its last state posted); ``report`` is the ``QCReport``."""

    pyramid: Pyramid
    state: QCState
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    report: Any = None
    error: str = ""
    started: float = field(default_factory=time.monotonic)


class QCStep:
    """Drives a ``QCView``: ``show(pyramid)`` when the followed layer changes, ``run()``,
    ``cancel()``, ``save(path)``, ``target(row)`` for where a finding is, ``close()``."""

    def __init__(self, view: QCView, *, throttle: float = THROTTLE_S) -> None:
        self.view = view
        self.throttle = throttle
        self.pyramid: Pyramid | None = None
        self.title = ""
        self.closed = False
        self._jobs: dict[tuple[str, str], QCJob] = {}
        self._lock = threading.RLock()  # views may run ``call_in_main`` on the worker

    # -- which pyramid ---------------------------------------------------------------------
    def show(self, pyramid: Pyramid | None, title: str = "") -> None:
        """Show the QC of ``pyramid`` (``None``: nothing to check)."""
        with self._lock:
            if self.closed:
                return
            name = (pyramid.name or pyramid.uri) if pyramid is not None else ""
            self.pyramid, self.title = pyramid, title or name
            self._push()

    @property
    def job(self) -> QCJob | None:
        """The run shown: the followed pyramid's, else (for a label image) the run of an
        image that contains it."""
        p = self.pyramid
        if p is None:
            return None
        with self._lock:
            job = self._jobs.get(_key(p))
            if job is None and p.kind == "labels":
                job = next(
                    (
                        j
                        for j in self._jobs.values()
                        if any(_key(q) == _key(p) for q in j.pyramid.walk())
                    ),
                    None,
                )
            return job

    @property
    def state(self) -> QCState:
        """What the view shows: the shown run's state, else an idle one (no title when
        there is no pyramid)."""
        p, job = self.pyramid, self.job
        if p is None:
            return QCState()
        state = job.state if job is not None else QCState(title=self.title)
        return replace(state, levels=tuple(lv.path for lv in p.stored_levels))

    def _push(self) -> None:
        self.view.set_qc(self.state)

    # -- running ---------------------------------------------------------------------------------
    def run(self, level: int | None = None, sample: float | None = None) -> QCJob | None:
        """Check the followed pyramid (scan only ``level`` / a ``sample`` fraction of the
        chunks); a run of the same pyramid still going is cancelled first."""
        with self._lock:
            p = self.pyramid
            if p is None or self.closed:
                return None
            old = self._jobs.get(_key(p))
            if old is not None:
                old.cancel.set()
            state = QCState(
                status="running",
                title=self.title,
                level=level,
                sample=sample,
                phase="starting",
                started=time.monotonic(),
            )
            job = QCJob(p, state, started=state.started)
            self._jobs[_key(p)] = job
            self._push()
        threading.Thread(target=self._work, args=(job,), name="chunkview-qc", daemon=True).start()
        return job

    def cancel(self) -> None:
        """Stop the shown run; its findings so far are kept (a partial report)."""
        with self._lock:
            job = self.job
            if job is None or not job.state.running:
                return
            job.cancel.set()
            job.state = replace(job.state, phase="cancelling")
            self._push()

    def _work(self, job: QCJob) -> None:
        from ..qc import run_qc

        last_time, last_phase = [0.0], [""]

        def progress(phase: str, done: int, total: int) -> None:
            now = time.monotonic()
            if phase == last_phase[0] and now - last_time[0] < self.throttle:
                return
            last_time[0], last_phase[0] = now, phase
            self._update(
                job,
                lambda s: replace(
                    s,
                    phase=s.phase if job.cancel.is_set() else phase,
                    done=done,
                    total=total,
                    elapsed=now - job.started,
                ),
            )

        try:
            opts = job.state
            report = run_qc(
                job.pyramid,
                level=opts.level,
                sample=opts.sample,
                progress=progress,
                cancel=job.cancel,
            )
        except Exception as e:  # a store or engine error: the tab says so
            job.error = error_reason(e)
            error = job.error
            self._update(job, lambda s: replace(s, status="failed", phase="", error=error))
        else:
            job.report = report
            cancelled = job.cancel.is_set()
            self._update(job, lambda s: result_state(s, report, cancelled))
        finally:
            job.done.set()

    def _update(self, job: QCJob, change: Callable[[QCState], QCState]) -> None:
        """From the worker: apply ``change`` to ``job``'s state on the view's thread."""

        def apply() -> None:
            with self._lock:
                if self.closed or self._jobs.get(_key(job.pyramid)) is not job:
                    return  # closed, or replaced by a newer run of the same pyramid
                job.state = change(job.state)
                if self.job is job:
                    self._push()

        if self.closed:
            return
        try:
            self.view.call_in_main(apply)
        except RuntimeError:  # the view is gone (Qt object deleted)
            pass

    def wait(self, timeout: float = 60.0) -> bool:
        """True when every run has finished within ``timeout`` (its last state is then
        posted; with a Qt view it arrives once events are processed)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            jobs = list(self._jobs.values())
        return all(j.done.wait(max(0.0, deadline - time.monotonic())) for j in jobs)

    @property
    def busy(self) -> bool:
        with self._lock:
            return any(not j.done.is_set() for j in self._jobs.values())

    # -- findings --------------------------------------------------------------------------------
    def target(self, row: QCRow) -> Target | None:
        """Where ``row`` (a finding of the shown run) is; ``None``: nowhere to go."""
        job = self.job
        return None if job is None else locate(job.pyramid, row.location)

    def save(self, path: str | Path) -> None:
        """Write the shown report to ``path``: HTML for ``.html``/``.htm``, else JSON. In
        the background (the HTML page draws figures); the outcome is the state's note."""
        job = self.job
        report = job.report if job is not None else None
        if job is None or report is None:
            return
        path = Path(path)

        def work() -> None:
            from ..qc import html_report

            try:
                if path.suffix.lower() in (".html", ".htm"):
                    text = html_report(report)
                else:
                    text = report.to_json()
                path.write_text(text, encoding="utf-8")
                note = f"Saved the report to {path.name}"
            except Exception as e:  # disk full, no matplotlib for HTML, …: say so
                note = f"Saving failed: {error_reason(e)}"
            self._update(job, lambda s: replace(s, note=note))

        threading.Thread(target=work, name="chunkview-qc-save", daemon=True).start()

    def set_note(self, text: str) -> None:
        """Say ``text`` under the summary of the run shown (e.g. why a finding cannot be
        shown in the viewer)."""
        with self._lock:
            job = self.job
            if job is None or self.closed:
                return
            job.state = replace(job.state, note=text)
            self._push()

    # -- teardown ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Cancel every run and drop their late results (idempotent; the view is not
        touched). Worker threads end on their own once the engine sees the cancel."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for job in self._jobs.values():
                job.cancel.set()
            self.pyramid = None


__all__ = ["THROTTLE_S", "QCJob", "QCStep", "QCView"]

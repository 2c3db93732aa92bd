"""The QC panel: the inspector's ``explorer.QCStep`` (the same step as the napari dock's
QC tab) publishing its states as JSON for the browser.

``publish(dict)`` is called from the step's worker thread (the caller's ``publish`` takes
the inspector's lock); ``report_json`` is the shape the panel's script draws.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..explorer import QCJob, QCState, QCStep, QCView
from ..model import Pyramid

#: Findings sent to the browser at most (the report holds them all).
MAX_FINDINGS = 500
#: Progress reaches the browser at most this often (seconds).
THROTTLE_S = 0.25


def report_json(report: Any) -> dict[str, Any]:
    findings = [
        {
            "severity": f.severity,
            "code": f.code,
            "what": f.what,
            "where": f.where.describe(),
            "why": f.why,
            "fix": f.fix,
            "count": f.count,
        }
        for f in report.findings[:MAX_FINDINGS]
    ]
    return {
        "status": "done" if report.complete else "cancelled",
        "summary": report.counts(),
        "findings": findings,
        "more": max(0, len(report.findings) - MAX_FINDINGS),
        "seconds": report.seconds,
        "levels": [
            {"index": lv.index, "path": lv.path, "image": lv.image, "counts": dict(lv.counts)}
            for lv in report.levels
        ],
    }


def state_json(state: QCState) -> dict[str, Any] | None:
    """What the panel shows for ``state`` (``None``: nothing to send)."""
    if state.status == "running":
        return {"status": "running", "phase": state.phase, "done": state.done, "total": state.total}
    if state.status == "failed":
        return {"status": "failed", "error": state.error}
    if state.status in ("done", "cancelled") and state.report is not None:
        out = report_json(state.report)
        out["status"] = state.status
        return out
    return None


class _Publisher(QCView):
    """A ``QCView`` that publishes JSON; states are applied on the worker thread (the
    kernel has no GUI thread to hand them to, and ``publish`` locks for itself)."""

    def __init__(self, publish: Callable[[dict[str, Any]], None]) -> None:
        self.publish = publish

    def set_qc(self, state: QCState) -> None:
        msg = state_json(state)
        if msg is not None:
            self.publish(msg)

    def call_in_main(self, fn: Callable[[], None]) -> None:
        fn()


class QCRun:
    """One QC run of ``pyramid`` on a worker thread; ``publish(dict)`` receives progress
    and the result. ``cancel`` (an event) stops it; ``done`` is set when it finished,
    ``report`` (or ``error``) is then known."""

    def __init__(
        self,
        pyramid: Pyramid,
        publish: Callable[[dict[str, Any]], None],
        sample: float | None = None,
        level: int | None = None,
    ) -> None:
        self.pyramid = pyramid
        self.sample = sample
        self.level = level
        self.step = QCStep(_Publisher(publish), throttle=THROTTLE_S)
        self.step.show(pyramid)
        self.job: QCJob | None = None
        self._cancel = threading.Event()  # until started: cancels the start

    def start(self) -> QCRun:
        if not self._cancel.is_set():
            self.job = self.step.run(level=self.level, sample=self.sample)
        return self

    @property
    def cancel(self) -> threading.Event:
        return self.job.cancel if self.job is not None else self._cancel

    @property
    def done(self) -> threading.Event:
        if self.job is None:
            done = threading.Event()
            done.set()
            return done
        return self.job.done

    @property
    def report(self) -> Any:
        return self.job.report if self.job is not None else None

    @property
    def error(self) -> str:
        return self.job.error if self.job is not None else ""

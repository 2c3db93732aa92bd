"""The QC panel: ``qc.run_qc`` on a worker thread, findings written to the inspector.

The explorer controller has no QC step yet, so the notebook runs the QC engine itself
(the same call the CLI makes); when the controller grows one, this module goes away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..model import Pyramid

#: Findings sent to the browser at most (the report holds them all).
MAX_FINDINGS = 500


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


class QCRun:
    """One QC run in a daemon thread; ``publish(dict)`` receives progress and the result
    (from that thread). ``report`` is set when it finishes."""

    def __init__(
        self,
        pyramid: Pyramid,
        publish: Callable[[dict[str, Any]], None],
        sample: float | None = None,
        level: int | None = None,
    ) -> None:
        self.pyramid = pyramid
        self.publish = publish
        self.sample = sample
        self.level = level
        self.cancel = threading.Event()
        self.report: Any = None
        self.error: str = ""
        self.done = threading.Event()
        self._last = 0.0
        self.thread = threading.Thread(target=self._run, name="chunkview-notebook-qc", daemon=True)

    def start(self) -> QCRun:
        self.publish({"status": "running", "phase": "starting", "done": 0, "total": 0})
        self.thread.start()
        return self

    def _progress(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last > 0.25:
            self._last = now
            self.publish({"status": "running", "phase": phase, "done": done, "total": total})

    def _run(self) -> None:
        from ..qc import run_qc

        try:
            self.report = run_qc(
                self.pyramid,
                sample=self.sample,
                level=self.level,
                progress=self._progress,
                cancel=self.cancel,
            )
            self.publish(report_json(self.report))
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            self.publish({"status": "failed", "error": self.error})
        finally:
            self.done.set()

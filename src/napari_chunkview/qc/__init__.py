"""Quality checks on a ``Pyramid``: metadata, pyramid consistency, chunk integrity,
statistics and storage figures, as one engine the CLI, the dock and notebooks share.

``run_qc(pyramid_or_path, level=, sample=, scheduler=, progress=, cancel=)`` returns a
``QCReport`` (findings ranked by severity, per-level figures); ``report.to_json()`` is
the documented JSON form (``docs/qc-report.md``) and ``html_report(report)`` a
self-contained HTML page.
"""

from ..model import Finding, Location
from ._engine import failed_open_report, run_qc
from ._report import LevelReport, QCReport
from ._stats import Stats
from ._storage import Cancelled, StorageFigures, key_pattern, scan_storage


def html_report(report: QCReport) -> str:
    """The report as one self-contained HTML page (figures embedded as PNG; needs
    matplotlib, part of the ``qc`` extra)."""
    try:
        import matplotlib  # noqa: F401

        from ._html import render
    except ImportError as e:
        from ..model import UnsupportedError

        raise UnsupportedError(
            f"the HTML report needs matplotlib ({e}): pip install 'napari-chunkview[qc]'"
        ) from None

    return render(report)


__all__ = [
    "Cancelled",
    "Finding",
    "LevelReport",
    "Location",
    "QCReport",
    "Stats",
    "StorageFigures",
    "failed_open_report",
    "html_report",
    "key_pattern",
    "run_qc",
    "scan_storage",
]

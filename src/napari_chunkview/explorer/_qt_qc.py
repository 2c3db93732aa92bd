"""The QC tab drawn with Qt: Run / Cancel, options (level, sample), a progress bar with
the engine's phase, a summary line, the findings (severity icon, code, what, where; why
and fix of the selected one) and "Save report…". A ``QCView`` (by registration).

Clicking a finding (or Enter on it) emits ``finding_activated`` with the
row; whoever embeds the tab moves the viewer there. Imported only by Qt front ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtGui import QColor, QIcon
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import ensure_main_thread

from ._qc import QCView
from ._qc_rows import QCRow, QCState

SEVERITY_COLORS = {"error": "#d62728", "warning": "#e0a800", "info": "#1f77b4"}
_ICONS = {
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}
COLUMNS = ("Severity", "Code", "What", "Where")
NO_PYRAMID = "Select a layer opened by napari-chunkview to check it."


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class QtQCView(QWidget):
    """The QC tab. Signals carry the user's actions to whoever drives the ``QCStep``."""

    run_requested = Signal(object, object)  # level (int | None), sample (float | None)
    cancel_requested = Signal()
    save_requested = Signal(str)  # path
    finding_activated = Signal(object)  # QCRow

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chunkview-qc")
        self.state = QCState()
        self._levels: list[str] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)

        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run QC")
        self.run_button.setToolTip("Check the metadata, the pyramid and the chunks")
        self.run_button.clicked.connect(self._on_run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the findings so far are kept")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.save_button = QPushButton("Save report…")
        self.save_button.setToolTip("Write the report as JSON or as a self-contained HTML page")
        self.save_button.clicked.connect(self._on_save)
        for b in (self.run_button, self.cancel_button, self.save_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons)

        opts = QHBoxLayout()
        opts.addWidget(QLabel("Scan"))
        self.level_box = QComboBox()
        self.level_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.level_box.setToolTip(
            "Which levels' chunks to read (metadata and pyramid checks cover every level)"
        )
        opts.addWidget(self.level_box)
        opts.addWidget(QLabel("sample"))
        self.sample_box = QDoubleSpinBox()
        self.sample_box.setRange(0.1, 100.0)
        self.sample_box.setDecimals(1)
        self.sample_box.setValue(100.0)
        self.sample_box.setSuffix(" %")
        self.sample_box.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        self.sample_box.setToolTip(
            "Read this share of each level's chunks (a seeded random choice); 100 %: all"
        )
        opts.addWidget(self.sample_box)
        opts.addStretch(1)
        lay.addLayout(opts)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        lay.addWidget(self.progress)
        self.summary = QLabel(NO_PYRAMID)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.summary)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.findings = QTreeWidget()
        self.findings.setMinimumHeight(80)  # a few rows, however crowded the dock
        self.findings.setColumnCount(len(COLUMNS))
        self.findings.setHeaderLabels(list(COLUMNS))
        self.findings.setRootIsDecorated(False)
        self.findings.setUniformRowHeights(True)
        self.findings.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.findings.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.findings.header()
        assert header is not None
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.findings.currentItemChanged.connect(self._on_current)
        self.findings.itemClicked.connect(self._on_activated)
        self.findings.itemActivated.connect(self._on_activated)
        split.addWidget(self.findings)
        self.details = QTextBrowser()  # scrolls when why / fix are long
        self.details.setMinimumHeight(60)
        self.details.setOpenLinks(False)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        # while running, the summary's clock ticks between progress reports
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._tick)
        self.set_qc(QCState())

    # -- options ---------------------------------------------------------------------------------
    def set_levels(self, names: Sequence[str]) -> None:
        """The levels the scan can be limited to (stored levels, finest first)."""
        names = list(names)
        if names == self._levels:
            return
        self._levels = names
        self.level_box.clear()
        self.level_box.addItem("all levels", None)
        for i, name in enumerate(names):
            self.level_box.addItem(f"level {i}" + (f" ({name})" if name else ""), i)

    def options(self) -> tuple[int | None, float | None]:
        level = self.level_box.currentData()
        pct = self.sample_box.value()
        return (None if level is None else int(level)), (None if pct >= 100 else pct / 100)

    def _on_run(self) -> None:
        self.run_requested.emit(*self.options())

    def _on_save(self) -> None:
        name = (self.state.title or "qc-report").replace("/", "_")
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Save QC report",
            f"{name}.qc.html",
            "HTML report (*.html);;JSON report (*.json)",
        )
        if path:
            if "." not in path.rsplit("/", 1)[-1]:
                path += ".json" if "JSON" in chosen else ".html"
            self.save_report(path)

    def save_report(self, path: str) -> None:
        """Save the report shown to ``path`` (HTML or JSON by its extension)."""
        self.summary.setText(self.summary.text() + "<br>Saving…")
        self.save_requested.emit(str(path))

    # -- QCView ----------------------------------------------------------------------------------
    def set_qc(self, state: QCState) -> None:
        old, self.state = self.state, state
        self.set_levels(state.levels)
        running = state.running
        has_pyramid = bool(state.title)
        self.run_button.setEnabled(has_pyramid and not running)
        self.level_box.setEnabled(not running)
        self.sample_box.setEnabled(not running)
        self.cancel_button.setEnabled(running and state.phase != "cancelling")
        self.save_button.setEnabled(state.report is not None and not running)
        self._set_progress(state)
        if running and not self._clock.isActive():
            self._clock.start()
        elif not running:
            self._clock.stop()
        self._set_summary(state, has_pyramid)
        if state.rows != old.rows or self.findings.topLevelItemCount() != len(state.rows):
            self._set_rows(state.rows)

    def _tick(self) -> None:
        s = self.state
        if s.running and s.started:
            self._set_summary(replace(s, elapsed=time.monotonic() - s.started), True)

    def _set_progress(self, s: QCState) -> None:
        self.progress.setVisible(s.running)
        if not s.running:
            return
        if s.total:
            self.progress.setRange(0, s.total)
            self.progress.setValue(min(s.done, s.total))
            self.progress.setFormat(f"{s.phase}: %v / %m")
        else:  # unknown amount of work: a busy bar
            self.progress.setRange(0, 0)
            self.progress.setFormat(s.phase)

    def _set_summary(self, s: QCState, has_pyramid: bool) -> None:
        if not has_pyramid:
            self.summary.setText(NO_PYRAMID)
            return
        text = _esc(s.summary())
        if s.status == "failed":
            text = f'<span style="color:{SEVERITY_COLORS["error"]}"><b>{text}</b></span>'
        elif s.status in ("done", "cancelled"):
            text = self._counts_html(s) + _esc(s.run_text())
            if s.status == "cancelled":
                text = "<b>Cancelled</b> — partial results: " + text
            elif not s.rows:
                text = "<b>No problems found</b> — " + text
        lines = [f"<b>{_esc(s.title)}</b>: {text}"]
        if s.note:
            lines.append(_esc(s.note))
        self.summary.setText("<br>".join(lines))

    @staticmethod
    def _counts_html(s: QCState) -> str:
        words = {"error": "error", "warning": "warning", "info": "note"}
        parts = []
        for sev, word in words.items():
            n = s.counts.get(sev, 0)
            label = f"{n} {word}{'' if n == 1 else 's'}"
            parts.append(
                f'<span style="color:{SEVERITY_COLORS[sev]}"><b>{label}</b></span>' if n else label
            )
        return " · ".join(parts)

    def _icon(self, severity: str) -> QIcon:
        style = self.style()
        assert style is not None
        return style.standardIcon(_ICONS.get(severity, _ICONS["info"]))

    def _set_rows(self, rows: Sequence[QCRow]) -> None:
        self.findings.blockSignals(True)
        self.findings.clear()
        for i, row in enumerate(rows):
            what = row.what + (f" (×{row.count:,})" if row.count > 1 else "")
            item = QTreeWidgetItem([row.severity, row.code, what, row.where])
            item.setData(0, Qt.ItemDataRole.UserRole, i)
            item.setIcon(0, self._icon(row.severity))
            item.setForeground(0, QColor(SEVERITY_COLORS.get(row.severity, "#000000")))
            tip = f"{row.what}\n\nWhy: {row.why}\nFix: {row.fix}"
            for c in range(len(COLUMNS)):
                item.setToolTip(c, tip)
            self.findings.addTopLevelItem(item)
        self.findings.blockSignals(False)
        for c in range(len(COLUMNS) - 1):
            self.findings.resizeColumnToContents(c)
        # long messages: the column stays readable in a narrow dock (tooltip: all of it)
        self.findings.setColumnWidth(2, min(self.findings.columnWidth(2), 320))
        if rows:
            self.findings.setCurrentItem(self.findings.topLevelItem(0))
        else:
            self._show_details(None)

    def _row(self, item: QTreeWidgetItem | None) -> QCRow | None:
        if item is None:
            return None
        i = item.data(0, Qt.ItemDataRole.UserRole)
        rows = self.state.rows
        return rows[i] if isinstance(i, int) and 0 <= i < len(rows) else None

    def _on_current(self, item: QTreeWidgetItem | None, _prev: object = None) -> None:
        self._show_details(self._row(item))

    def _show_details(self, row: QCRow | None) -> None:
        if row is None:
            self.details.setHtml("")
            return
        color = SEVERITY_COLORS.get(row.severity, "#000000")
        lines = [
            f'<b style="color:{color}">{_esc(row.severity)}</b> <code>{_esc(row.code)}</code>'
            + (f" ×{row.count:,}" if row.count > 1 else ""),
            _esc(row.what),
            f"<b>Where:</b> {_esc(row.where)}"
            + (" (click the row to go there)" if row.navigable else " (not a place in the image)"),
        ]
        if row.why:
            lines.append(f"<b>Why it matters:</b> {_esc(row.why)}")
        if row.fix:
            lines.append(f"<b>Fix:</b> {_esc(row.fix)}")
        self.details.setHtml("<br>".join(lines))

    def _on_activated(self, item: QTreeWidgetItem | None, _column: int = 0) -> None:
        row = self._row(item)
        if row is not None and row.navigable:
            self.finding_activated.emit(row)

    @ensure_main_thread
    def call_in_main(self, fn: Callable[[], None]) -> None:
        fn()

    # -- for tests and scripts --------------------------------------------------------------------
    def rows_text(self) -> list[tuple[str, str, str, str]]:
        """The findings as shown: (severity, code, what, where) per row."""
        out = []
        for i in range(self.findings.topLevelItemCount()):
            item = self.findings.topLevelItem(i)
            assert item is not None
            out.append((item.text(0), item.text(1), item.text(2), item.text(3)))
        return out


QCView.register(QtQCView)

__all__ = ["NO_PYRAMID", "SEVERITY_COLORS", "QtQCView"]

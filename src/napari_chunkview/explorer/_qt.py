"""The inspector drawn with Qt (qtpy + superqt): header, levels table, hierarchy with an
attributes tree, a QC tab (``set_qc_widget``: the dock puts ``QtQCView`` there), live
loading figures and the chunk under the cursor. The chunk grid itself is drawn by whoever
embeds this view (the napari dock draws it on the canvas): ``set_grid`` here only updates
the legend counts.

Imported only by front ends that run Qt (``_napari/_dock.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import ensure_main_thread

from ._grid import SHARD_COLOR, STATE_COLORS, STATE_LABELS, STATE_NAMES, GridCells
from ._levels import COLUMNS, LevelRow
from ._tree import AttrItem, TreeNode
from ._view import ChunkDetails, ChunkView, Header, LivePanel

QC_PLACEHOLDER = (
    "Quality checks appear here once a QC view is added (set_qc_widget); the napari "
    "dock adds its own (explorer._qt_qc.QtQCView)."
)


def _rgb(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgba[:3])


class QtChunkView(QWidget):
    """A ``ChunkView`` (registered as a virtual subclass) made of Qt widgets.

    Signals carry the user's actions to whoever drives the controller.
    """

    grid_toggled = Signal(bool)
    node_selected = Signal(str)
    rescan_requested = Signal()
    cancel_requested = Signal()
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chunkview-inspector")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        self.message = QLabel("Select a layer opened by napari-chunkview.")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        body = QWidget()
        blay = QVBoxLayout(body)
        blay.setContentsMargins(0, 0, 0, 0)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        blay.addWidget(self.header)

        bar = QHBoxLayout()
        self.grid_box = QCheckBox("Chunk grid on canvas")
        self.grid_box.setChecked(True)
        self.grid_box.toggled.connect(self.grid_toggled)
        bar.addWidget(self.grid_box)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self._set_legend({})
        bar.addWidget(self.legend, 1)
        blay.addLayout(bar)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._levels_tab(), "Levels")
        self.tabs.addTab(self._tree_tab(), "Hierarchy")
        self.qc_placeholder = QLabel(QC_PLACEHOLDER)
        self.qc_placeholder.setWordWrap(True)
        self.qc_placeholder.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.qc_tab_index = self.tabs.addTab(self.qc_placeholder, "QC")
        # tabs above the live panels, with a handle between them: the QC findings and the
        # hierarchy get room when the user wants it
        self.panels = QSplitter(Qt.Orientation.Vertical)
        self.panels.setChildrenCollapsible(False)
        self.panels.addWidget(self.tabs)
        blay.addWidget(self.panels, 1)

        live = QGroupBox("Live loading")
        llay = QVBoxLayout(live)
        self.live_text = QLabel()
        self.live_text.setWordWrap(True)
        llay.addWidget(self.live_text)
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("view: %v / %m chunks read")
        self.progress.setMaximum(1)
        row.addWidget(self.progress, 1)
        reset = QPushButton("Reset")
        reset.setToolTip("Reset the loading figures")
        reset.clicked.connect(self.reset_requested)
        row.addWidget(reset)
        llay.addLayout(row)
        self.panels.addWidget(live)

        chunk = QGroupBox("Chunk under the cursor (click to pin)")
        clay = QVBoxLayout(chunk)
        self.chunk_text = QLabel("Hover over the image to see a chunk.")
        self.chunk_text.setWordWrap(True)
        self.chunk_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        clay.addWidget(self.chunk_text)
        self.panels.addWidget(chunk)
        self.panels.setStretchFactor(0, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(body)
        layout.addWidget(self.stack)
        self._rows: list[LevelRow] = []
        self._shown_level: int | None = None

    # -- building ------------------------------------------------------------------------
    def _levels_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        vheader, hheader = self.table.verticalHeader(), self.table.horizontalHeader()
        assert vheader is not None and hheader is not None
        vheader.setVisible(False)
        hheader.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        lay.addWidget(self.table, 1)
        self.level_details = QLabel()
        self.level_details.setWordWrap(True)
        self.level_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.level_details.setFrameShape(QFrame.Shape.StyledPanel)
        lay.addWidget(self.level_details)
        buttons = QHBoxLayout()
        self.scan_status = QLabel()
        buttons.addWidget(self.scan_status, 1)
        rescan = QPushButton("Rescan")
        rescan.setToolTip("Count stored chunks and bytes again (in the background)")
        rescan.clicked.connect(self.rescan_requested)
        cancel = QPushButton("Cancel scan")
        cancel.clicked.connect(self.cancel_requested)
        buttons.addWidget(rescan)
        buttons.addWidget(cancel)
        lay.addLayout(buttons)
        return w

    def _tree_tab(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tlay = QVBoxLayout(top)
        tlay.setContentsMargins(2, 2, 2, 2)
        self.tree_status = QLabel()
        self.tree_status.setWordWrap(True)
        tlay.addWidget(self.tree_status)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Role", "Details"])
        self.tree.currentItemChanged.connect(self._on_node)
        tlay.addWidget(self.tree)
        bottom = QWidget()
        block = QVBoxLayout(bottom)
        block.setContentsMargins(2, 2, 2, 2)
        self.attr_title = QLabel()
        self.attr_title.setWordWrap(True)
        block.addWidget(self.attr_title)
        self.attrs = QTreeWidget()
        self.attrs.setHeaderLabels(["Key", "Value"])
        block.addWidget(self.attrs)
        split.addWidget(top)
        split.addWidget(bottom)
        return split

    # -- ChunkView ----------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentIndex(0)

    def set_header(self, header: Header) -> None:
        warn = "".join(f"<br>⚠ {_esc(w)}" for w in header.warnings)
        self.header.setText(
            f"<b>{_esc(header.title)}</b> ({header.kind})<br>"
            f"{_esc(header.format)} · {_esc(header.convention)} — <i>{_esc(header.reason)}</i>"
            f"<br><small>{_esc(header.uri)}</small>{warn}"
        )
        self.stack.setCurrentIndex(1)

    def set_levels(self, rows: Sequence[LevelRow]) -> None:
        self._rows = list(rows)
        header = self.table.horizontalHeader()
        assert header is not None
        # columns fit their contents once, after the fill: under ResizeToContents every
        # changed cell re-measures its whole column (seconds for a 200-level table)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = row.cells
            for c, (key, _) in enumerate(COLUMNS):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText(cells[key])
                tip = cells[key]
                if key == "level" and row.virtual:
                    tip = f"virtual level: {row.virtual}"
                item.setToolTip(tip)
        self._mark_shown_level()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        scanning = [row for row in rows if row.scan.startswith(("scanning", "waiting"))]
        self.scan_status.setText(f"scanning {len(scanning)} level(s)…" if scanning else "")
        self._show_level_details(self._details_row())

    def _mark_shown_level(self) -> None:
        for r in range(self.table.rowCount()):
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                if item is not None:
                    font = item.font()
                    font.setBold(r == self._shown_level)
                    item.setFont(font)

    def _details_row(self) -> int:
        """The level the user picked in the table, else the one shown, else the first."""
        r = self.table.currentRow()
        if 0 <= r < len(self._rows):
            return r
        if self._shown_level is not None and self._shown_level < len(self._rows):
            return self._shown_level
        return 0

    def _on_row_selected(self) -> None:
        self._show_level_details(self._details_row())

    def _show_level_details(self, r: int) -> None:
        if not 0 <= r < len(self._rows):
            self.level_details.setText("")
            return
        row = self._rows[r]
        cells = row.cells
        lines = [
            f"<b>Level {row.index}</b> — array “{_esc(row.path or '/')}”"
            + (f" — virtual: {_esc(row.virtual)}" if row.virtual else ""),
            f"Codecs: {_esc(cells['codecs'])}",
            f"Keys: {_esc(cells['keys'])} · fill value {_esc(cells['fill'])}",
            f"Stored: {_esc(cells['stored'])} of {row.n_chunks:,} chunks · "
            f"{_esc(cells['stored_bytes'])} · ratio {_esc(cells['ratio'])}"
            + (f" — {_esc(row.scan)}" if row.scan else ""),
        ]
        self.level_details.setText("<br>".join(lines))

    def set_tree(self, tree: TreeNode, status: str) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()

        def add(node: TreeNode, parent: QTreeWidget | QTreeWidgetItem, depth: int) -> None:
            item = QTreeWidgetItem([node.name or "/", node.role or node.kind, node.summary])
            item.setData(0, Qt.ItemDataRole.UserRole, node.path)
            item.setToolTip(0, node.path or "/")
            if node.role:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            if isinstance(parent, QTreeWidget):
                parent.addTopLevelItem(item)
            else:
                parent.addChild(item)
            for child in node.children:
                add(child, item, depth + 1)
            item.setExpanded(depth < 3)

        add(tree, self.tree, 0)
        self.tree.blockSignals(False)
        for col in range(3):
            self.tree.resizeColumnToContents(col)
        self.tree_status.setText(status)

    def _on_node(self, item: QTreeWidgetItem | None, _prev: object = None) -> None:
        if item is not None:
            self.node_selected.emit(item.data(0, Qt.ItemDataRole.UserRole))

    def set_attributes(self, title: str, items: Sequence[AttrItem]) -> None:
        self.attr_title.setText(title)
        self.attrs.clear()

        def add(it: AttrItem, parent: QTreeWidget | QTreeWidgetItem, depth: int) -> None:
            q = QTreeWidgetItem([it.key, it.text])
            q.setToolTip(1, it.text)
            if isinstance(parent, QTreeWidget):
                parent.addTopLevelItem(q)
            else:
                parent.addChild(q)
            for child in it.children:
                add(child, q, depth + 1)
            # attributes open two levels deep; the metadata document stays folded
            q.setExpanded(depth < 2 and it.key != "metadata")

        for it in items:
            add(it, self.attrs, 0)
        self.attrs.resizeColumnToContents(0)

    def set_grid(self, cells: GridCells | None) -> None:
        self._set_legend(cells.counts if cells is not None else {})

    def _set_legend(self, counts: dict[str, int]) -> None:
        parts = []
        for i, label in enumerate(STATE_LABELS[:5]):
            n = counts.get(STATE_NAMES[i])
            parts.append(
                f'<span style="color:{_rgb(STATE_COLORS[i])}">■</span> {label}'
                + (f" {n:,}" if n else "")
            )
        parts.append(f'<span style="color:{_rgb(SHARD_COLOR)}">▭</span> shard')
        self.legend.setText(" &nbsp;".join(parts))

    def set_live(self, panel: LivePanel) -> None:
        lines = panel.lines()
        if panel.grid_note:
            lines.append(panel.grid_note)
        self.live_text.setText("\n".join(line for line in lines if line))
        self.progress.setMaximum(max(1, panel.view_total))
        self.progress.setValue(min(panel.view_resolved, max(1, panel.view_total)))
        if panel.shown_level != self._shown_level:
            self._shown_level = panel.shown_level
            self._mark_shown_level()
            self._show_level_details(self._details_row())

    def set_chunk(self, details: ChunkDetails | None) -> None:
        if details is None:
            self.chunk_text.setText("Hover over the image to see a chunk.")
        else:
            self.chunk_text.setText("\n".join(details.lines()))

    @ensure_main_thread
    def call_in_main(self, fn: Callable[[], None]) -> None:
        fn()

    # -- hooks ---------------------------------------------------------------------------
    def set_qc_widget(self, widget: QWidget) -> None:
        """Put ``widget`` in the QC tab (replacing the placeholder)."""
        i = self.qc_tab_index
        self.tabs.removeTab(i)
        self.tabs.insertTab(i, widget, "QC")

    def table_text(self) -> list[dict[str, str]]:
        """The levels table as shown (header → cell text), for tests and scripts."""
        out = []
        for r in range(self.table.rowCount()):
            row = {}
            for c, (_, h) in enumerate(COLUMNS):
                item = self.table.item(r, c)
                row[h] = item.text() if item is not None else ""
            out.append(row)
        return out


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


ChunkView.register(QtChunkView)

__all__ = ["QC_PLACEHOLDER", "QtChunkView"]

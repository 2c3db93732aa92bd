"""The inspector's logic, free of any GUI: a ``Pyramid`` plus what the front end shows
(``ViewState``) → table rows, hierarchy, grid cells with chunk states, live figures.

Heavy work (storage scans, store listings, per-chunk size look-ups) runs on the
controller's own worker threads; results come back through ``view.call_in_main`` and are
dropped when they belong to an older generation (another pyramid, or after ``close``).
Scan statuses come back in batches (``Coalescer``) and refresh only the rows they change:
a pyramid of 200 levels must not cost the view 600 whole-table refreshes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..formats import pyramid_validation
from ..model import Pyramid, error_reason
from ..qc import StorageFigures
from ._details import LOOKING_UP, chunk_details, stored_size
from ._grid import MAX_CELLS, GridCells, chunk_at, compute_cells, refresh_states
from ._levels import LevelRow, level_row
from ._live import Backlog, LiveFeed, live_panel
from ._state import ViewState, store_root
from ._tree import TreeNode, known_tree, list_or_known, node_attribute_items
from ._view import ChunkDetails, ChunkView, Header, LivePanel
from ._work import Coalescer, Workers, scan_levels


class ChunkController:
    """Drives a ``ChunkView``. Call ``show(pyramid)`` when the followed layer changes,
    ``set_view(state)`` when the front end's view changes, ``tick()`` regularly (a few
    times a second) for live updates, ``close()`` once."""

    def __init__(
        self,
        view: ChunkView,
        *,
        max_cells: int = MAX_CELLS,
        scan: bool = True,
        list_store: bool = True,
        events: Any = None,
    ) -> None:
        self.view = view
        self.max_cells = max_cells
        self.scan = scan
        self.list_store = list_store
        self._events = events
        self.pyramid: Pyramid | None = None
        self.title = ""
        self.generation = 0
        self.grid_enabled = True
        self.rows: list[LevelRow] = []
        self.tree: TreeNode | None = None
        self.tree_status = ""
        self.cells: GridCells | None = None
        self.state: ViewState | None = None
        self.chunk: ChunkDetails | None = None
        self.live: LivePanel | None = None
        self.feed: LiveFeed | None = None
        self.closed = False
        self._figures: dict[tuple[str, str], StorageFigures] = {}
        self._trees: dict[tuple[str, str], tuple[TreeNode, str]] = {}
        self._scan_status: dict[int, str] = {}
        self._cancel = threading.Event()  # the pyramid's background work
        self._scan_cancel = threading.Event()  # its storage scans ("Cancel scan")
        self._scan_gen = 0
        self._workers = Workers()
        #: (generation, scan generation, level) → status line, from the scan's worker
        self._statuses: Coalescer[tuple[int, int, int], str] = Coalescer(
            self._post_batch, self._apply_statuses
        )
        #: (uri, path) → warnings of the deferred OME-NGFF validation
        self._validation: dict[tuple[str, str], tuple[str, ...]] = {}
        self._backlog = Backlog(events)

    # -- the followed pyramid -----------------------------------------------------------
    def show(self, pyramid: Pyramid | None, title: str = "", message: str = "") -> None:
        """Follow ``pyramid`` (``None``: nothing to inspect, say ``message``)."""
        if self.closed:
            return
        if pyramid is not None and pyramid is self.pyramid:
            if title != self.title:
                self.title = title
                self.view.set_header(self._header())
            return
        self._stop()
        self.pyramid, self.title = pyramid, title
        self.rows, self.tree, self.cells, self.state, self.chunk = [], None, None, None, None
        self._scan_status = {}
        self.view.set_grid(None)
        self.view.set_chunk(None)
        if pyramid is None:
            self.view.show_message(message or "Select a layer opened by napari-chunkview.")
            return
        names = [lv.array.name for lv in pyramid.levels if lv.array is not None]
        self.feed = LiveFeed(names, self._events, self._backlog.matching(names))
        self.view.set_header(self._header())
        self._refresh_rows()
        self.tree = known_tree(pyramid)
        self.tree_status = "what the metadata names (not listed)"
        self.view.set_tree(self.tree, self.tree_status)
        self.select_node(self.tree.path)
        if self.list_store:  # first: the tree is the quickest answer
            self._start_listing()
        if self.scan:
            self._start_scans()
        self._start_validation()
        self._push_live()

    def _header(self) -> Header:
        p = self.pyramid
        assert p is not None
        later = self._validation.get((p.uri, p.path), ())
        return Header(
            self.title or p.name,
            p.uri,
            p.provenance.format,
            p.provenance.convention,
            p.provenance.reason,
            p.kind,
            (*p.warnings, *later),
        )

    def _start_validation(self) -> None:
        """The OME-NGFF schema validation the napari reader's quick open deferred
        (ome-zarr-models), in the background; its warnings join the header's."""
        p = self.pyramid
        assert p is not None
        key = (p.uri, p.path)
        if key in self._validation:
            return
        gen = self.generation

        def work() -> None:
            try:
                found = tuple(pyramid_validation(p))
            except Exception as e:  # validation never takes the inspector down
                found = (f"metadata could not be validated ({e})",)

            def apply() -> None:
                self._validation[key] = found
                if found and self.pyramid is p:
                    self.view.set_header(self._header())

            self._post(gen, apply)

        self._submit(work)

    def _stop(self) -> None:
        """Forget the current pyramid: newer generation, cancel its work, unsubscribe."""
        self.generation += 1
        self._cancel.set()
        self._cancel = threading.Event()
        self._scan_cancel.set()
        self._scan_cancel = threading.Event()
        if self.feed is not None:
            self.feed.close()
            self.feed = None

    def close(self) -> None:
        """Stop everything (idempotent). The view is not touched."""
        if self.closed:
            return
        self._stop()
        self._backlog.close()
        self.closed = True
        self.pyramid = None
        self._workers.shutdown()

    # -- background work ----------------------------------------------------------------
    def _submit(self, fn: Callable[[], None]) -> None:
        if not self.closed:
            self._workers.submit(fn)

    def _post(self, generation: int, fn: Callable[[], None]) -> None:
        """From a worker: run ``fn`` on the view's thread unless the result is stale."""

        def run() -> None:
            if generation == self.generation and not self.closed:
                fn()

        if generation == self.generation and not self.closed:
            try:
                self.view.call_in_main(run)
            except RuntimeError:  # the view is gone (Qt object deleted)
                pass

    def _post_batch(self, fn: Callable[[], None]) -> bool:
        """From a worker: run ``fn`` (a ``Coalescer`` flush, which checks generations
        itself) on the view's thread; False when it cannot be scheduled."""
        if self.closed:
            return False
        try:
            self.view.call_in_main(fn)
        except RuntimeError:  # the view is gone (Qt object deleted)
            return False
        return True

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for the background work now queued (tests, scripted screenshots); True
        when all of it finished. Results still arrive through ``view.call_in_main``."""
        return self._workers.wait(timeout)

    @property
    def busy(self) -> bool:
        return self._workers.busy

    # -- levels table ---------------------------------------------------------------------
    def _refresh_rows(self, changed: Iterable[int] | None = None) -> None:
        """Rebuild the rows ``changed`` (default: all) and hand the table to the view."""
        p = self.pyramid
        if p is None:
            return

        def row(i: int) -> LevelRow:
            figures = self._figures.get((p.uri, p.levels[i].path))
            return level_row(p, i, figures, self._scan_status.get(i, ""))

        if changed is None or len(self.rows) != len(p.levels):
            self.rows = [row(i) for i in range(len(p.levels))]
        else:
            rows = list(self.rows)  # a new list: the view may hold on to the old one
            for i in changed:
                rows[i] = row(i)
            self.rows = rows
        self.view.set_levels(self.rows)

    def _apply_statuses(self, batch: dict[tuple[int, int, int], str]) -> None:
        """On the view's thread: the scan statuses gathered since the last batch."""
        changed = set()
        for (gen, sgen, i), text in batch.items():
            # not another pyramid's, nor a scan replaced by a rescan
            if gen == self.generation and sgen == self._scan_gen and not self.closed:
                self._scan_status[i] = text
                changed.add(i)
        if changed:
            self._refresh_rows(sorted(changed))

    def _start_scans(self) -> None:
        p = self.pyramid
        assert p is not None
        gen, sgen, cancel = self.generation, self._scan_gen, self._scan_cancel
        todo = [
            i
            for i, lv in enumerate(p.levels)
            if not lv.virtual and (p.uri, lv.path) not in self._figures
        ]
        for i in todo:
            self._scan_status[i] = "waiting to scan…"
        self._refresh_rows()

        def status(i: int, text: str) -> None:
            if gen == self.generation and not self.closed:
                self._statuses.put((gen, sgen, i), text)

        def store(level: Any, figures: StorageFigures) -> None:
            self._figures[(p.uri, level.path)] = figures

        self._submit(lambda: scan_levels(p, todo, cancel, status, store))

    def cancel_scans(self) -> None:
        self._scan_cancel.set()

    def rescan(self) -> None:
        """Forget the figures of the current pyramid and scan again."""
        p = self.pyramid
        if p is None:
            return
        self._scan_cancel.set()
        self._scan_cancel = threading.Event()
        self._scan_gen += 1  # the old scan's late statuses are dropped
        for lv in p.levels:
            self._figures.pop((p.uri, lv.path), None)
        self._scan_status = {}
        self._start_scans()

    def figures(self, level: int) -> StorageFigures | None:
        p = self.pyramid
        return None if p is None else self._figures.get((p.uri, p.levels[level].path))

    # -- hierarchy ------------------------------------------------------------------------
    def _start_listing(self) -> None:
        p = self.pyramid
        assert p is not None
        root = store_root(p)
        if root is None:
            return
        listed = self._trees.get((p.uri, p.path))
        if listed is not None:  # listed before (another channel's layer, say)
            self.tree, self.tree_status = listed
            self.view.set_tree(*listed)
            self.select_node(p.path)
            return
        gen, cancel = self.generation, self._cancel
        self.tree_status = "listing the store…"
        self.view.set_tree(self.tree, self.tree_status)  # type: ignore[arg-type]
        known = self.tree

        def work() -> None:
            try:
                tree, status = list_or_known(root, p, known, cancel)
            except InterruptedError:
                return

            def apply() -> None:
                self.tree, self.tree_status = tree, status
                self._trees[(p.uri, p.path)] = (tree, status)
                self.view.set_tree(tree, status)
                self.select_node(p.path)

            self._post(gen, apply)

        self._submit(work)

    def select_node(self, path: str) -> None:
        node = self.tree.find(path) if self.tree is not None else None
        if node is None:
            return
        title = f"{node.path or '/'} ({node.kind})" + (f" — {node.role}" if node.role else "")
        self.view.set_attributes(title, node_attribute_items(node))

    # -- the grid in view ---------------------------------------------------------------
    def set_grid_enabled(self, enabled: bool) -> None:
        self.grid_enabled = enabled
        if not enabled:
            self.cells = None
            self.view.set_grid(None)
        elif self.state is not None:
            state, self.state = self.state, None
            self.set_view(state)

    def set_view(self, state: ViewState | None) -> bool:
        """The front end's view changed (or maybe not): recompute the grid when it did.
        Returns True when the grid was recomputed."""
        p = self.pyramid
        if p is None or self.closed:
            return False
        if state is not None and not 0 <= state.level < len(p.levels):
            state = None
        if state == self.state and (
            self.cells is not None or not self.grid_enabled or state is None
        ):
            return False
        self.state = state
        if state is None or not self.grid_enabled:
            self.cells = None
            self.view.set_grid(None)
        else:
            lv = p.levels[state.level]
            self.cells = compute_cells(
                state.level, lv.grid, lv.array, state.box, state.axes, self.max_cells
            )
            self.view.set_grid(self.cells)
        self._push_live()
        return True

    def tick(self) -> None:
        """Live update: re-read the states of the chunks in view if any of the pyramid's
        chunks had an event, refresh the figures and the chunk under the cursor."""
        p, feed = self.pyramid, self.feed
        if p is None or feed is None or self.closed:
            return
        dirty = feed.take_dirty()
        if dirty and self.cells is not None and self.state is not None:
            lv = p.levels[self.cells.level]
            if lv.array is not None and lv.array.name in dirty:
                if refresh_states(self.cells, lv.array):
                    self.view.set_grid(self.cells)
        if dirty and self.chunk is not None:
            self._show_chunk(self.chunk.level, self.chunk.index, self.chunk.pinned, lookup=False)
        self._push_live()

    def reset_stats(self) -> None:
        if self.feed is not None:
            self.feed.reset()
        self._push_live()

    def _push_live(self) -> None:
        p = self.pyramid
        if p is None or self.feed is None:
            return
        panel = live_panel(self.feed.stats.snapshot(), p, self.state, self.cells)
        if panel != self.live:
            self.live = panel
            self.view.set_live(panel)

    # -- one chunk --------------------------------------------------------------------------
    def hover(self, level: int, point: tuple[float, ...] | None) -> None:
        """The cursor is at ``point`` (level pixels, one value per pyramid axis)."""
        if self.chunk is not None and self.chunk.pinned:
            return
        self._point(level, point, pinned=False)

    def click(self, level: int, point: tuple[float, ...] | None) -> None:
        """Pin the chunk at ``point`` (clicking it again, or outside the data, unpins)."""
        p = self.pyramid
        if p is None:
            return
        idx = chunk_at(p.levels[level].grid, point) if point is not None else None
        if (
            self.chunk is not None
            and self.chunk.pinned
            and (idx is None or idx == self.chunk.index)
        ):
            self.chunk = replace(self.chunk, pinned=False)
            self.view.set_chunk(self.chunk)
            return
        self._point(level, point, pinned=True)

    def _point(self, level: int, point: tuple[float, ...] | None, pinned: bool) -> None:
        p = self.pyramid
        if p is None or not 0 <= level < len(p.levels):
            return
        idx = chunk_at(p.levels[level].grid, point) if point is not None else None
        if idx is None:
            if self.chunk is not None:
                self.chunk = None
                self.view.set_chunk(None)
            return
        if self.chunk is not None and (self.chunk.level, self.chunk.index, self.chunk.pinned) == (
            level,
            idx,
            pinned,
        ):
            return
        self._show_chunk(level, idx, pinned, lookup=True)

    def _show_chunk(self, level: int, idx: tuple[int, ...], pinned: bool, lookup: bool) -> None:
        p = self.pyramid
        assert p is not None
        details = chunk_details(p, level, idx, self.feed, pinned, self.chunk)
        self.chunk = details
        self.view.set_chunk(details)
        if lookup and details.size_note == LOOKING_UP:
            self._lookup_size(level, idx)  # after ``self.chunk`` is set: it checks it

    def _lookup_size(self, level: int, idx: tuple[int, ...]) -> None:
        p = self.pyramid
        assert p is not None
        lv, gen = p.levels[level], self.generation

        def work() -> None:
            try:
                size, note = stored_size(lv, idx)
            except Exception as e:
                size, note = None, f"unknown ({error_reason(e)})"

            def apply() -> None:
                c = self.chunk
                if c is not None and (c.level, c.index) == (level, idx):
                    self.chunk = replace(c, stored_bytes=size, size_note=note)
                    self.view.set_chunk(self.chunk)

            self._post(gen, apply)

        self._submit(work)


__all__ = ["ChunkController"]

"""The inspector panels in Jupyter: ``explorer.ChunkController`` (the same controller as
the napari dock) drawing into ``JupyterChunkView``, which turns what the controller hands
it into plain JSON on ``InspectorModel``'s traits; the browser draws those.

Threading: the controller calls the view from the kernel's main thread (widget messages),
from the tile server's threads (view changes while a cell runs) and from its own workers
(``call_in_main``). Every call into the controller and every trait write here holds one
lock, and the traits live on their own widget model, so the viewer's traits are only ever
written by the main thread.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import ipywidgets
import traitlets as t

from ..explorer import (
    COLUMNS,
    STATE_NAMES,
    AttrItem,
    ChunkController,
    ChunkDetails,
    ChunkView,
    GridCells,
    Header,
    LevelRow,
    LivePanel,
    TreeNode,
    ViewState,
)
from ..model import Pyramid

#: Nodes of an attributes or hierarchy tree sent to the browser at most.
MAX_NODES = 2000
#: Seconds between live updates (loading figures, chunk states in view).
TICK_S = 0.25


class InspectorModel(ipywidgets.Widget):  # type: ignore[misc]
    """The panels' state (no view of its own: the viewer's ES module draws it)."""

    message = t.Unicode("").tag(sync=True)
    header = t.Dict().tag(sync=True)
    columns: t.List[Any] = t.List().tag(sync=True)
    levels: t.List[Any] = t.List().tag(sync=True)
    tree = t.Dict().tag(sync=True)
    tree_status = t.Unicode("").tag(sync=True)
    attrs = t.Dict().tag(sync=True)
    grid = t.Dict().tag(sync=True)
    live = t.Dict().tag(sync=True)
    chunk = t.Dict().tag(sync=True)
    qc = t.Dict().tag(sync=True)


def _attr_json(items: Sequence[AttrItem], budget: list[int]) -> list[dict[str, Any]]:
    out = []
    for it in items:
        if budget[0] <= 0:
            out.append({"key": "…", "text": "(more not shown)"})
            break
        budget[0] -= 1
        node: dict[str, Any] = {"key": it.key, "text": it.text}
        if it.children:
            node["children"] = _attr_json(it.children, budget)
        out.append(node)
    return out


def _tree_json(node: TreeNode, budget: list[int]) -> dict[str, Any]:
    budget[0] -= 1
    out: dict[str, Any] = {
        "path": node.path,
        "name": node.name,
        "kind": node.kind,
        "summary": node.summary,
        "role": node.role,
    }
    kids = []
    for c in node.children:
        if budget[0] <= 0:
            kids.append({"path": "", "name": "…", "kind": "more", "summary": "", "role": ""})
            break
        kids.append(_tree_json(c, budget))
    if kids:
        out["children"] = kids
    return out


def grid_json(cells: GridCells) -> dict[str, Any]:
    """Cells of the view as a compact grid: ``states`` is one character per cell
    (``0``…``5`` = ``STATE_NAMES``), row-major over ``nr`` × ``nc`` blocks."""
    k = cells.block[0]
    r0, r1 = cells.chunk_rows
    c0, c1 = cells.chunk_cols
    nr, nc = -(-(r1 - r0) // k), -(-(c1 - c0) // k)
    ra, ca = cells.axes
    states = ["0"] * (nr * nc)
    for idx, s in zip(cells.index.tolist(), cells.states.tolist(), strict=True):
        i, j = (idx[ra] - r0) // k, (idx[ca] - c0) // k
        if 0 <= i < nr and 0 <= j < nc:
            states[i * nc + j] = str(s)
    (er0, er1), (ec0, ec1) = cells.extent
    return {
        "level": cells.level,
        "block": list(cells.block),
        "chunk": [cells.chunk_shape[ra], cells.chunk_shape[ca]],
        "shape": [cells.shape[ra], cells.shape[ca]],
        "first": [r0, c0],
        "nr": nr,
        "nc": nc,
        "extent": [[er0, er1], [ec0, ec1]],
        "shard_rows": [int(v) for v in cells.shard_rows],
        "shard_cols": [int(v) for v in cells.shard_cols],
        "states": "".join(states),
        "names": list(STATE_NAMES),
        "counts": dict(cells.counts),
        "n_chunks": cells.n_chunks,
    }


class JupyterChunkView(ChunkView):
    """``ChunkView`` for the notebook: each setter writes one trait of ``model``."""

    def __init__(self, model: InspectorModel, lock: threading.RLock) -> None:
        self.model = model
        self.lock = lock

    def show_message(self, text: str) -> None:
        self.model.message = text

    def set_header(self, header: Header) -> None:
        self.model.message = ""
        self.model.header = {**asdict(header), "warnings": list(header.warnings)}

    def set_levels(self, rows: Sequence[LevelRow]) -> None:
        if not self.model.columns:
            self.model.columns = [list(c) for c in COLUMNS]
        self.model.levels = [
            {"cells": row.cells, "index": row.index, "virtual": row.virtual, "codecs": row.codecs}
            for row in rows
        ]

    def set_tree(self, tree: TreeNode, status: str) -> None:
        self.model.tree = _tree_json(tree, [MAX_NODES]) if tree is not None else {}
        self.model.tree_status = status

    def set_attributes(self, title: str, items: Sequence[AttrItem]) -> None:
        self.model.attrs = {"title": title, "items": _attr_json(items, [MAX_NODES])}

    def set_grid(self, cells: GridCells | None) -> None:
        self.model.grid = grid_json(cells) if cells is not None else {}

    def set_live(self, panel: LivePanel) -> None:
        self.model.live = {
            "lines": panel.lines(),
            "in_flight": panel.in_flight,
            "done": panel.done,
            "missing": panel.missing,
            "failed": panel.failed,
            "mb_per_s": panel.mb_per_s,
            "level": panel.level,
        }

    def set_chunk(self, details: ChunkDetails | None) -> None:
        if details is None:
            self.model.chunk = {}
        else:
            self.model.chunk = {
                "lines": details.lines(),
                "level": details.level,
                "index": list(details.index),
                "pinned": details.pinned,
            }

    def call_in_main(self, fn: Callable[[], None]) -> None:
        # there is no GUI thread to hop to: run it now, serialised with every other call
        with self.lock:
            fn()


class Inspector:
    """The controller, its Jupyter view and the live-update thread, for one viewer."""

    def __init__(self, pyramid: Pyramid, *, scan: bool = True, list_store: bool = True) -> None:
        self.lock = threading.RLock()
        self.model = InspectorModel()
        self.view = JupyterChunkView(self.model, self.lock)
        self.controller = ChunkController(self.view, scan=scan, list_store=list_store)
        with self.lock:
            self.controller.show(pyramid, title=pyramid.name)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_tick_loop,
            args=(weakref.ref(self), self._stop),
            name="chunkview-inspector-tick",
            daemon=True,
        )
        self._thread.start()

    def run(self, fn: Callable[[ChunkController], Any]) -> Any:
        with self.lock:
            if self.controller.closed:
                return None
            return fn(self.controller)

    def set_view(self, state: ViewState) -> None:
        self.run(lambda c: c.set_view(state))

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            self.controller.close()
        self.model.close()


def _tick_loop(ref: weakref.ref[Inspector], stop: threading.Event) -> None:
    while not stop.wait(TICK_S):
        insp = ref()
        if insp is None:
            return
        try:
            insp.run(lambda c: c.tick())
        except Exception:  # a failed tick must not end the live updates
            pass
        del insp

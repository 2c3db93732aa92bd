"""Messages from the browser: tile requests (answered on worker threads) and what the
inspector follows (the view, the cursor, a clicked chunk, a selected node).

``BrowserMessages`` is mixed into ``ChunkViewer``: ``handle`` answers what any thread may
answer (the tile server calls it from its threads); ``_on_msg`` receives widget messages
(the comm transport, and the requests that change traits).
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..explorer import ViewState
from ..model import error_reason

if TYPE_CHECKING:
    from ..model import Pyramid
    from ._geometry import Layout
    from ._inspector import Inspector
    from ._service import TileService

#: Messages the tile server may carry (the rest change traits: widget messages only).
HTTP_TYPES = frozenset({"tiles", "view", "hover", "click", "select_node"})


class BrowserMessages:
    """Dispatch of the browser's messages (a mixin of ``ChunkViewer``)."""

    pyramid: Pyramid
    geometry: Layout
    service: TileService
    inspector: Inspector | None
    indices: dict[str, Any]
    channels: list[dict[str, Any]]
    _replies: ThreadPoolExecutor
    _send_lock: threading.Lock
    _qc: Any

    if TYPE_CHECKING:  # provided by ChunkViewer / anywidget (no stubs at run time: they
        # would shadow the real methods in the MRO)
        def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None: ...
        def auto_contrast(self, channel: int | str | None = None) -> None: ...
        def run_qc(self, sample: float | None = None, level: int | None = None) -> Any: ...

    # -- messages from the browser -------------------------------------------------------
    def handle(self, msg: Any) -> tuple[dict[str, Any], list[bytes]]:
        """One message from the browser that any thread may answer (tiles, view,
        hover, click); never raises."""
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "tiles":
            return self.service.handle(msg)
        try:
            if kind not in HTTP_TYPES:
                raise ValueError(f"unknown message type {kind!r}")
            self._inspect(msg)
        except Exception as e:
            return {
                "type": "error",
                "id": msg.get("id") if isinstance(msg, dict) else None,
                "error": error_reason(e),
            }, []
        return {"type": "ok", "id": msg.get("id")}, []

    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "tiles":
            # answer from a worker, in this message's context: ipykernel (≥ 7) routes the
            # comm's next frontend messages to the subshell of the parent the reply
            # carries, so the reply must carry this request's parent, not the main shell's
            self._replies.submit(contextvars.copy_context().run, self._reply, content)
        elif kind in HTTP_TYPES:
            self.handle(content)
        elif kind == "auto_contrast":
            ch = content.get("channel")
            self.auto_contrast(None if ch is None else int(ch))
        elif kind == "qc":
            sample = content.get("sample")
            self.run_qc(sample=float(sample) if sample else None)
        elif kind == "qc_cancel" and self._qc is not None:
            self._qc.cancel.set()
        elif kind == "rescan" and self.inspector is not None:
            self.inspector.run(lambda c: c.rescan())

    def _reply(self, content: dict[str, Any]) -> None:
        header, buffers = self.service.handle(content)
        with self._send_lock:
            self.send(header, buffers)

    # -- the inspector follows the view ---------------------------------------------------
    def _follow_request(self, msg: dict[str, Any]) -> None:
        view = msg.get("view")
        if isinstance(view, dict):
            self._inspect({"type": "view", **view})

    def _point_index(self, level: int, render: dict[str, Any] | None = None) -> list[int]:
        """Index along every axis at ``level`` for the current slice (grid axes: 0)."""
        lay = self.geometry
        indices = (render or {}).get("indices") or self.indices
        out = []
        for ax in range(lay.ndim):
            if ax in (lay.rows, lay.cols):
                out.append(0)
            elif ax == lay.channel_axis and lay.composite:
                visible = [c["index"] for c in self.channels if c.get("visible", True)]
                out.append(visible[0] if visible else 0)
            else:
                out.append(lay.level_index(level, ax, int(indices.get(lay.axis_names[ax], 0))))
        return out

    def _inspect(self, msg: dict[str, Any]) -> None:
        if self.inspector is None:
            return
        kind = msg["type"]
        if kind == "select_node":
            path = str(msg.get("path", ""))
            self.inspector.run(lambda c: c.select_node(path))
            return
        level = int(msg.get("level", 0))
        if not 0 <= level < len(self.geometry.levels):
            raise ValueError(f"level {level} does not exist")
        lay = self.geometry
        base = self._point_index(level, msg.get("render"))
        if kind == "view":
            (r0, r1), (c0, c1) = msg["rows"], msg["cols"]
            box = [(i, i + 1) for i in base]
            box[lay.rows] = (int(r0), int(r1))
            box[lay.cols] = (int(c0), int(c1))
            canvas = msg.get("canvas")
            view0 = msg.get("view0")
            state = ViewState(
                level=level,
                box=tuple(box),
                axes=(lay.rows, lay.cols),
                multiscale=len(lay.levels) > 1,
                canvas=(int(canvas[0]), int(canvas[1])) if canvas else None,
                view0=(float(view0[0]), float(view0[1])) if view0 else None,
            )
            self.inspector.set_view(state)
            return
        point: tuple[float, ...] | None = None
        if msg.get("row") is not None and msg.get("col") is not None:
            p = [float(v) for v in base]
            p[lay.rows], p[lay.cols] = float(msg["row"]), float(msg["col"])
            point = tuple(p)
        if kind == "hover":
            self.inspector.run(lambda c: c.hover(level, point))
        else:
            self.inspector.run(lambda c: c.click(level, point))

"""``ChunkViewer``: the notebook widget (anywidget; its ES module and CSS are files in
``static/``, nothing is fetched from the network).

Tiles travel over one of two transports, chosen by the browser at display time:

* ``http``: the kernel's loopback tile server (``_server.py``), answered on its own
  threads, so tiles keep coming while another cell runs;
* ``comm``: widget messages through the Jupyter server, answered on worker threads but
  received by the kernel's shell thread, so they wait while a cell runs. Used when the
  browser cannot reach the kernel's loopback (a remote kernel) or when asked for.

Slider, contrast and camera state are traits, synced both ways with Python.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t
from ipywidgets import widget_serialization

from ..model import Pyramid
from . import _server
from ._encode import FORMATS
from ._geometry import Layout, layout_of
from ._inspector import Inspector, InspectorModel
from ._messages import BrowserMessages
from ._qc import QCRun
from ._render import ChannelSpec, auto_window, default_channels, parse_color, render_tile
from ._service import TILE_SIZES, TileService

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
TRANSPORTS = ("auto", "http", "comm")


class ChunkViewer(BrowserMessages, anywidget.AnyWidget):  # type: ignore[misc]
    """A 2D tiled view of a ``Pyramid`` with sliders, contrast and the chunk inspector.

    Build it with ``napari_chunkview.view(uri_or_pyramid)``. State you can read and set
    from Python: ``indices`` (level-0 index per slider axis), ``channels`` (per channel:
    name, colour, window, visible), ``camera`` (``{"x", "y", "scale"}``: the view centre
    in level-0 pixels and screen pixels per level-0 pixel; ``{}`` fits the image).
    ``level`` is the level the browser shows (read-only), ``status`` what it reports.
    """

    # one ES module from several plain files (anywidget loads it from a blob URL, where
    # relative imports cannot work); order: helpers first, the module's export last
    _esm = "\n".join(
        (STATIC / f"{name}.js").read_text(encoding="utf-8")
        for name in ("dom", "controls", "tiles", "panels", "viewer")
    )
    _css = STATIC / "viewer.css"

    info = t.Dict().tag(sync=True)
    indices = t.Dict().tag(sync=True)
    channels: t.List[Any] = t.List().tag(sync=True)
    camera = t.Dict().tag(sync=True)
    level = t.Int(-1).tag(sync=True)
    height = t.Int(480).tag(sync=True)
    width = t.Int(0).tag(sync=True)  # 0: the width of the output area
    tile_size = t.Int(256).tag(sync=True)
    tile_format = t.Unicode("auto").tag(sync=True)
    transport = t.Unicode("auto").tag(sync=True)
    max_in_flight = t.Int(4).tag(sync=True)
    tiles_per_request = t.Int(6).tag(sync=True)
    show_inspector = t.Bool(True).tag(sync=True)
    status = t.Dict().tag(sync=True)
    _tile_url = t.Unicode("").tag(sync=True)
    _inspector = t.Instance(InspectorModel, allow_none=True).tag(sync=True, **widget_serialization)

    def __init__(
        self,
        pyramid: Pyramid,
        *,
        inspector: bool = True,
        scan: bool = True,
        timeout: float = 20.0,
        **kwargs: Any,
    ) -> None:
        if any(lv.array is None for lv in pyramid.levels):
            from ..loading import attach

            pyramid = attach(pyramid)
        self.pyramid = pyramid
        self.geometry: Layout = layout_of(pyramid)
        indices = self.geometry.default_indices()
        self.service = TileService(pyramid, self.geometry, timeout=timeout)
        self.service.on_request = self._follow_request
        self._replies = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chunkview-comm")
        self._send_lock = threading.Lock()
        self._qc: QCRun | None = None
        self._keep: Any = None
        self.inspector: Inspector | None = Inspector(pyramid, scan=scan) if inspector else None
        super().__init__(
            info=self._info(),
            indices=indices,
            channels=default_channels(pyramid, self.geometry, indices),
            _inspector=self.inspector.model if self.inspector is not None else None,
            show_inspector=inspector,
            **kwargs,
        )
        if self.transport != "comm" and _server.enabled():
            self._tile_url, self._keep = _server.register(_weak_handler(self))
        self.on_msg(self._on_msg)

    # -- description --------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
        p = self.pyramid
        return {
            "name": p.name,
            "uri": p.uri,
            "dtype": str(p.dtype),
            "shape": list(p.shape),
            "kind": p.kind,
            "format": p.provenance.format,
            "convention": p.provenance.convention,
            "layout": self.geometry.to_json(),
            "tile_sizes": list(TILE_SIZES),
        }

    def __repr__(self) -> str:
        return f"ChunkViewer({self.pyramid.name!r}, {self.pyramid.uri!r})"

    # -- validation of what Python sets --------------------------------------------------
    @t.validate("indices")
    def _valid_indices(self, proposal: dict[str, Any]) -> dict[str, int]:
        value = dict(proposal["value"])
        out = {}
        for s in self.geometry.sliders:
            v = value.pop(s.name, self.indices.get(s.name, 0) if self.indices else 0)
            try:
                v = int(v)
            except (TypeError, ValueError):
                raise t.TraitError(f"index of {s.name!r} must be an integer, got {v!r}") from None
            if not 0 <= v < s.size:
                raise t.TraitError(f"index {v} of {s.name!r} is out of range (0…{s.size - 1})")
            out[s.name] = v
        if value:
            raise t.TraitError(
                f"no slider for {sorted(value)}; sliders: {[s.name for s in self.geometry.sliders]}"
            )
        return out

    @t.validate("channels")
    def _valid_channels(self, proposal: dict[str, Any]) -> list[dict[str, Any]]:
        value = list(proposal["value"])
        if len(value) != self.geometry.n_channels:
            raise t.TraitError(
                f"{self.geometry.n_channels} channel entries expected, got {len(value)}"
            )
        out = []
        for i, ch in enumerate(value):
            ch = dict(ch)
            lo, hi = (float(v) for v in ch.get("window", (0, 1)))
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise t.TraitError(f"window of channel {i} must be finite")
            parse_color(ch.get("color", "#FFFFFF"))
            ch["window"] = [lo, hi]
            ch["index"] = i
            ch.setdefault("visible", True)
            out.append(ch)
        return out

    @t.validate("tile_format")
    def _valid_format(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in FORMATS:
            raise t.TraitError(f"tile_format must be one of {FORMATS}")
        return str(proposal["value"])

    @t.validate("transport")
    def _valid_transport(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in TRANSPORTS:
            raise t.TraitError(f"transport must be one of {TRANSPORTS}")
        return str(proposal["value"])

    @t.validate("tile_size")
    def _valid_tile_size(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] not in TILE_SIZES:
            raise t.TraitError(f"tile_size must be one of {TILE_SIZES}")
        return int(proposal["value"])

    # -- Python API ---------------------------------------------------------------------
    def set_index(self, **axes: int) -> None:
        """Move sliders: ``viewer.set_index(z=10, t=0)`` (level-0 indices)."""
        self.indices = {**self.indices, **axes}

    def _set_channel(self, channel: int | str, **changes: Any) -> None:
        i = self._channel_number(channel)
        chans = [dict(c) for c in self.channels]
        chans[i].update(changes)
        self.channels = chans

    def _channel_number(self, channel: int | str) -> int:
        if isinstance(channel, str):
            names = [c["name"] for c in self.channels]
            if channel not in names:
                raise KeyError(f"no channel {channel!r}; channels: {names}")
            return names.index(channel)
        if not 0 <= channel < len(self.channels):
            raise IndexError(f"channel {channel} out of range")
        return channel

    def set_window(self, channel: int | str, low: float, high: float) -> None:
        """Contrast of one channel (by number or name)."""
        self._set_channel(channel, window=[float(low), float(high)])

    def set_color(self, channel: int | str, color: str) -> None:
        parse_color(color)
        self._set_channel(channel, color=color)

    def set_visible(self, channel: int | str, visible: bool = True) -> None:
        self._set_channel(channel, visible=bool(visible))

    def auto_contrast(
        self, channel: int | str | None = None, percentiles: tuple[float, float] = (0.5, 99.5)
    ) -> None:
        """Windows from the coarsest level's current plane (all channels by default)."""
        which = range(len(self.channels)) if channel is None else [self._channel_number(channel)]
        chans = [dict(c) for c in self.channels]
        for i in which:
            lo, hi = auto_window(
                self.pyramid, self.geometry, i, self._render_indices(i), percentiles
            )
            chans[i]["window"] = [lo, hi]
            rlo, rhi = chans[i].get("range", [lo, hi])
            chans[i]["range"] = [min(rlo, lo), max(rhi, hi)]
        self.channels = chans

    def _render_indices(self, channel: int) -> dict[str, int]:
        idx = dict(self.indices)
        ch = self.geometry.channel_axis
        if ch is not None and not self.geometry.composite:
            idx[self.geometry.axis_names[ch]] = channel
        return idx

    def fit(self) -> None:
        """Show the whole image."""
        self.camera = {}
        self.send({"type": "fit"})

    def zoom_to(self, scale: float, x: float | None = None, y: float | None = None) -> None:
        """``scale`` screen pixels per level-0 pixel (1 = one data pixel per screen pixel of
        level 0), centred on ``(x, y)`` (level-0 pixels; default: the current centre)."""
        cam = dict(self.camera)
        lv0 = self.geometry.levels[0]
        self.camera = {
            "x": float(x if x is not None else cam.get("x", lv0.width / 2)),
            "y": float(y if y is not None else cam.get("y", lv0.height / 2)),
            "scale": float(scale),
        }

    def render_specs(self) -> list[dict[str, Any]]:
        """The channels a tile request carries for the current settings."""
        if self.geometry.composite:
            return [
                {"index": c["index"], "color": c["color"], "window": c["window"]}
                for c in self.channels
                if c.get("visible", True)
            ]
        i = (
            self.indices.get(self.geometry.axis_names[self.geometry.channel_axis], 0)
            if self.geometry.channel_axis is not None
            else 0
        )
        c = self.channels[i]
        return [{"index": i, "color": c["color"], "window": c["window"]}]

    def tile(self, level: int, ty: int, tx: int) -> np.ndarray:
        """Tile ``(ty, tx)`` of ``level`` exactly as the browser gets it now (uint8; grey
        (h, w) or RGB (h, w, 3)); an all-hidden composite is black."""
        specs = self.render_specs()
        if not specs:
            specs = [{"index": 0, "color": "#000000", "window": [0, 1]}]
        chans = [
            ChannelSpec(
                int(s["index"]),
                parse_color(s["color"]),
                (float(s["window"][0]), float(s["window"][1])),
            )
            for s in specs
        ]
        return render_tile(
            self.pyramid, self.geometry, level, ty, tx, self.tile_size, self.indices, chans
        )

    @property
    def controller(self) -> Any:
        """The inspector's ``explorer.ChunkController`` (``None`` without inspector)."""
        return self.inspector.controller if self.inspector is not None else None

    def run_qc(self, sample: float | None = None, level: int | None = None) -> QCRun:
        """Start a QC run (shown in the QC panel); ``.done.wait()`` then ``.report``."""
        if self._qc is not None and not self._qc.done.is_set():
            self._qc.cancel.set()
        model = self.inspector.model if self.inspector is not None else None
        insp = self.inspector

        def publish(state: dict[str, Any]) -> None:
            if model is not None and insp is not None:
                with insp.lock:
                    model.qc = state

        self._qc = QCRun(self.pyramid, publish, sample=sample, level=level).start()
        return self._qc

    def close(self) -> None:
        """Stop serving tiles and the inspector, and close the widget (idempotent)."""
        if getattr(self, "_tile_url", ""):
            _server.unregister(self._tile_url)
        self._keep = None
        qc = getattr(self, "_qc", None)
        if qc is not None:
            qc.cancel.set()
        inspector = getattr(self, "inspector", None)
        if inspector is not None:
            inspector.close()
        replies = getattr(self, "_replies", None)
        if replies is not None:
            replies.shutdown(wait=False, cancel_futures=True)
        super().close()


def _weak_handler(viewer: ChunkViewer) -> Any:
    ref = weakref.ref(viewer)

    def handler(msg: Any) -> tuple[dict[str, Any], list[bytes]]:
        v = ref()
        if v is None:
            return {"type": "error", "error": "the viewer is gone"}, []
        return v.handle(msg)

    return handler


def view(
    source: Pyramid | str | Any,
    *,
    height: int = 480,
    width: int = 0,
    tile_size: int = 256,
    tile_format: str = "auto",
    transport: str = "auto",
    inspector: bool = True,
    **storage_options: Any,
) -> ChunkViewer:
    """Show an N5 / Zarr / OME-Zarr pyramid (a path, URL or ``Pyramid``) in the notebook.

    ``height``/``width``: canvas size in CSS pixels (``width=0`` fills the output area);
    ``tile_format``: ``"auto"`` (raw bytes over loopback, PNG otherwise), ``"raw"``,
    ``"png"`` or ``"jpeg"`` (lossy); ``transport``: ``"auto"`` (the kernel's loopback
    tile server when the browser reaches it, else widget messages), ``"http"`` or
    ``"comm"``; ``inspector``: show the metadata, levels, chunk-map, loading and QC panels.
    """
    if isinstance(source, Pyramid):
        pyramid = source
    else:
        from .._api import open_pyramid

        pyramid = open_pyramid(source, **storage_options)
    return ChunkViewer(
        pyramid,
        inspector=inspector,
        height=height,
        width=width,
        tile_size=tile_size,
        tile_format=tile_format,
        transport=transport,
    )

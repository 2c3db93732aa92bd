"""Answer the browser's tile requests (both transports use this; it never raises).

A request names a batch of tiles and how to draw them::

    {"type": "tiles", "id": 7, "format": "auto", "local": true, "tile_size": 256,
     "render": {"indices": {"z": 32}, "channels": [{"index": 0, "color": "#FF00FF",
                                                     "window": [100, 3000]}]},
     "tiles": [{"level": 1, "ty": 0, "tx": 1}, ...]}

The reply is a header plus one binary buffer per tile (empty for a tile that failed)::

    {"type": "tiles", "id": 7, "ms": 4.2,
     "tiles": [{"level": 1, "ty": 0, "tx": 1, "h": 256, "w": 256, "mode": "RGB",
                "format": "raw", "ms": 1.3}, {..., "error": "…"}]}

Tiles of one batch are rendered concurrently on a small pool; a tile still not done
after ``timeout`` seconds is answered with an error (its read goes on and fills the
cache, so asking again later is cheap). Every tile gets an answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from ..loading import shared_pool
from ..model import Pyramid, error_reason
from ._encode import choose_format, encode
from ._geometry import Layout
from ._render import TileError, parse_channels, render_tile

log = logging.getLogger(__name__)

#: Tiles one request may ask for.
MAX_TILES_PER_REQUEST = 64
TILE_SIZES = (64, 128, 256, 512, 1024)

Reply = tuple[dict[str, Any], list[bytes]]


def _pool() -> ThreadPoolExecutor:
    return shared_pool("tiles")


def _error_text(e: BaseException) -> str:
    if isinstance(e, TileError):
        return str(e)
    return error_reason(e)


class TileService:
    """Tiles of one pyramid. ``timeout``: seconds a batch waits for its slowest tile."""

    def __init__(
        self, pyramid: Pyramid, layout: Layout, timeout: float = 20.0, quality: int = 90
    ) -> None:
        self.pyramid = pyramid
        self.layout = layout
        self.timeout = timeout
        self.quality = quality
        self.served = 0
        self.failed = 0
        self._lock = threading.Lock()
        #: called with the request before it is answered (the widget follows the view)
        self.on_request: Callable[[dict[str, Any]], None] | None = None

    def handle(self, msg: Any) -> Reply:
        """Answer one tile request; malformed requests get an ``error`` reply."""
        t0 = time.perf_counter()
        rid = msg.get("id") if isinstance(msg, dict) else None
        try:
            header, buffers = self._handle(msg)
        except Exception as e:  # a malformed request: say so, never hang the browser
            tiles = msg.get("tiles") if isinstance(msg, dict) else None
            entries = [
                {**_tile_ref(t), "error": _error_text(e)}
                for t in (tiles if isinstance(tiles, list) else [])[:MAX_TILES_PER_REQUEST]
            ]
            header = {"type": "tiles", "error": _error_text(e), "tiles": entries}
            buffers = [b""] * len(entries)
        header["id"] = rid
        header["ms"] = (time.perf_counter() - t0) * 1e3
        return header, buffers

    def _handle(self, msg: Any) -> Reply:
        if not isinstance(msg, dict):
            raise TileError("a tile request is a JSON object")
        tiles = msg.get("tiles")
        if not isinstance(tiles, list):
            raise TileError("a tile request needs a list of tiles")
        if len(tiles) > MAX_TILES_PER_REQUEST:
            raise TileError(f"at most {MAX_TILES_PER_REQUEST} tiles per request, got {len(tiles)}")
        size = int(msg.get("tile_size", 256))
        if size not in TILE_SIZES:
            raise TileError(f"tile size {size} is not one of {TILE_SIZES}")
        render = msg.get("render") or {}
        if not isinstance(render, dict):
            raise TileError("render must be an object")
        indices = render.get("indices") or {}
        if not isinstance(indices, dict):
            raise TileError("render.indices must be an object")
        channels = parse_channels(render.get("channels"), self.layout)
        fmt = choose_format(str(msg.get("format", "auto")), bool(msg.get("local", False)))
        if self.on_request is not None:
            try:
                self.on_request(msg)
            except Exception:  # the inspector must never cost a tile
                log.debug("on_request failed", exc_info=True)

        def one(t: Any) -> tuple[dict[str, Any], bytes]:
            t1 = time.perf_counter()
            ref = _tile_ref(t)
            img = render_tile(
                self.pyramid,
                self.layout,
                int(ref["level"]),
                int(ref["ty"]),
                int(ref["tx"]),
                size,
                indices,
                channels,
            )
            used, payload = encode(img, fmt, self.quality)
            return {
                **ref,
                "h": img.shape[0],
                "w": img.shape[1],
                "mode": "L" if img.ndim == 2 else "RGB",
                "format": used,
                "ms": (time.perf_counter() - t1) * 1e3,
            }, payload

        futures: list[Future[tuple[dict[str, Any], bytes]]] = [
            _pool().submit(one, t) for t in tiles
        ]
        wait_futures(futures, timeout=self.timeout)
        entries, buffers = [], []
        for t, fut in zip(tiles, futures, strict=True):
            if not fut.done():
                fut.cancel()
                entries.append({**_safe_ref(t), "error": f"timed out after {self.timeout:g} s"})
                buffers.append(b"")
                continue
            try:
                entry, payload = fut.result()
            except Exception as e:
                entries.append({**_safe_ref(t), "error": _error_text(e)})
                buffers.append(b"")
                continue
            entries.append(entry)
            buffers.append(payload)
        with self._lock:
            self.served += sum(1 for e in entries if "error" not in e)
            self.failed += sum(1 for e in entries if "error" in e)
        return {"type": "tiles", "format": fmt, "tiles": entries}, buffers


def _tile_ref(t: Any) -> dict[str, Any]:
    if not isinstance(t, dict):
        raise TileError(f"a tile is an object with level, ty, tx; got {t!r}")
    try:
        return {"level": int(t["level"]), "ty": int(t["ty"]), "tx": int(t["tx"])}
    except (KeyError, TypeError, ValueError):
        raise TileError(f"a tile is an object with level, ty, tx; got {t!r}") from None


def _safe_ref(t: Any) -> dict[str, Any]:
    try:
        return _tile_ref(t)
    except TileError:
        return {"level": None, "ty": None, "tx": None}

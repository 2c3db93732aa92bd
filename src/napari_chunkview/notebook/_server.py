"""A small HTTP tile server on 127.0.0.1, in daemon threads of the kernel process.

Why: the kernel handles widget (comm) messages on its shell thread, which is busy while a
cell runs, so comm-borne tile requests wait for the cell to finish; and a browser ↔ kernel
round trip through jupyter_server costs tens of milliseconds (no ``TCP_NODELAY`` on the
kernel websocket). This server answers on its own threads, on loopback only, and each
widget's endpoint is reachable only under an unguessable token (the browser gets it from
the widget's state). When the browser cannot reach it (a remote kernel), the widget falls
back to comm messages (see ``_widget.py``).

Protocol: ``GET /<token>/ping`` → ``{"ok": true}``; ``POST /<token>/msg`` with a JSON
body → ``application/octet-stream``: a little-endian ``uint32`` header length, the JSON
header (``handle``'s reply, each tile entry with ``offset`` and ``length`` into the
rest), then the tile payloads.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import struct
import threading
import weakref
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], tuple[dict[str, Any], list[bytes]]]
#: Request bodies larger than this are refused.
MAX_BODY = 1 << 20
#: Set to "0" to never start the server (tiles then go through comm messages).
ENV_DISABLE = "CHUNKVIEW_TILE_SERVER"


class _Endpoint:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler


_ENDPOINTS: weakref.WeakValueDictionary[str, _Endpoint] = weakref.WeakValueDictionary()
_SERVER: ThreadingHTTPServer | None = None
_LOCK = threading.Lock()


def pack(header: dict[str, Any], buffers: list[bytes]) -> bytes:
    """Header + buffers → one body (offsets written into the header's tile entries)."""
    offset = 0
    entries = header.get("tiles") or []
    for entry, buf in zip(entries, buffers, strict=False):
        entry["offset"], entry["length"] = offset, len(buf)
        offset += len(buf)
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    return b"".join([struct.pack("<I", len(head)), head, *buffers])


def unpack(body: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """The inverse of ``pack`` (tests, benchmarks)."""
    (n,) = struct.unpack_from("<I", body)
    header = json.loads(body[4 : 4 + n])
    rest = memoryview(body)[4 + n :]
    buffers = [
        bytes(rest[e["offset"] : e["offset"] + e["length"]]) for e in header.get("tiles") or []
    ]
    return header, buffers


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many requests
    server_version = "chunkview-tiles"

    def setup(self) -> None:
        super().setup()
        # header and body go out in one write below; no Nagle delay on small replies
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("tile server: " + format, *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Access-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Private-Network: true\r\n"
            "Cache-Control: no-store\r\n\r\n"
        ).encode("latin-1")
        self.wfile.write(head + body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _endpoint(self) -> tuple[_Endpoint | None, str]:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 2:
            return None, ""
        return _ENDPOINTS.get(parts[0]), parts[1]

    def do_OPTIONS(self) -> None:  # CORS / private-network preflight
        head = (
            "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Methods: GET, POST\r\n"
            "Access-Control-Allow-Headers: Content-Type\r\n"
            "Access-Control-Allow-Private-Network: true\r\nContent-Length: 0\r\n\r\n"
        ).encode("latin-1")
        self.wfile.write(head)

    def do_GET(self) -> None:
        endpoint, action = self._endpoint()
        if endpoint is None:
            self._json(404, {"error": "no such widget"})
        elif action == "ping":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": f"unknown action {action!r}"})

    def do_POST(self) -> None:
        endpoint, action = self._endpoint()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            # drain a body of known size (so the client sees the answer), then hang up
            left = length if 0 < length <= 64 * MAX_BODY else 0
            while left > 0:
                got = len(self.rfile.read(min(left, 65536)))
                if not got:
                    break
                left -= got
            self.close_connection = True
            self._json(413, {"error": "request body missing or too large"})
            return
        body = self.rfile.read(length)
        if endpoint is None:
            self._json(404, {"error": "no such widget"})
            return
        if action != "msg":
            self._json(404, {"error": f"unknown action {action!r}"})
            return
        try:
            msg = json.loads(body)
        except ValueError as e:
            self._json(400, {"error": f"not JSON: {e}"})
            return
        try:
            header, buffers = endpoint.handler(msg)
            out = pack(header, buffers)
        except Exception as e:  # handlers answer errors themselves; this is a last resort
            log.exception("tile server handler failed")
            self._json(500, {"error": f"{type(e).__name__}: {e}"})
            return
        self._send(200, out, "application/octet-stream")


def _server() -> ThreadingHTTPServer:
    global _SERVER
    with _LOCK:
        if _SERVER is None:
            srv = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
            srv.daemon_threads = True
            threading.Thread(
                target=srv.serve_forever, name="chunkview-tile-server", daemon=True
            ).start()
            _SERVER = srv
        return _SERVER


def enabled() -> bool:
    return os.environ.get(ENV_DISABLE, "1").strip().lower() not in ("0", "false", "no", "off")


def register(handler: Handler) -> tuple[str, Any]:
    """Serve ``handler`` under a new token: ``(base URL, keep-alive object)``. The
    endpoint lives as long as the returned object is referenced."""
    endpoint = _Endpoint(handler)
    token = secrets.token_urlsafe(24)
    _ENDPOINTS[token] = endpoint
    port = _server().server_address[1]
    return f"http://127.0.0.1:{port}/{token}", endpoint


def unregister(url: str) -> None:
    _ENDPOINTS.pop(url.rstrip("/").rsplit("/", 1)[-1], None)


def shutdown() -> None:
    """Stop the server (tests); the next ``register`` starts a new one."""
    global _SERVER
    with _LOCK:
        srv, _SERVER = _SERVER, None
    if srv is not None:
        srv.shutdown()
        srv.server_close()

"""A real HTTP server on 127.0.0.1 that fails on purpose, per request path.

It either serves a folder from disk (answering ``Range`` like object stores do) or
forwards every request to an upstream server (moto's S3 server: a fault-injecting proxy,
so a real s3fs client talks to a real S3 implementation). Faults are scripted per path
pattern (``fnmatch``, ``*`` crosses ``/``): an error status (N times, or always), a hang
(for T s, or until the server stops), a connection dropped mid-body, a slow body, a
short answer with a consistent ``Content-Length``, a range answer of the wrong length,
or wrong bytes. ``hits`` counts the requests per (method, path), faulty or not.
"""

from __future__ import annotations

import fnmatch
import http.client
import http.server
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: What an S3 client expects in an error body (botocore reads the code from it).
_S3_CODES = {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError", 503: "SlowDown"}
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass
class Fault:
    """What to do with requests whose path matches ``pattern``.

    ``kind``: ``"status"`` (answer ``status``), ``"hang"`` (say nothing for ``seconds``,
    0 = until the server stops, then answer normally), ``"drop"`` (send the headers and
    ``keep`` bytes of the body, then close the connection), ``"slow"`` (send the body in
    ``piece``-byte pieces ``seconds`` apart), ``"short"`` (send the first ``keep`` bytes
    with a matching ``Content-Length``), ``"long"`` (append ``keep`` bytes), ``"corrupt"``
    (same length, every byte flipped). ``times``: how many matching requests fail
    (``None``: all of them).
    """

    pattern: str
    kind: str = "status"
    status: int = 500
    times: int | None = None
    seconds: float = 0.0
    keep: int = 0
    piece: int = 64
    methods: tuple[str, ...] = ("GET",)

    def matches(self, method: str, path: str) -> bool:
        return (
            method in self.methods
            and (self.times is None or self.times > 0)
            and fnmatch.fnmatchcase(path, self.pattern)
        )


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class FaultyServer:
    """``FaultyServer(root=folder)`` or ``FaultyServer(upstream="http://host:port")``."""

    def __init__(self, root: Path | None = None, upstream: str | None = None) -> None:
        assert (root is None) != (upstream is None)
        self.root = root
        self.upstream = urlsplit(upstream) if upstream else None
        self.faults: list[Fault] = []
        self.hits: Counter[tuple[str, str]] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- scripting ------------------------------------------------------------------------
    def add(self, *faults: Fault) -> FaultyServer:
        with self._lock:
            self.faults.extend(faults)
        return self

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.hits.clear()

    def count(self, pattern: str, method: str = "GET") -> int:
        with self._lock:
            return sum(
                n
                for (m, p), n in self.hits.items()
                if m == method and fnmatch.fnmatchcase(p, pattern)
            )

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.hits[(method, path)] += 1
            for f in self.faults:
                if f.matches(method, path):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real object stores
    server_owner: FaultyServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- the normal answer --------------------------------------------------------------
    def _normal(self, body_in: bytes) -> Answer:
        owner = self.server_owner
        if owner.upstream is not None:
            return self._forward(body_in)
        assert owner.root is not None
        rel = urlsplit(self.path).path.lstrip("/")
        file = (owner.root / rel).resolve()
        if owner.root.resolve() not in file.parents or not file.is_file():
            return Answer(404, [("Content-Type", "text/plain")], b"not found")
        data = file.read_bytes()
        rng = self.headers.get("Range")
        if not rng or not rng.startswith("bytes="):
            return Answer(200, [("Content-Type", "application/octet-stream")], data)
        first, _, last = rng[6:].partition("-")
        if first:
            start, end = int(first), min(len(data), int(last) + 1 if last else len(data))
        else:
            start, end = max(0, len(data) - int(last)), len(data)
        if start >= len(data) and len(data) > 0:
            return Answer(416, [("Content-Range", f"bytes */{len(data)}")], b"")
        return Answer(
            206,
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Range", f"bytes {start}-{end - 1}/{len(data)}"),
            ],
            data[start:end],
        )

    def _forward(self, body_in: bytes) -> Answer:
        up = self.server_owner.upstream
        assert up is not None
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            conn.request(self.command, self.path, body=body_in or None, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
            return Answer(resp.status, kept, body)
        finally:
            conn.close()

    # -- faults -------------------------------------------------------------------------
    def _handle(self) -> None:
        owner = self.server_owner
        n = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(n) if n else b""
        path = urlsplit(self.path).path
        fault = owner._take(self.command, path)
        try:
            if fault is None:
                self._send(self._normal(body_in))
            elif fault.kind == "status":
                self._send(self._error(fault.status))
            elif fault.kind == "hang":
                owner.stopping.wait(fault.seconds or None)
                if owner.stopping.is_set():
                    self.close_connection = True
                    return
                self._send(self._normal(body_in))
            else:
                self._send_faulty(fault, self._normal(body_in))
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            self.close_connection = True

    def _error(self, status: int) -> Answer:
        if self.server_owner.upstream is not None:  # speak S3
            code = _S3_CODES.get(status, str(status))
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>injected {status}</Message></Error>"
            ).encode()
            return Answer(status, [("Content-Type", "application/xml")], body)
        return Answer(status, [("Content-Type", "text/plain")], f"injected {status}".encode())

    def _send(self, a: Answer, length: int | None = None, body: bytes | None = None) -> None:
        self.send_response(a.status)
        for k, v in a.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(a.body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(a.body if body is None else body)
        self.wfile.flush()

    def _send_faulty(self, f: Fault, a: Answer) -> None:
        if a.status >= 300:  # nothing to damage
            self._send(a)
            return
        body = a.body
        if f.kind == "short":
            self._send(a, len(body[: f.keep]), body[: f.keep])
        elif f.kind == "long":
            self._send(a, len(body) + f.keep, body + bytes(f.keep))
        elif f.kind == "corrupt":
            self._send(a, body=bytes(b ^ 0xFF for b in body))
        elif f.kind == "drop":
            self._send(a, len(body), body[: f.keep])  # promise it all, send a part...
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # ...and hang up
        elif f.kind == "slow":
            self._send(a, len(body), b"")
            for i in range(0, len(body), f.piece):
                if self.server_owner.stopping.wait(f.seconds):
                    break
                self.wfile.write(body[i : i + f.piece])
                self.wfile.flush()
        else:
            raise ValueError(f"unknown fault {f.kind!r}")


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` (for server-side counts that land
    just after the client returned)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False

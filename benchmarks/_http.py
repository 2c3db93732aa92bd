"""A static file server on 127.0.0.1 that adds a fixed latency to every request.

    python benchmarks/_http.py ROOT LATENCY_MS   # prints "PORT <n>" on its first line

Serves GET and HEAD with ``Range`` (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``), HTTP/1.1
keep-alive, one thread per connection, so concurrent requests overlap their latency as they
would against a real object store. ``GET /_bench/stats`` (no latency) returns the request
counts as JSON; ``GET /_bench/reset`` zeroes them.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.requests = self.not_found = self.ranged = self.bytes = 0
            self.in_flight = self.max_in_flight = 0


def make_handler(root: str, latency_s: float, stats: _Stats) -> type[BaseHTTPRequestHandler]:
    root = os.path.realpath(root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers + body in two writes meet delayed ACKs

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/octet-stream",
                  extra: dict[str, str] | None = None, head: bool = False) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            # end_headers by hand so that headers and body leave in one write
            self._headers_buffer.append(b"\r\n")
            if not head:
                self._headers_buffer.append(body)
            self.flush_headers()

        def _serve(self, head: bool) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/_bench/"):
                if url.path == "/_bench/reset":
                    stats.reset()
                with stats.lock:
                    doc = {k: getattr(stats, k) for k in
                           ("requests", "not_found", "ranged", "bytes", "max_in_flight")}
                self._send(200, json.dumps(doc).encode(), "application/json", head=head)
                return
            with stats.lock:
                stats.requests += 1
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            try:
                time.sleep(latency_s)
                rel = unquote(url.path).lstrip("/")
                full = os.path.realpath(os.path.join(root, rel))
                if not (full == root or full.startswith(root + os.sep)) or not os.path.isfile(full):
                    with stats.lock:
                        stats.not_found += 1
                    self._send(404, b"not found", "text/plain", head=head)
                    return
                with open(full, "rb") as f:
                    data = f.read()
                rng = self.headers.get("Range")
                if rng:
                    m = _RANGE.match(rng.strip())
                    n = len(data)
                    if m and (m.group(1) or m.group(2)):
                        a, b = m.group(1), m.group(2)
                        if a == "":
                            start, stop = max(0, n - int(b)), n
                        else:
                            start, stop = int(a), (min(n, int(b) + 1) if b else n)
                        if start >= n:
                            self._send(416, b"", extra={"Content-Range": f"bytes */{n}"}, head=head)
                            return
                        body = data[start:stop]
                        with stats.lock:
                            stats.ranged += 1
                            stats.bytes += len(body)
                        self._send(206, body, extra={
                            "Content-Range": f"bytes {start}-{stop - 1}/{n}"}, head=head)
                        return
                with stats.lock:
                    stats.bytes += len(data)
                self._send(200, data, head=head)
            finally:
                with stats.lock:
                    stats.in_flight -= 1

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # listen() backlog: 5 would drop SYNs of a burst (1 s retries)


def serve(root: str, latency_ms: float) -> None:
    stats = _Stats()
    server = _Server(("127.0.0.1", 0), make_handler(root, latency_ms / 1e3, stats))
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]))

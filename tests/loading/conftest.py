"""Real servers on 127.0.0.1, started by the tests: plain HTTP and an S3-compatible one."""

from __future__ import annotations

import functools
import http.server
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .._s3 import moto_s3


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _QuietRangeHandler(_QuietHandler):
    """Answers ``Range`` requests like real object stores and web servers do."""

    def send_head(self):  # type: ignore[no-untyped-def]
        rng = self.headers.get("Range")
        if not rng or not rng.startswith("bytes="):
            return super().send_head()
        path = self.translate_path(self.path)
        try:
            data = Path(path).read_bytes()
        except OSError:
            self.send_error(404)
            return None
        start_s, _, end_s = rng[6:].partition("-")
        if start_s:
            start, end = int(start_s), int(end_s) + 1 if end_s else len(data)
        else:
            start, end = max(0, len(data) - int(end_s)), len(data)
        body = data[start:end]
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io

        return io.BytesIO(body)


def _serve(root: Path, handler_cls: type) -> tuple[socketserver.ThreadingTCPServer, str]:
    handler = functools.partial(handler_cls, directory=str(root))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(params=["ranges", "no-ranges"])
def http_root(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """(folder served, its base URL): an HTTP server on a free loopback port that answers
    byte ranges, or (like Python's own http.server) ignores them."""
    root = tmp_path / "www"
    root.mkdir()
    cls = _QuietRangeHandler if request.param == "ranges" else _QuietHandler
    server, url = _serve(root, cls)
    try:
        yield root, url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on a free loopback port, with throw-away credentials."""
    with moto_s3(monkeypatch) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def compiled_reader() -> None:
    """The compiled reader of ``formats/_bulk``, built (fails the test when it cannot be)."""
    from napari_chunkview.formats import _bulk
    from napari_chunkview.loading import warm_up

    if not warm_up(timeout=300):
        pytest.fail(f"the compiled reader could not be built: {_bulk._state['error']!r}")

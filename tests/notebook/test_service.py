"""Tile requests → replies (both transports use ``TileService.handle``), and the loopback
tile server, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from napari_chunkview.model import Pyramid
from napari_chunkview.notebook import _server, _service
from napari_chunkview.notebook._geometry import layout_of
from napari_chunkview.notebook._render import ChannelSpec, render_tile
from napari_chunkview.notebook._service import MAX_TILES_PER_REQUEST, TileService


def request(tiles: list[Any], **extra: Any) -> dict[str, Any]:
    msg = {
        "type": "tiles",
        "id": 7,
        "tile_size": 128,
        "format": "raw",
        "local": True,
        "render": {
            "indices": {"z": 3},
            "channels": [
                {"index": 0, "color": "#FF00FF", "window": [400, 26000]},
                {"index": 1, "color": "#00FF00", "window": [400, 37000]},
            ],
        },
        "tiles": tiles,
    }
    msg.update(extra)
    return msg


def expected(sample: Pyramid, level: int, ty: int, tx: int, size: int = 128) -> np.ndarray:
    specs = [
        ChannelSpec(0, (1.0, 0.0, 1.0), (400.0, 26000.0)),
        ChannelSpec(1, (0.0, 1.0, 0.0), (400.0, 37000.0)),
    ]
    return render_tile(sample, layout_of(sample), level, ty, tx, size, {"z": 3}, specs)


def test_a_batch_answers_every_tile_with_its_level_and_pixels(sample: Pyramid) -> None:
    svc = TileService(sample, layout_of(sample))
    tiles = [
        {"level": 0, "ty": 1, "tx": 0},
        {"level": 2, "ty": 0, "tx": 0},
        {"level": 1, "ty": 0, "tx": 0},
        {"level": 0, "ty": 0, "tx": 1},
    ]
    header, buffers = svc.handle(request(tiles))
    assert header["id"] == 7 and header["type"] == "tiles" and len(buffers) == 4
    for t, entry, buf in zip(tiles, header["tiles"], buffers, strict=True):
        assert "error" not in entry
        assert (entry["level"], entry["ty"], entry["tx"]) == (t["level"], t["ty"], t["tx"])
        assert entry["format"] == "raw" and entry["mode"] == "RGB"
        img = np.frombuffer(buf, np.uint8).reshape(entry["h"], entry["w"], 3)
        assert np.array_equal(img, expected(sample, t["level"], t["ty"], t["tx"]))
    assert [(e["h"], e["w"]) for e in header["tiles"]] == [
        (128, 128),
        (64, 64),
        (128, 128),
        (128, 128),
    ]
    assert svc.served == 4 and svc.failed == 0


def test_png_when_not_local(sample: Pyramid) -> None:
    import io

    from PIL import Image

    svc = TileService(sample, layout_of(sample))
    header, buffers = svc.handle(
        request([{"level": 0, "ty": 0, "tx": 1}], format="auto", local=False)
    )
    assert header["format"] == "png" and header["tiles"][0]["format"] == "png"
    img = np.asarray(Image.open(io.BytesIO(buffers[0])))
    assert np.array_equal(img, expected(sample, 0, 0, 1))


def test_bad_tiles_are_answered_with_errors_next_to_good_ones(sample: Pyramid) -> None:
    svc = TileService(sample, layout_of(sample))
    tiles = [
        {"level": 9, "ty": 0, "tx": 0},
        {"level": 0, "ty": 0, "tx": 0},
        {"level": 0, "ty": 5, "tx": 0},
        {"level": "x"},
        "nonsense",
    ]
    header, buffers = svc.handle(request(tiles))
    errors = [e.get("error", "") for e in header["tiles"]]
    assert "level 9 does not exist" in errors[0]
    assert errors[1] == "" and len(buffers[1]) == 128 * 128 * 3
    assert "outside level 0" in errors[2]
    assert "a tile is an object" in errors[3] and "a tile is an object" in errors[4]
    assert [len(b) for i, b in enumerate(buffers) if i != 1] == [0, 0, 0, 0]
    assert svc.failed == 4


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        ("not a dict", "JSON object"),
        ({"type": "tiles", "id": 3}, "list of tiles"),
        (
            {
                "type": "tiles",
                "id": 3,
                "tiles": [{"level": 0, "ty": 0, "tx": 0}] * (MAX_TILES_PER_REQUEST + 1),
            },
            "at most",
        ),
        (request([{"level": 0, "ty": 0, "tx": 0}], tile_size=100), "tile size 100"),
        (request([{"level": 0, "ty": 0, "tx": 0}], format="webp"), "unknown tile format"),
        (
            request([{"level": 0, "ty": 0, "tx": 0}], render={"indices": 5, "channels": []}),
            "indices",
        ),
        (
            request(
                [{"level": 0, "ty": 0, "tx": 0}],
                render={"channels": [{"index": 5, "window": [0, 1]}]},
            ),
            "channel 5 out of range",
        ),
    ],
)
def test_malformed_requests_get_an_error_reply(sample: Pyramid, msg: Any, match: str) -> None:
    header, buffers = TileService(sample, layout_of(sample)).handle(msg)
    assert match in header["error"]
    assert header["id"] == (msg.get("id") if isinstance(msg, dict) else None)
    assert len(buffers) == len(header["tiles"])
    assert all(match in e["error"] for e in header["tiles"])


def test_a_slow_tile_times_out_without_holding_the_others(
    sample: Pyramid, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = _service.render_tile

    def slow(pyramid: Any, layout: Any, level: int, *args: Any) -> np.ndarray:
        if level == 2:
            release.wait(10)
        return real(pyramid, layout, level, *args)

    monkeypatch.setattr(_service, "render_tile", slow)
    svc = TileService(sample, layout_of(sample), timeout=0.5)
    t0 = time.monotonic()
    header, buffers = svc.handle(
        request([{"level": 2, "ty": 0, "tx": 0}, {"level": 1, "ty": 0, "tx": 0}])
    )
    took = time.monotonic() - t0
    release.set()
    assert 0.4 < took < 3
    assert "timed out" in header["tiles"][0]["error"] and buffers[0] == b""
    assert "error" not in header["tiles"][1] and len(buffers[1]) == 128 * 128 * 3


def test_a_failing_read_is_an_error_entry(sample: Pyramid, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> np.ndarray:
        raise OSError("disk on fire")

    monkeypatch.setattr(_service, "render_tile", broken)
    header, _ = TileService(sample, layout_of(sample)).handle(
        request([{"level": 0, "ty": 0, "tx": 0}])
    )
    assert header["tiles"][0]["error"] == "OSError: disk on fire"


def test_the_request_is_shown_to_the_inspector_hook_and_a_broken_hook_costs_nothing(
    sample: Pyramid,
) -> None:
    svc = TileService(sample, layout_of(sample))
    seen: list[Any] = []
    svc.on_request = seen.append
    svc.handle(request([{"level": 0, "ty": 0, "tx": 0}], view={"level": 0}))
    assert seen and seen[0]["view"] == {"level": 0}
    svc.on_request = lambda msg: 1 / 0
    header, _ = svc.handle(request([{"level": 0, "ty": 0, "tx": 0}]))
    assert "error" not in header["tiles"][0]


# -- the HTTP tile server -------------------------------------------------------------------------
@pytest.fixture
def endpoint(sample: Pyramid) -> Iterator[str]:
    svc = TileService(sample, layout_of(sample))
    url, keep = _server.register(svc.handle)
    yield url
    _server.unregister(url)
    del keep


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(f"{url}/msg", data=body, headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def test_http_round_trip(sample: Pyramid, endpoint: str) -> None:
    assert endpoint.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{endpoint}/ping", timeout=5) as r:
        assert json.loads(r.read()) == {"ok": True}
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    status, body, headers = post(
        endpoint,
        json.dumps(
            request([{"level": 0, "ty": 1, "tx": 1}, {"level": 7, "ty": 0, "tx": 0}])
        ).encode(),
    )
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    header, buffers = _server.unpack(body)
    assert header["id"] == 7
    img = np.frombuffer(buffers[0], np.uint8).reshape(128, 128, 3)
    assert np.array_equal(img, expected(sample, 0, 1, 1))
    assert "level 7 does not exist" in header["tiles"][1]["error"] and buffers[1] == b""


def test_http_errors_are_answered(endpoint: str) -> None:
    base = endpoint.rsplit("/", 1)[0]
    assert post(f"{base}/wrong-token", b"{}")[0] == 404
    assert post(endpoint, b"{not json")[0] == 400
    assert post(endpoint, b"x" * (_server.MAX_BODY + 1))[0] == 413
    status, body, _ = post(
        endpoint, b"[1, 2]"
    )  # valid JSON, not a request: answered by the service
    assert status == 200 and "JSON object" in _server.unpack(body)[0]["error"]
    req = urllib.request.Request(f"{endpoint}/ping", method="OPTIONS")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 204 and "POST" in r.headers["Access-Control-Allow-Methods"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{endpoint}/nothing", timeout=5)
    assert e.value.code == 404


def test_a_failing_handler_is_a_500_and_the_server_lives_on(endpoint: str) -> None:
    url, _keep = _server.register(lambda msg: 1 / 0)  # type: ignore[arg-type, return-value]
    try:
        status, body, _ = post(url, b"{}")
        assert status == 500 and b"ZeroDivisionError" in body
    finally:
        _server.unregister(url)
    with urllib.request.urlopen(f"{endpoint}/ping", timeout=5) as r:
        assert r.status == 200
    assert post(url, b"{}")[0] == 404  # unregistered


def test_concurrent_requests(sample: Pyramid, endpoint: str) -> None:
    def one(i: int) -> np.ndarray:
        t = {"level": 0, "ty": i % 2, "tx": (i // 2) % 2}
        _, body, _ = post(endpoint, json.dumps(request([t])).encode())
        _, buffers = _server.unpack(body)
        img = np.frombuffer(buffers[0], np.uint8).reshape(128, 128, 3)
        return np.array_equal(img, expected(sample, 0, t["ty"], t["tx"]))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(24)))


def test_an_endpoint_lives_as_long_as_its_keepalive(sample: Pyramid) -> None:
    import gc

    url, keep = _server.register(lambda msg: ({"type": "ok"}, []))
    assert post(url, b"{}")[0] == 200
    del keep
    gc.collect()
    assert post(url, b"{}")[0] == 404

"""The widget in the kernel, without a browser: traits, validation, the comm transport,
the inspector fed by the view, QC, and the light top-level import."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import traitlets

import napari_chunkview
from napari_chunkview.model import Pyramid, describe_chain
from napari_chunkview.notebook import ChunkViewer, view
from napari_chunkview.notebook._server import unpack


@pytest.fixture
def viewer(sample: Pyramid) -> Iterator[ChunkViewer]:
    w = view(sample, height=256, width=256)
    yield w
    w.close()


def tiles_msg(w: ChunkViewer, tiles: list[dict[str, int]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "tiles",
        "id": 1,
        "tile_size": w.tile_size,
        "format": "raw",
        "local": True,
        "render": {"indices": dict(w.indices), "channels": w.render_specs()},
        "tiles": tiles,
        **extra,
    }


def test_view_opens_a_path_and_describes_the_pyramid(sample_path: Path) -> None:
    w = napari_chunkview.view(str(sample_path), height=300, tile_size=128)
    try:
        assert isinstance(w, ChunkViewer) and w.height == 300 and w.tile_size == 128
        assert w.info["format"] == "zarr v3" and w.info["convention"] == "OME-NGFF 0.5"
        assert [lv["height"] for lv in w.info["layout"]["levels"]] == [256, 128, 64]
        assert w.indices == {"z": 4}
        assert [c["name"] for c in w.channels] == ["blobs", "shells"]
        assert w._tile_url.startswith("http://127.0.0.1:")
        assert "synthetic" in repr(w)
    finally:
        w.close()


def test_python_side_state_is_validated(viewer: ChunkViewer) -> None:
    viewer.set_index(z=7)
    assert viewer.indices == {"z": 7}
    with pytest.raises(traitlets.TraitError, match="out of range"):
        viewer.set_index(z=8)
    with pytest.raises(traitlets.TraitError, match="no slider"):
        viewer.set_index(t=0)
    with pytest.raises(traitlets.TraitError, match="integer"):
        viewer.indices = {"z": "top"}
    with pytest.raises(traitlets.TraitError, match="2 channel entries"):
        viewer.channels = viewer.channels[:1]
    with pytest.raises(Exception, match="not a colour"):
        viewer.set_color("blobs", "purple")
    with pytest.raises(traitlets.TraitError, match="tile_format"):
        viewer.tile_format = "gif"
    with pytest.raises(traitlets.TraitError, match="transport"):
        viewer.transport = "carrier pigeon"
    with pytest.raises(traitlets.TraitError, match="tile_size"):
        viewer.tile_size = 100
    with pytest.raises(KeyError, match="no channel 'dapi'"):
        viewer.set_window("dapi", 0, 1)
    viewer.set_window("shells", 100, 200)
    viewer.set_color(0, "#00FFFF")
    viewer.set_visible(0, False)
    assert viewer.channels[1]["window"] == [100.0, 200.0]
    assert viewer.channels[0]["color"] == "#00FFFF" and not viewer.channels[0]["visible"]
    assert viewer.render_specs() == [{"index": 1, "color": "#00FF00", "window": [100.0, 200.0]}]
    viewer.zoom_to(1.0, x=10, y=20)
    assert viewer.camera == {"x": 10.0, "y": 20.0, "scale": 1.0}
    viewer.fit()
    assert viewer.camera == {}


def test_tile_matches_what_the_service_sends(viewer: ChunkViewer) -> None:
    viewer.set_window(0, 500, 9000)
    header, buffers = viewer.handle(tiles_msg(viewer, [{"level": 1, "ty": 0, "tx": 0}]))
    entry = header["tiles"][0]
    img = np.frombuffer(buffers[0], np.uint8).reshape(entry["h"], entry["w"], 3)
    assert np.array_equal(img, viewer.tile(1, 0, 0))


def test_auto_contrast_sets_windows_from_the_coarsest_plane(viewer: ChunkViewer) -> None:
    before = [c["window"] for c in viewer.channels]
    viewer.auto_contrast()
    after = [c["window"] for c in viewer.channels]
    assert after != before and all(lo < hi for lo, hi in after)
    viewer.auto_contrast("blobs", percentiles=(0, 100))
    lvl = viewer.pyramid.levels[-1]
    plane = np.asarray(lvl.data[0, viewer.geometry.level_index(2, 1, viewer.indices["z"])])
    assert viewer.channels[0]["window"] == [float(plane.min()), float(plane.max())]


def test_comm_transport_replies_from_a_worker(
    viewer: ChunkViewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    done = threading.Event()

    def send(content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        sent.append((content, list(buffers or [])))
        done.set()

    monkeypatch.setattr(viewer, "send", send)
    viewer._on_msg(
        viewer,
        tiles_msg(viewer, [{"level": 2, "ty": 0, "tx": 0}, {"level": 3, "ty": 0, "tx": 0}], id=42),
        [],
    )
    assert done.wait(10)
    content, buffers = sent[0]
    assert content["id"] == 42 and content["type"] == "tiles"
    assert np.array_equal(
        np.frombuffer(buffers[0], np.uint8).reshape(64, 64, 3), viewer.tile(2, 0, 0)
    )
    assert "level 3 does not exist" in content["tiles"][1]["error"]
    # messages that are not for the tile path never raise either
    viewer._on_msg(viewer, {"type": "nonsense"}, [])
    viewer._on_msg(viewer, "not even a dict", [])
    reply = viewer.handle({"type": "nonsense", "id": 3})[0]
    assert reply["error"] == "unknown message type 'nonsense'"


def test_the_inspector_follows_the_view_and_the_cursor(
    viewer: ChunkViewer, sample: Pyramid
) -> None:
    insp = viewer.inspector
    assert insp is not None
    model = insp.model
    # levels table and codec chains come from the shared controller
    assert [r["codecs"] for r in model.levels] == [
        describe_chain(lv.codecs, lv.grid.shard_shape) for lv in sample.levels
    ]
    assert model.header["format"] == "zarr v3"
    # a view message (as the browser sends over either transport)
    reply, _ = viewer.handle(
        {
            "type": "view",
            "id": 5,
            "level": 0,
            "rows": [0, 256],
            "cols": [0, 128],
            "canvas": [256, 256],
            "view0": [256, 128],
            "render": {"indices": {"z": 2}},
        }
    )
    assert reply == {"type": "ok", "id": 5}
    state = viewer.controller.state
    assert state.level == 0 and state.box == ((0, 1), (2, 3), (0, 256), (0, 128))
    grid = model.grid
    assert grid["level"] == 0 and grid["nr"] == 2 and grid["nc"] == 1 and grid["n_chunks"] == 2
    # read those tiles: the tick turns the chunks of the view "loaded"
    viewer.handle(
        tiles_msg(
            viewer,
            [{"level": 0, "ty": 0, "tx": 0}, {"level": 0, "ty": 1, "tx": 0}],
            render={"indices": {"z": 2}, "channels": viewer.render_specs()},
        )
    )
    deadline = time.monotonic() + 5
    while set(model.grid["states"]) != {"2"}:
        assert time.monotonic() < deadline, model.grid
        time.sleep(0.05)
    assert "done" in " ".join(model.live["lines"])
    viewer.handle({"type": "hover", "level": 0, "row": 130.0, "col": 5.0})
    assert model.chunk["index"] == [0, 0, 1, 0] and not model.chunk["pinned"]
    viewer.handle({"type": "click", "level": 0, "row": 130.0, "col": 5.0})
    assert model.chunk["pinned"]
    viewer.handle({"type": "select_node", "path": "0"})
    assert model.attrs["title"].startswith("0 (array)")
    assert "error" in viewer.handle({"type": "view", "level": 9, "rows": [0, 1], "cols": [0, 1]})[0]


def test_tiles_over_the_viewers_http_endpoint(viewer: ChunkViewer) -> None:
    body = json.dumps(tiles_msg(viewer, [{"level": 0, "ty": 0, "tx": 0}])).encode()
    req = urllib.request.Request(f"{viewer._tile_url}/msg", data=body)
    with urllib.request.urlopen(req, timeout=10) as r:
        header, buffers = unpack(r.read())
    e = header["tiles"][0]
    img = np.frombuffer(buffers[0], np.uint8).reshape(e["h"], e["w"], 3)
    assert (e["h"], e["w"]) == (256, 256) and np.array_equal(img, viewer.tile(0, 0, 0))


def test_close_stops_the_endpoint_and_the_inspector(sample: Pyramid) -> None:
    w = view(sample)
    url = w._tile_url
    with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
        assert r.status == 200
    w.close()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{url}/ping", timeout=5)
    assert w.inspector is not None and w.inspector.controller.closed
    w.close()  # idempotent


def test_comm_only_and_without_inspector(sample: Pyramid, monkeypatch: pytest.MonkeyPatch) -> None:
    w = view(sample, transport="comm", inspector=False)
    try:
        assert w._tile_url == "" and w.inspector is None and w._inspector is None
        assert w.handle({"type": "hover", "level": 0, "row": 1, "col": 1})[0]["type"] == "ok"
    finally:
        w.close()
    monkeypatch.setenv("CHUNKVIEW_TILE_SERVER", "0")
    w = view(sample, inspector=False)
    try:
        assert w._tile_url == ""
    finally:
        w.close()


def test_qc_runs_and_fills_the_panel(viewer: ChunkViewer) -> None:
    run = viewer.run_qc()
    assert run.done.wait(120), "QC did not finish"
    assert run.report is not None, run.error
    qc = viewer.inspector.model.qc  # type: ignore[union-attr]
    assert qc["status"] == "done" and set(qc["summary"]) == {"error", "warning", "info"}
    assert qc["summary"]["error"] == 0


def test_importing_the_package_does_not_import_the_widget() -> None:
    code = (
        "import sys, napari_chunkview as n; assert 'anywidget' not in sys.modules; "
        "assert 'view' in dir(n); n.view; assert 'anywidget' in sys.modules; "
        "from napari_chunkview import *; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr

"""The notebook viewer in a real browser: JupyterLab + headless chromium, checks on the
canvas's pixels against tiles rendered here from the same data.

One JupyterLab, one page and one notebook for the module (starting them is most of the
cost); the tests run in order on that page. The notebook shows the sample pyramid twice:
``w`` (256×256 canvas, tiles over the kernel's loopback tile server, with the inspector)
and ``w2`` (128×128, tiles over widget messages, no inspector).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview._sample import write_sample_pyramid
from napari_chunkview.model import describe_chain

from ._lab import EXECUTE, EXECUTE_NOWAIT, Lab, chromium, open_and_run, write_notebook

SHAPE = (2, 16, 512, 512)  # levels 512², 256², 128²; z 16, 8, 4
SCREENSHOTS = Path("/tmp")


class Session:
    def __init__(self, page: Any, blocked: list[str], lab: Lab, path: Path) -> None:
        self.page, self.blocked, self.lab, self.path = page, blocked, lab, path
        self.pyramid = open_pyramid(path)
        from napari_chunkview.notebook._geometry import layout_of
        from napari_chunkview.notebook._render import default_channels

        self.layout = layout_of(self.pyramid)
        self.channels = default_channels(self.pyramid, self.layout, self.layout.default_indices())

    def py(self, code: str) -> str:
        """Run ``code`` in the notebook's kernel; its printed output."""
        return str(self.page.evaluate(EXECUTE, code))

    def root(self, nth: int) -> str:
        return f"document.querySelectorAll('.cv-root')[{nth}]"

    def dataset(self, nth: int = 0) -> dict[str, str]:
        return dict(self.page.evaluate(f"({{...{self.root(nth)}.dataset}})"))

    def wait_idle(
        self,
        nth: int = 0,
        rk_not: str | None = None,
        level: int | None = None,
        timeout: float = 20.0,
    ) -> dict[str, str]:
        cond = ["r.dataset.state === 'idle'"]
        if rk_not is not None:
            cond.append(f"r.dataset.rk !== '{rk_not}'")
        if level is not None:
            cond.append(f"r.dataset.level === '{level}'")
        self.page.wait_for_function(
            f"() => {{ const r = {self.root(nth)}; return !!r && {' && '.join(cond)}; }}",
            polling=100,
            timeout=timeout * 1000,
        )
        # a frame after the last tile arrived: the canvas holds it
        self.page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        return self.dataset(nth)

    def canvas(self, nth: int = 0) -> np.ndarray:
        from PIL import Image

        url = self.page.evaluate(
            f"{self.root(nth)}.querySelector('canvas.cv-canvas').toDataURL('image/png')"
        )
        data = base64.b64decode(url.split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def expected(
        self,
        level: int,
        rows: tuple[int, int],
        cols: tuple[int, int],
        z0: int,
        channels: list[dict[str, Any]] | None = None,
    ) -> np.ndarray:
        """The composite of ``level`` over ``rows`` × ``cols`` at level-0 plane ``z0``,
        computed here from the data (RGB uint8)."""
        from napari_chunkview.notebook._render import (
            ChannelSpec,
            composite,
            parse_color,
            read_planes,
        )

        specs = [
            ChannelSpec(c["index"], parse_color(c["color"]), tuple(c["window"]))
            for c in (channels or self.channels)
            if c.get("visible", True)
        ]
        planes = read_planes(self.pyramid, self.layout, level, (*rows, *cols), {"z": z0}, specs)
        return composite(planes, specs)

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"chunkview-{name}.png"))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    base = tmp_path_factory.mktemp("browser")
    work = base / "work"
    work.mkdir()
    path = write_sample_pyramid(work / "sample.ome.zarr", shape=SHAPE)
    write_notebook(
        work / "viewer.ipynb",
        [
            "from napari_chunkview import view\n"
            f"w = view({str(path)!r}, height=256, width=256)\nw",
            f"w2 = view({str(path)!r}, height=128, width=128, transport='comm', "
            "inspector=False)\nw2",
        ],
    )
    with Lab(work, base / "private") as lab, chromium() as (page, blocked):
        open_and_run(page, lab, "viewer.ipynb")
        s = Session(page, blocked, lab, path)
        s.wait_idle(0, timeout=60)
        yield s
        assert not blocked, f"requests that left the machine: {blocked}"


def test_fit_view_shows_the_right_level_with_exact_values(session: Session) -> None:
    ds = session.wait_idle(0, level=1)
    # 256×256 canvas, 512×512 image: fit = 0.5 screen px per level-0 px → level 1 at 1:1
    assert ds["transport"] == "http"
    got = session.canvas(0)
    assert got.shape == (256, 256, 3)
    want = session.expected(1, (0, 256), (0, 256), z0=SHAPE[1] // 2)
    assert np.array_equal(got, want), f"{np.count_nonzero((got != want).any(-1))} pixels differ"
    # the page tells Python its status 200 ms after it settles (debounced): poll for it
    deadline = time.monotonic() + 20
    while (got_py := session.py("print(w.level, w.status.get('transport'))").split()) != [
        "1", "http"
    ] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert got_py == ["1", "http"]
    session.screenshot("fit")


def test_comm_transport_fallback_shows_exact_values(session: Session) -> None:
    ds = session.wait_idle(1, level=2)
    assert ds["transport"] == "comm"
    got = session.canvas(1)
    want = session.expected(2, (0, 128), (0, 128), z0=SHAPE[1] // 2)
    assert np.array_equal(got, want)


def test_sliders_sync_both_ways_and_repaint(session: Session) -> None:
    # Python → browser
    rk = session.dataset(0)["rk"]
    assert session.py("w.set_index(z=3); print(w.indices['z'])").strip() == "3"
    session.wait_idle(0, rk_not=rk)
    assert (
        session.page.evaluate(f"{session.root(0)}.querySelector('input[data-axis=z]').value") == "3"
    )
    assert np.array_equal(session.canvas(0), session.expected(1, (0, 256), (0, 256), z0=3))
    # browser → Python: two steps of the z slider with the keyboard
    rk = session.dataset(0)["rk"]
    slider = session.page.locator(".cv-root >> nth=0").locator("input[data-axis=z]")
    slider.focus()
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    session.wait_idle(0, rk_not=rk)
    assert np.array_equal(session.canvas(0), session.expected(1, (0, 256), (0, 256), z0=5))
    deadline = time.monotonic() + 10
    while session.py("print(w.indices['z'])").strip() != "5":
        assert time.monotonic() < deadline, "the slider's value never reached Python"
        time.sleep(0.2)
    # contrast from Python repaints with the new window
    rk = session.dataset(0)["rk"]
    session.py("w.set_window('blobs', 1000, 5000)")
    session.wait_idle(0, rk_not=rk)
    chans = [dict(c) for c in session.channels]
    chans[0]["window"] = [1000.0, 5000.0]
    assert np.array_equal(
        session.canvas(0), session.expected(1, (0, 256), (0, 256), z0=5, channels=chans)
    )
    session.py(f"w.set_window('blobs', *{session.channels[0]['window']!r})")


def test_zoom_to_1_to_1_loads_level_0(session: Session) -> None:
    rk = session.dataset(0)["rk"]
    session.page.locator(".cv-root >> nth=0").get_by_role("button", name="1:1").click()
    session.wait_idle(0, level=0)
    assert session.dataset(0)["rk"] == rk  # same slice and contrast, another level
    # one level-0 pixel per screen pixel around the centre (256, 256)
    got = session.canvas(0)
    want = session.expected(0, (128, 384), (128, 384), z0=5)
    assert np.array_equal(got, want)
    assert session.py("print(w.level)").strip() == "0"
    session.screenshot("one-to-one")


def test_drag_pans_by_the_dragged_distance(session: Session) -> None:
    box = session.page.locator(".cv-root >> nth=0").locator("canvas.cv-canvas").bounding_box()
    assert box is not None
    before = session.canvas(0)
    x0, y0 = box["x"] + 200, box["y"] + 200
    dx, dy = -40, -24  # drag up-left: the image follows the pointer
    mouse = session.page.mouse
    mouse.move(x0, y0)
    mouse.down()
    mouse.move(x0 + dx / 2, y0 + dy / 2, steps=3)
    mouse.move(x0 + dx, y0 + dy, steps=3)
    mouse.up()
    session.wait_idle(0, level=0)
    after = session.canvas(0)
    # what was at (y, x) is now at (y + dy, x + dx)
    assert np.array_equal(after[: 256 + dy, : 256 + dx], before[-dy:, -dx:])
    want = session.expected(0, (128 - dy, 384 - dy), (128 - dx, 384 - dx), z0=5)
    assert np.array_equal(after, want)
    deadline = time.monotonic() + 10
    while True:  # the camera reaches Python (debounced)
        cam = [
            float(v)
            for v in session.py("print(w.camera['x'], w.camera['y'], w.camera['scale'])").split()
        ]
        if cam == [256 - dx, 256 - dy, 1.0] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert cam == [256 - dx, 256 - dy, 1.0]


def test_tiles_keep_coming_while_another_cell_runs(session: Session) -> None:
    page = session.page
    page.evaluate(EXECUTE_NOWAIT, "import time; time.sleep(6)")
    time.sleep(0.3)  # the cell has started
    rk = session.dataset(0)["rk"]
    t0 = time.monotonic()
    slider = page.locator(".cv-root >> nth=0").locator("input[data-axis=z]")
    slider.focus()
    slider.press("ArrowLeft")  # z 5 → 4: new tiles, asked while the kernel is busy
    session.wait_idle(0, rk_not=rk, timeout=5)
    took = time.monotonic() - t0
    assert not page.evaluate("window._busyDone"), "the cell was over before the tiles came"
    assert took < 5, took
    want = session.expected(0, (128 + 24, 384 + 24), (128 + 40, 384 + 40), z0=4)
    assert np.array_equal(session.canvas(0), want)
    page.evaluate("window._busy.done")
    # the slider's value reaches Python once the cell is done
    deadline = time.monotonic() + 10
    while session.py("print(w.indices['z'])").strip() != "4":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_metadata_panel_shows_the_codec_chain(session: Session) -> None:
    root = session.page.locator(".cv-root >> nth=0")
    root.get_by_role("button", name="Metadata").click()
    codecs = root.locator("[data-panel=metadata] td.cv-codec")
    want = [describe_chain(lv.codecs, lv.grid.shard_shape) for lv in session.pyramid.levels]
    assert want[0].startswith("bytes(le) → zstd(")
    assert "inside sharding(" in want[0]
    session.page.wait_for_function(
        "() => document.querySelectorAll('.cv-root')[0]"
        ".querySelectorAll('[data-panel=metadata] td.cv-codec').length === 3",
        polling=100,
        timeout=10000,
    )
    assert codecs.all_inner_texts() == want
    text = root.locator("[data-panel=metadata]").inner_text()
    assert "zarr v3" in text and "OME-NGFF 0.5" in text
    # the chunk map of the view: level 0, every chunk in view loaded
    root.get_by_role("button", name="Chunks").click()
    session.page.wait_for_function(
        "() => { const g = document.querySelector('.cv-root [data-panel=chunks]');"
        " return g && /Level 0:/.test(g.textContent); }",
        polling=200,
        timeout=10000,
    )
    session.screenshot("inspector")

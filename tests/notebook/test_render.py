"""Canvas layout and tile rendering, checked against the raw data (no widget)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from napari_chunkview.model import Channel, Pyramid
from napari_chunkview.notebook._encode import choose_format, encode, encode_png
from napari_chunkview.notebook._geometry import layout_of
from napari_chunkview.notebook._render import (
    ChannelSpec,
    TileError,
    auto_window,
    default_channels,
    parse_channels,
    parse_color,
    render_tile,
)

from .conftest import SAMPLE_SHAPE, make_pyramid


def reference(
    raw: np.ndarray, windows: list[tuple[float, float]], colors: list[tuple[int, int, int]] | None
) -> np.ndarray:
    """The documented maths, written out independently: (C, h, w) raw → uint8."""
    acc = None
    for c, (lo, hi) in enumerate(windows):
        n = np.clip((raw[c].astype(np.float64) - lo) / (hi - lo), 0, 1)
        n = np.where(np.isnan(n), 0.0, n)
        term = n if colors is None else n[..., None] * (np.array(colors[c]) / 255.0)
        acc = term if acc is None else acc + term
    assert acc is not None
    return np.rint(np.clip(acc, 0, 1) * 255).astype(np.uint8)


# -- layout ----------------------------------------------------------------------------------
def test_layout_of_the_sample(sample: Pyramid) -> None:
    lay = layout_of(sample)
    assert (lay.rows, lay.cols, lay.channel_axis, lay.composite) == (2, 3, 0, True)
    assert [s.name for s in lay.sliders] == ["z"]
    assert [lv.factor for lv in lay.levels] == [(1.0, 1.0), (2.0, 2.0), (4.0, 4.0)]
    # OME-NGFF translations centre each coarse pixel on the block it averages: every
    # level's first pixel edge sits on level 0's
    assert all(lv.origin == pytest.approx((0.0, 0.0)) for lv in lay.levels)
    assert [(lv.height, lv.width) for lv in lay.levels] == [(256, 256), (128, 128), (64, 64)]
    assert lay.default_indices() == {"z": SAMPLE_SHAPE[1] // 2}  # omero rdefs.defaultZ
    info = lay.to_json()
    assert info["unit"] == "micrometer" and info["pixel_size"] == [0.25, 0.25]


def test_level_index_is_the_nearest_plane_in_world_coordinates(sample: Pyramid) -> None:
    lay = layout_of(sample)
    for level in range(len(sample.levels)):
        lv = sample.levels[level]
        planes = lv.translation[1] + lv.scale[1] * np.arange(lv.shape[1])
        for z0 in range(SAMPLE_SHAPE[1]):
            world = sample.levels[0].translation[1] + sample.levels[0].scale[1] * z0
            nearest = int(np.argmin(np.abs(planes - world) + 1e-9 * np.arange(lv.shape[1])))
            assert lay.level_index(level, 1, z0) == nearest, (level, z0)


def test_layout_without_centring_translation_shifts_the_origin() -> None:
    data = np.zeros((64, 64), np.uint8)
    pyr = make_pyramid([data, data[::2, ::2]], [("y", "space"), ("x", "space")])
    lay = layout_of(pyr)
    assert lay.levels[1].factor == (2.0, 2.0)
    assert lay.levels[1].origin == (-0.5, -0.5)  # pixel centres coincide at 0
    assert lay.sliders == () and lay.channel_axis is None and not lay.composite


def test_many_channels_become_a_slider_and_1d_is_refused() -> None:
    data = np.zeros((8, 16, 16), np.uint16)
    lay = layout_of(make_pyramid([data], [("c", "channel"), ("y", "space"), ("x", "space")]))
    assert not lay.composite and [s.name for s in lay.sliders] == ["c"]
    assert lay.default_indices() == {"c": 0}
    with pytest.raises(ValueError, match="two axes"):
        layout_of(make_pyramid([np.zeros(8)], [("x", "space")]))


# -- tiles --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("level", "ty", "tx", "size"),
    [(0, 0, 0, 128), (0, 1, 1, 128), (1, 0, 0, 256), (2, 0, 0, 64), (0, 2, 3, 64)],
)
def test_composite_tiles_match_the_raw_data(
    sample: Pyramid, level: int, ty: int, tx: int, size: int
) -> None:
    lay = layout_of(sample)
    chans = default_channels(sample, lay, {"z": 5})
    specs = [ChannelSpec(c["index"], parse_color(c["color"]), tuple(c["window"])) for c in chans]
    img = render_tile(sample, lay, level, ty, tx, size, {"z": 5}, specs)
    lv = sample.levels[level]
    y0, x0 = ty * size, tx * size
    y1, x1 = min(y0 + size, lv.shape[2]), min(x0 + size, lv.shape[3])
    z = lay.level_index(level, 1, 5)
    raw = np.asarray(lv.data[:, z, y0:y1, x0:x1])  # the dask path, not the tile path
    colors = [(255, 0, 255), (0, 255, 0)]  # the sample's omero colours
    assert img.shape == (y1 - y0, x1 - x0, 3) and img.dtype == np.uint8
    assert np.array_equal(img, reference(raw, [tuple(c["window"]) for c in chans], colors))


def test_one_white_channel_is_grey_and_one_coloured_channel_is_rgb(sample: Pyramid) -> None:
    lay = layout_of(sample)
    white = [ChannelSpec(1, (1.0, 1.0, 1.0), (400.0, 30000.0))]
    img = render_tile(sample, lay, 1, 0, 0, 128, {"z": 2}, white)
    raw = np.asarray(sample.levels[1].data[1:2, 1, :128, :128])
    assert img.shape == (128, 128)
    assert np.array_equal(img, reference(raw, [(400.0, 30000.0)], None))
    green = [ChannelSpec(1, (0.0, 1.0, 0.0), (400.0, 30000.0))]
    rgb = render_tile(sample, lay, 1, 0, 0, 128, {"z": 2}, green)
    assert rgb.shape == (128, 128, 3)
    assert not rgb[..., 0].any() and not rgb[..., 2].any()
    assert np.array_equal(rgb[..., 1], img)


def test_float_data_nan_reads_black_and_windows_default_to_the_coarsest_level() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(10, 3, size=(40, 50)).astype(np.float32)
    data[3, 4] = np.nan
    pyr = make_pyramid([data, data[::2, ::2]], [("y", "space"), ("x", "space")])
    lay = layout_of(pyr)
    (ch,) = default_channels(pyr, lay, {})
    coarse = data[::2, ::2]
    assert ch["window"] == pytest.approx([np.nanmin(coarse), np.nanmax(coarse)])
    assert ch["color"] == "#FFFFFF" and ch["range"][0] < ch["window"][0]
    spec = [ChannelSpec(0, (1, 1, 1), tuple(ch["window"]))]
    img = render_tile(pyr, lay, 0, 0, 0, 64, {}, spec)
    assert img.shape == (40, 50) and img[3, 4] == 0
    assert np.array_equal(img, reference(data[None], [tuple(ch["window"])], None))


def test_channel_slider_mode_reads_the_selected_channel() -> None:
    data = np.arange(8 * 16 * 16, dtype=np.uint16).reshape(8, 16, 16)
    pyr = make_pyramid([data], [("c", "channel"), ("y", "space"), ("x", "space")])
    lay = layout_of(pyr)
    spec = [ChannelSpec(5, (1, 1, 1), (0.0, 2047.0))]
    img = render_tile(pyr, lay, 0, 0, 0, 64, {"c": 5}, spec)
    assert np.array_equal(img, reference(data[5:6], [(0.0, 2047.0)], None))


def test_defaults_from_metadata(sample: Pyramid) -> None:
    lay = layout_of(sample)
    chans = default_channels(sample, lay, lay.default_indices())
    assert [c["name"] for c in chans] == ["blobs", "shells"]
    assert [c["color"] for c in chans] == ["#FF00FF", "#00FF00"]
    assert [tuple(c["window"]) for c in chans] == [ch.window for ch in sample.channels]
    assert all(c["range"] == [0.0, 65535.0] for c in chans)


def test_auto_window_reads_only_the_coarsest_level(sample: Pyramid) -> None:
    from napari_chunkview.loading import EVENTS

    lay = layout_of(sample)
    seen: list[str] = []
    unsubscribe = EVENTS.subscribe(lambda ev: seen.append(ev.source))
    try:
        lo, hi = auto_window(sample, lay, 0, {"z": 3})
    finally:
        unsubscribe()
    assert lo < hi
    coarse = sample.levels[-1].array.name
    assert seen and set(seen) == {coarse}
    plane = np.asarray(sample.levels[-1].data[0, lay.level_index(2, 1, 3)]).astype(float)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(plane, [0.5, 99.5])))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p, lay: render_tile(p, lay, 3, 0, 0, 64, {"z": 0}, SPEC), "level 3 does not exist"),
        (lambda p, lay: render_tile(p, lay, 0, 9, 0, 64, {"z": 0}, SPEC), "outside level 0"),
        (lambda p, lay: render_tile(p, lay, 0, -1, 0, 64, {"z": 0}, SPEC), "outside level 0"),
        (lambda p, lay: render_tile(p, lay, 0, 0, 0, 64, {"z": 99}, SPEC), "out of range"),
        (lambda p, lay: render_tile(p, lay, 0, 0, 0, 64, {"z": "x"}, SPEC), "bad index"),
        (
            lambda p, lay: parse_channels([{"index": 7, "window": [0, 1]}], lay),
            "channel 7 out of range",
        ),
        (lambda p, lay: parse_channels([{"index": 0, "window": [0, math.inf]}], lay), "not finite"),
        (lambda p, lay: parse_channels([{"index": 0}], lay), "bad channel"),
        (lambda p, lay: parse_channels([], lay), "at least one channel"),
        (
            lambda p, lay: parse_channels([{"index": 0, "window": [0, 1], "color": "#12"}], lay),
            "not a colour",
        ),
    ],
)
def test_bad_requests_raise_tile_errors(sample: Pyramid, call: object, match: str) -> None:
    with pytest.raises(TileError, match=match):
        call(sample, layout_of(sample))  # type: ignore[operator]


SPEC = [ChannelSpec(0, (1.0, 0.0, 1.0), (0.0, 1000.0))]


def test_an_inverted_window_is_made_valid(sample: Pyramid) -> None:
    (spec,) = parse_channels([{"index": 0, "window": [5, 5], "color": "fff"}], layout_of(sample))
    assert spec.window[1] > spec.window[0] and spec.color == (1.0, 1.0, 1.0)


# -- encodings ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (256, 256), (7, 5, 3), (256, 200, 3)])
def test_png_round_trips_exactly(shape: tuple[int, ...]) -> None:
    from PIL import Image

    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(encode_png(img))))
    assert np.array_equal(back, img)


def test_format_choice_and_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_format("auto", local=True) == "raw"
    assert choose_format("auto", local=False) == "png"
    assert choose_format("jpeg", local=True) == "jpeg"
    with pytest.raises(ValueError, match="unknown tile format"):
        choose_format("webp", local=True)
    img = np.full((16, 16, 3), 100, np.uint8)
    assert encode(img, "raw") == ("raw", img.tobytes())
    fmt, data = encode(img, "jpeg")
    assert fmt == "jpeg" and data[:2] == b"\xff\xd8"
    from napari_chunkview.notebook import _encode

    monkeypatch.setattr(_encode, "encode_jpeg", lambda img, quality=90: None)  # no Pillow
    fmt, data = _encode.encode(img, "jpeg")
    assert fmt == "png" and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_channel_metadata_without_colour_gets_the_palette() -> None:
    data = np.zeros((3, 8, 8), np.uint8)
    pyr = make_pyramid(
        [data],
        [("c", "channel"), ("y", "space"), ("x", "space")],
        channels=[Channel("a"), Channel("b", color="123456", window=(1, 9))],
    )
    chans = default_channels(pyr, layout_of(pyr), {})
    assert [c["name"] for c in chans] == ["a", "b", "channel 2"]
    assert [c["color"] for c in chans] == ["#FF00FF", "#123456", "#00FFFF"]
    assert chans[1]["window"] == [1.0, 9.0] and chans[1]["range"] == [0.0, 255.0]

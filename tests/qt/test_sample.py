"""The sample-data contribution, and what the canvas shows."""

from __future__ import annotations

import numpy as np

from ._support import HAS_OME_NGFF

PLUGIN = "napari-chunkview"


def test_open_sample(make_napari_viewer) -> None:  # type: ignore[no-untyped-def]
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "synthetic_pyramid")
    assert len(viewer.layers) == 2
    for layer in viewer.layers:
        assert layer.multiscale is True and len(layer.data) == 3
        assert layer.data[0].shape == (64, 512, 512)
        assert layer.data[0].dtype == np.uint16
    if HAS_OME_NGFF:
        assert [layer.name for layer in viewer.layers] == ["blobs", "shells"]
        np.testing.assert_allclose(viewer.layers[0].scale, [0.5, 0.25, 0.25])


def test_screenshot_of_the_canvas_is_not_black(make_napari_viewer) -> None:  # type: ignore[no-untyped-def]
    viewer = make_napari_viewer(show=False)
    viewer.open_sample(PLUGIN, "synthetic_pyramid")
    viewer.screenshot(canvas_only=False, flash=False)  # forces a paint (RECIPES.md)
    viewer.reset_view()
    image = viewer.screenshot(canvas_only=True, flash=False)
    rgb = image[..., :3].astype(float)
    assert rgb.max() > 50, "the canvas is black"
    assert rgb.std() > 5, "the canvas is one flat colour"
    # both channel colours are there (magenta blobs, green shells)
    assert (rgb[..., 1] > 100).mean() > 0.01 and (
        (rgb[..., 0] > 100) & (rgb[..., 2] > 100)
    ).mean() > 0.001

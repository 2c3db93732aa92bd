"""Move a napari viewer to a QC finding's place (``explorer.Target``): pick the layer of
its image (the channel's layer when channels are split), set the sliders (z, t, c…) to the
chunk, centre the camera on it and zoom so that it is visible — at the finding's level
when napari's own level choice allows it.

napari picks a multiscale level from the zoom (about one data pixel per screen pixel), so
"show level L" means choosing a zoom at which napari picks L; ``locked_data_level`` would
load the whole level, which is not an option for a large one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..explorer._qc_rows import Target
from ..model import Pyramid

#: Share of the canvas a chunk takes when zoomed to fit it (a whole level: ``LEVEL_FILL``).
CHUNK_FILL = 0.5
LEVEL_FILL = 0.95
#: Screen pixels per data pixel of the target level, below 1 by this factor: napari then
#: picks that level (it wants at least one data pixel per screen pixel).
LEVEL_MARGIN = 1.2


def _same(a: Pyramid, b: Any) -> bool:
    return isinstance(b, Pyramid) and (a.uri, a.path, a.kind) == (b.uri, b.path, b.kind)


def layers_of(viewer: Any, image: Pyramid) -> list[Any]:
    """The layers showing ``image`` (one per channel when channels are split)."""
    return [
        layer
        for layer in viewer.layers
        if hasattr(layer, "data_level") and _same(image, layer.metadata.get("pyramid"))
    ]


def choose_layer(viewer: Any, current: Any, target: Target) -> Any:
    """The layer to show ``target`` in: ``current`` when it shows the target's image (and
    channel), else the first one that does; ``None`` when no layer shows the image."""
    layers = layers_of(viewer, target.image)
    if not layers:
        return None
    c = target.image.channel_axis
    split = [layer for layer in layers if layer.metadata.get("channel") is not None]
    if split and c is not None:
        lo, hi = target.box[c] if target.chunk is not None else (0, target.image.shape[c])
        fits = [layer for layer in split if lo <= layer.metadata["channel"] < hi]
        layers = fits or layers
    return current if any(layer is current for layer in layers) else layers[0]


def axes_map(layer: Any, image: Pyramid) -> list[int]:
    """Pyramid axis of each of ``layer``'s dims (the channel axis is not a layer dim when
    channels are split)."""
    axes = list(range(image.ndim))
    if layer.metadata.get("channel") is not None and image.channel_axis is not None:
        axes.remove(image.channel_axis)
    return axes


def _predicted_level(
    layer: Any, grid_dims: Sequence[int], canvas: np.ndarray, zoom: float, world_px: np.ndarray
) -> int:
    """The level napari would pick in 2D at ``zoom``: the rule of napari's
    ``compute_multiscale_level`` (napari 0.9, ``layers/utils/layer_utils.py``; written out
    here because that module is private): the coarsest level whose view still has more
    data pixels than the canvas has screen pixels, along every dimension that exceeds the
    canvas and is downsampled. The view is clipped to the data, as napari clips it."""
    shape0 = np.asarray(layer.level_shapes[0], dtype=float)[list(grid_dims)]
    fov = np.minimum(canvas / (zoom * world_px), shape0)
    factors = np.asarray(layer.downsample_factors, dtype=float)[:, list(grid_dims)]
    active = (fov > canvas) & np.any(factors > 1, axis=0)
    if not np.any(active):
        return 0
    ok = np.flatnonzero(np.all((fov / factors > canvas)[:, active], axis=1))
    return int(ok[-1]) if ok.size else 0


def go_to(viewer: Any, layer: Any, target: Target, camera: Any) -> None:
    """Sliders, centre and zoom of ``viewer`` for ``target`` shown in ``layer``."""
    amap = axes_map(layer, target.image)
    ndim = layer.ndim
    multiscale = bool(getattr(layer, "multiscale", False))
    f = (
        np.asarray(layer.downsample_factors[target.level], dtype=float)
        if multiscale
        else np.ones(ndim)
    )
    offset = viewer.dims.ndim - ndim
    displayed = [d - offset for d in viewer.dims.displayed if d - offset >= 0]
    # level pixels → level-0 data coordinates (level-L pixel j covers [j f - ½, (j+1) f - ½))
    lo, hi, mid = np.zeros(ndim), np.zeros(ndim), np.zeros(ndim)
    index = target.slice_index
    for d, ax in enumerate(amap):
        a, b = target.box[ax]
        lo[d], hi[d] = a * f[d] - 0.5, b * f[d] - 0.5
        # off-screen axes: a whole level-0 slice that is exactly the level's slice
        mid[d] = (a + b) / 2 * f[d] - 0.5 if d in displayed else index[ax] * f[d]
    w_mid = np.asarray(layer.data_to_world(mid), dtype=float)
    if target.chunk is not None:  # a level finding keeps the current slice
        for d in range(ndim):
            if d not in displayed:
                viewer.dims.set_point(d + offset, float(w_mid[d]))
    if len(displayed) < 2:
        return
    camera.center = tuple(float(w_mid[d]) for d in displayed)
    grid_dims = displayed[-2:]
    w_lo = np.asarray(layer.data_to_world(lo), dtype=float)
    w_hi = np.asarray(layer.data_to_world(hi), dtype=float)
    extent = np.maximum(np.abs(w_hi - w_lo)[grid_dims], 1e-12)
    canvas = np.maximum(np.asarray(viewer.canvas.size, dtype=float)[:2], 1.0)
    fill = CHUNK_FILL if target.chunk is not None else LEVEL_FILL
    z_fit = fill * float(np.min(canvas / extent))
    zoom = z_fit
    if multiscale and target.level > 0 and viewer.dims.ndisplay == 2:
        # world size of one level-0 pixel along the grid dims (the layer's scale / affine)
        w0 = np.asarray(layer.data_to_world(np.zeros(ndim)), dtype=float)
        px = np.ones(2)
        for j, d in enumerate(grid_dims):
            e = np.zeros(ndim)
            e[d] = 1.0
            px[j] = max(float(np.linalg.norm(np.asarray(layer.data_to_world(e)) - w0)), 1e-12)
        z_level = 1.0 / (LEVEL_MARGIN * float(np.max(px * f[grid_dims])))
        fits = target.chunk is None or bool(np.all(extent * z_level <= LEVEL_FILL * canvas))
        if fits and _predicted_level(layer, grid_dims, canvas, z_level, px) == target.level:
            zoom = z_level
    camera.zoom = zoom


__all__ = ["axes_map", "choose_layer", "go_to", "layers_of"]

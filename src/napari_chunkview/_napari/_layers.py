"""``Pyramid`` → napari layer data: one pure function, no napari import except for the
colormap objects (made lazily in ``_colors``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..model import Pyramid, UnsupportedError
from ._colors import channel_colormap, default_channel_colormaps, label_colormap
from ._contrast import contrast_limits, is_displayable

log = logging.getLogger(__name__)

LayerData = tuple[Any, dict[str, Any], str]

#: A "channel" axis longer than this is shown with a slider, not as one layer per channel.
MAX_CHANNEL_LAYERS = 32
#: napari's dims sliders are Qt ``QSlider``s (int32 ranges): an axis with more pixels makes
#: napari 0.9 raise ``OverflowError`` while adding the layer and leaves the viewer broken.
MAX_AXIS_LENGTH = 2**31 - 1


def _valid_unit(unit: str) -> bool:
    try:
        import pint
    except ImportError:  # pragma: no cover - napari depends on pint
        return True
    try:
        pint.get_application_registry().parse_units(unit)
    except Exception:
        return False
    return True


def _units(units: Sequence[str | None]) -> list[str | None] | None:
    """Units napari (pint) understands; unknown ones become pixels (``None``)."""
    out = []
    for u in units:
        if u and not _valid_unit(u):
            log.info("unit %r is not known to napari; shown as pixels", u)
            u = None
        out.append(u or None)
    return out if any(out) else None


def _geometry(pyramid: Pyramid, drop: int | None = None) -> dict[str, Any]:
    """scale / translate / units / axis_labels of level 0, without axis ``drop``."""
    keep = [i for i in range(pyramid.ndim) if i != drop]
    lv0 = pyramid.levels[0]
    out: dict[str, Any] = {
        "scale": [lv0.scale[i] for i in keep],
        "translate": [lv0.translation[i] for i in keep],
        "axis_labels": [pyramid.axes[i].name for i in keep],
    }
    units = _units([pyramid.axes[i].unit for i in keep])
    if units is not None:
        out["units"] = units
    return out


def _data(pyramid: Pyramid) -> tuple[Any, bool]:
    """napari gets each level's ``LevelArray``: slicing it is lazy and reading a view
    touches exactly the chunks in it, whatever the size of the level (a dask graph over
    10⁶ chunks costs ~1 s per compute). Users keep ``Level.data`` (dask)."""
    if len(pyramid.levels) > 1:
        return [lv.array for lv in pyramid.levels], True
    return pyramid.levels[0].array, False


def _check_shape(pyramid: Pyramid) -> None:
    if max(pyramid.shape, default=0) > MAX_AXIS_LENGTH:
        shape = " x ".join(map(str, pyramid.shape))
        raise UnsupportedError(
            f"{pyramid.uri}: {pyramid.name} is {shape} pixels; napari cannot show an axis "
            f"longer than {MAX_AXIS_LENGTH} pixels"
        )


def _image(pyramid: Pyramid) -> LayerData:
    _check_shape(pyramid)
    if not is_displayable(pyramid.dtype):
        raise UnsupportedError(
            f"{pyramid.uri}: {pyramid.name} has dtype {pyramid.dtype}, which napari cannot show"
        )
    data, multiscale = _data(pyramid)
    # Virtual levels are computed from every stored chunk of the coarsest stored level:
    # contrast samples a few chunks of that stored level instead.
    coarsest = pyramid.stored_levels[-1]
    meta: dict[str, Any] = {"name": pyramid.name, "multiscale": multiscale, "rgb": False}
    c = pyramid.channel_axis
    n = pyramid.shape[c] if c is not None else 0
    if c is None or not 0 < n <= MAX_CHANNEL_LAYERS:
        meta.update(_geometry(pyramid))
        window = pyramid.channels[0].window if len(pyramid.channels) == 1 else None
        meta["contrast_limits"] = (
            [float(window[0]), float(window[1])]
            if window is not None and window[0] < window[1]
            else contrast_limits(coarsest)[0]
        )
        meta["metadata"] = {"pyramid": pyramid}
        return data, meta, "image"

    chans = list(pyramid.channels[:n])
    windows: list[Any] = [
        ch.window if ch.window is not None and ch.window[0] < ch.window[1] else None for ch in chans
    ] + [None] * (n - len(chans))
    missing = [i for i, w in enumerate(windows) if w is None]
    if missing:
        for i, lim in zip(missing, contrast_limits(coarsest, c, missing), strict=True):
            windows[i] = lim
    defaults = default_channel_colormaps(n)
    colormaps = [
        (channel_colormap(chans[i].color) if i < len(chans) else None) or defaults[i]
        for i in range(n)
    ]
    geometry = _geometry(pyramid, drop=c)
    meta.update(
        {
            # Every per-channel value is an explicit list of n: napari would otherwise
            # split a sequence whose length happens to equal n (axis labels, units…).
            **{k: [v] * n for k, v in geometry.items()},
            "channel_axis": c,
            "name": [
                (chans[i].name if i < len(chans) and chans[i].name else f"{pyramid.name} c{i}")
                for i in range(n)
            ],
            "colormap": colormaps,
            "contrast_limits": [[float(lo), float(hi)] for lo, hi in windows],
            "visible": [chans[i].visible if i < len(chans) else True for i in range(n)],
            "metadata": [{"pyramid": pyramid, "channel": i} for i in range(n)],
        }
    )
    return data, meta, "image"


def _labels(pyramid: Pyramid) -> LayerData:
    _check_shape(pyramid)
    if pyramid.dtype.kind not in "biu":
        log.info("labels %s have dtype %s; shown as an image", pyramid.name, pyramid.dtype)
        return _image(pyramid)
    data, multiscale = _data(pyramid)
    meta: dict[str, Any] = {
        "name": pyramid.name,
        "multiscale": multiscale,
        "metadata": {"pyramid": pyramid},
        **_geometry(pyramid),
    }
    if pyramid.label_colors:
        meta["colormap"] = label_colormap(pyramid.label_colors)
    return data, meta, "labels"


def pyramid_to_layer_data(pyramid: Pyramid) -> list[LayerData]:
    """Layer data for ``pyramid`` and its labels: an image layer (one per channel through
    ``channel_axis``), then a labels layer per labels sub-pyramid.

    Contrast comes from the channel windows, else from the coarsest level (sampled when
    large). ``UnsupportedError`` when the image's dtype cannot be shown.
    """
    out = []
    for p in pyramid.walk():
        try:
            out.append((_labels if p.kind == "labels" else _image)(p))
        except UnsupportedError as e:
            if p is pyramid:
                raise
            log.warning("%s: labels %s skipped: %s", pyramid.uri, p.name, e)
    return out

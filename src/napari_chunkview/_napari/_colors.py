"""napari colormaps from the model's colours (napari imported lazily, on first use)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
#: napari's own defaults when a channel has no colour (see napari's ``split_channels``).
DEFAULT_CHANNEL_COLORMAPS = ("cyan", "magenta", "yellow", "blue", "green", "red")
#: Colour of label values that ``label_colors`` does not list.
UNLISTED_LABEL_RGBA = (0.5, 0.5, 0.5, 1.0)


def hex_to_rgb(color: str) -> tuple[float, float, float] | None:
    """``"#RRGGBB"`` (or ``"RRGGBB"``) → floats in [0, 1]; ``None`` when malformed."""
    m = _HEX.match(color.strip()) if isinstance(color, str) else None
    if m is None:
        return None
    h = m.group(1)
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255)


def channel_colormap(color: str | None) -> Any:
    """A linear black → ``color`` napari ``Colormap``; ``None`` when there is no usable
    colour. Pure black gives ``"gray"`` (a black channel would be invisible)."""
    rgb = hex_to_rgb(color) if color else None
    if rgb is None:
        return None
    if rgb == (0.0, 0.0, 0.0):
        return "gray"
    from napari.utils.colormaps import Colormap

    name = "#" + "".join(f"{round(v * 255):02x}" for v in rgb)
    return Colormap(
        colors=[[0.0, 0.0, 0.0, 1.0], [*rgb, 1.0]], name=f"chunkview{name}", display_name=name
    )


def default_channel_colormaps(n: int) -> list[str]:
    """napari's defaults for ``n`` channels."""
    if n == 1:
        return ["gray"]
    if n == 2:
        return ["magenta", "green"]
    return [DEFAULT_CHANNEL_COLORMAPS[i % len(DEFAULT_CHANNEL_COLORMAPS)] for i in range(n)]


def _rgba(value: Any) -> tuple[float, float, float, float]:
    """The model's 0…1 RGB or RGBA (alpha defaults to opaque)."""
    v = [*(float(x) for x in value), 1.0]
    return (v[0], v[1], v[2], v[3])


def label_colormap(label_colors: Mapping[int, Any]) -> Any:
    """A napari ``DirectLabelColormap`` for the listed label values (0 stays transparent
    unless listed; unlisted values are grey)."""
    from napari.utils.colormaps import DirectLabelColormap

    colors: dict[int | None, tuple[float, float, float, float]] = {
        None: UNLISTED_LABEL_RGBA,
        0: (0.0, 0.0, 0.0, 0.0),
    }
    colors.update({int(k): _rgba(v) for k, v in label_colors.items()})
    return DirectLabelColormap(color_dict=colors)

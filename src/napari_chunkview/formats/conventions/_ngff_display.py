"""OME-NGFF display metadata: ``omero`` channels (name, colour, window, active) and
``image-label`` colours. Problems here never stop an image from opening: they are
appended to ``warnings``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...model import Channel

_HEX = re.compile(r"^[0-9A-Fa-f]{6}$")


def parse_omero(omero: Any, loc: str, warnings: list[str]) -> tuple[Channel, ...]:
    """``omero.channels`` → ``Channel``s (rdefs are not used)."""
    if omero is None:
        return ()
    chans = omero.get("channels") if isinstance(omero, Mapping) else None
    if not isinstance(chans, list):
        warnings.append(f"{loc}.channels is not a list; channel names and colours ignored")
        return ()
    return tuple(_channel(ch, f"{loc}.channels[{i}]", i, warnings) for i, ch in enumerate(chans))


def _channel(ch: Any, loc: str, i: int, warnings: list[str]) -> Channel:
    if not isinstance(ch, Mapping):
        warnings.append(f"{loc} is not an object; ignored")
        return Channel(f"channel {i}")
    name = ch.get("label", ch.get("name"))
    name = name if isinstance(name, str) and name else f"channel {i}"
    color = ch.get("color")
    if color is not None and not (isinstance(color, str) and _HEX.match(color)):
        warnings.append(f"{loc}.color {color!r} is not a 6-digit hex colour; ignored")
        color = None
    window = ch.get("window")
    span: tuple[float, float] | None = None
    if isinstance(window, Mapping) and "start" in window and "end" in window:
        lo, hi = window["start"], window["end"]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)):
            span = (float(lo), float(hi))
        else:
            warnings.append(f"{loc}.window start/end must be numbers, got {lo!r}/{hi!r}; ignored")
    elif window is not None:
        warnings.append(f"{loc}.window has no start/end; ignored")
    active = ch.get("active", True)
    return Channel(
        name,
        f"#{color.upper()}" if color else None,
        span,
        active if isinstance(active, bool) else True,
    )


def parse_label_colors(
    il: Any, loc: str, warnings: list[str]
) -> dict[int, tuple[float, float, float, float]]:
    """``image-label.colors`` → {label value: rgba in 0..1}."""
    colors = il.get("colors") if isinstance(il, Mapping) else None
    if colors is None:
        return {}
    if not isinstance(colors, list):
        warnings.append(f"{loc}.colors is not a list; ignored")
        return {}
    out: dict[int, tuple[float, float, float, float]] = {}
    for i, c in enumerate(colors):
        cloc = f"{loc}.colors[{i}]"
        value = c.get("label-value") if isinstance(c, Mapping) else None
        rgba = c.get("rgba") if isinstance(c, Mapping) else None
        if not isinstance(value, int) or isinstance(value, bool):
            warnings.append(f"{cloc}.label-value {value!r} is not an integer; entry ignored")
            continue
        if not (
            isinstance(rgba, list)
            and len(rgba) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rgba)
        ):
            warnings.append(f"{cloc}.rgba {rgba!r} is not four integers 0-255; entry ignored")
            continue
        if value in out:
            warnings.append(f"{cloc}.label-value {value} is listed twice; the first is used")
            continue
        r, g, b, a = (v / 255 for v in rgba)
        out[value] = (r, g, b, a)
    return out


def check_label(il: Any, loc: str) -> list[str]:
    """image-label rules the validator does not check (all of them for dev 0.6): non-empty
    ``colors``/``properties`` whose entries each have a ``label-value``; ``colors``
    present (a SHOULD)."""
    out: list[str] = []
    if not isinstance(il, Mapping):
        return [f"{loc} is not an object"]
    if "colors" not in il:
        out.append(f"{loc} has no colors; label colours are up to the viewer")
    for key in ("colors", "properties"):
        entries = il.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list) or not entries:
            out.append(f"{loc}.{key} must be a non-empty list")
            continue
        if any(not isinstance(e, Mapping) or "label-value" not in e for e in entries):
            out.append(f"{loc}.{key}: every entry needs a label-value")
    return out

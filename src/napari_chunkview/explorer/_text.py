"""Short human text for numbers, shapes, units and values (no GUI)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model._codecs import shape_text

__all__ = ["bytes_text", "count_text", "fill_text", "ratio_text", "scale_text", "shape_text"]

#: Unit abbreviations for the scale column (OME-NGFF / UDUNITS names and their short forms).
_UNIT_SHORT = {
    "micrometer": "µm",
    "micron": "µm",
    "um": "µm",
    "nanometer": "nm",
    "millimeter": "mm",
    "centimeter": "cm",
    "meter": "m",
    "angstrom": "Å",
    "picometer": "pm",
    "second": "s",
    "millisecond": "ms",
    "microsecond": "µs",
    "nanosecond": "ns",
    "minute": "min",
    "hour": "h",
}


def bytes_text(n: float | None) -> str:
    """``"12.3 MB"`` (powers of 1000, three significant digits); ``"—"`` for None."""
    if n is None:
        return "—"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            if unit == "B":
                return f"{int(n)} B"
            return f"{n:.3g} {unit}" if abs(n) < 100 else f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} PB"  # pragma: no cover


def count_text(n: int | None, exact: bool = True) -> str:
    """``"1,024"``; ``"≈ 1,000"`` for an estimate; ``"—"`` for None."""
    if n is None:
        return "—"
    return f"{n:,}" if exact else f"≈ {n:,}"


def ratio_text(r: float | None) -> str:
    """Compression ratio (logical / stored): ``"3.21×"``; ``"—"`` when unknown."""
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:.3g}×"


def unit_text(unit: str | None) -> str:
    if not unit:
        return ""
    return _UNIT_SHORT.get(unit.lower(), unit)


def scale_text(scale: Sequence[float], names: Sequence[str], units: Sequence[str | None]) -> str:
    """``"z 0.5 µm · y 0.25 µm · x 0.25 µm"`` (axes without a unit: the number only)."""
    parts = []
    for s, name, unit in zip(scale, names, units, strict=True):
        u = unit_text(unit)
        parts.append(f"{name} {s:.4g}" + (f" {u}" if u else ""))
    return " · ".join(parts)


def fill_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, bytes):
        return repr(value)
    return str(value)


def ms_text(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms / 1000:.3g} s"

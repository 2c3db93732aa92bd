"""Datasets written by real writers (ome-zarr-py, zarr-python 3, z5py) into temporary
folders, and a napari-settings sandbox. No napari import at module level: the viewer-free
reader tests use the writers too."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HAS_OME_NGFF = importlib.util.find_spec("napari_chunkview.formats.conventions.ome_ngff") is not None
needs_ome_ngff = pytest.mark.skipif(
    not HAS_OME_NGFF,
    reason="the OME-NGFF convention (formats/conventions/ome_ngff.py) is not there yet; "
    "until then an OME-Zarr group opens as a plain group, without channels or omero",
)

CHANNELS = (
    {"label": "DAPI", "color": "0000FF", "start": 100, "end": 900, "active": True},
    {"label": "GFP", "color": "00FF00", "start": 50, "end": 700, "active": False},
)
SCALE_ZYX = {"z": 2.0, "y": 0.5, "x": 0.5}
UNITS = dict.fromkeys("zyx", "micrometer")
LABEL_COLORS = {1: (255, 0, 0, 255), 2: (0, 128, 255, 255)}


@dataclass
class Written:
    """A dataset on disk and what went into it (level 0 first)."""

    path: Path
    levels: list[np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)


def _volume(shape: tuple[int, ...], seed: int = 7, high: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, high, size=shape, dtype=np.uint16)


def _omero() -> dict[str, Any]:
    return {
        "channels": [
            {
                "label": c["label"],
                "color": c["color"],
                "active": c["active"],
                "window": {"min": 0, "max": 65535, "start": c["start"], "end": c["end"]},
            }
            for c in CHANNELS
        ]
    }


def _read_levels(path: Path) -> list[np.ndarray]:
    import zarr

    group = zarr.open_group(str(path), mode="r")
    names = sorted((k for k in group.array_keys()), key=lambda k: -int(np.prod(group[k].shape)))
    return [np.asarray(group[k][...]) for k in names]


def write_ome_zarr(path: Path, version: str = "0.5", labels: bool = False) -> Written:
    """ome-zarr-py: a (c=2, z, y, x) uint16 image with 3 levels, units, omero channels;
    with ``labels``, a ``cells`` label image with ``image-label`` colours."""
    import zarr
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.scale import Methods
    from ome_zarr.writer import add_metadata, write_image, write_labels

    fmt = FormatV05() if version == "0.5" else FormatV04()
    group = zarr.open_group(str(path), mode="w", zarr_format=3 if version == "0.5" else 2)
    image = _volume((2, 8, 96, 96))
    common = {"fmt": fmt, "scale_factors": (2, 4), "method": Methods.NEAREST}
    write_image(
        image, group, axes="czyx", scale={"c": 1.0, **SCALE_ZYX}, axes_units=UNITS, **common
    )
    add_metadata(group, {"omero": _omero()}, fmt=fmt)
    if labels:
        lab = np.zeros(image.shape[1:], dtype=np.uint16)
        lab[2:6, 10:40, 10:50] = 1
        lab[1:4, 50:90, 40:80] = 2
        colors = [{"label-value": k, "rgba": list(v)} for k, v in LABEL_COLORS.items()]
        write_labels(
            lab,
            group,
            name="cells",
            axes="zyx",
            scale=SCALE_ZYX,
            axes_units=UNITS,
            label_metadata={"colors": colors},
            **common,
        )
    return Written(path, _read_levels(path), {"version": version, "labels": labels})


def write_zarr_plain(
    path: Path, zarr_format: int = 3, names: tuple[str, ...] = ("s0", "s1")
) -> Written:
    """zarr-python 3: a group of level arrays with no multiscale metadata."""
    import zarr

    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    levels = [_volume((16, 64, 64), seed=3)]
    levels.append(levels[0][:, ::2, ::2].copy())
    for name, data in zip(names, levels, strict=False):
        arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=(8, 32, 32))
        arr[...] = data
    return Written(path, levels, {"zarr_format": zarr_format})


def write_zarr_array(path: Path, data: np.ndarray) -> Written:
    """zarr-python 3: one zarr v3 array at the root."""
    import zarr

    arr = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, chunks=data.shape)
    arr[...] = data
    return Written(path, [data])


def write_n5(path: Path) -> Written:
    """z5py: an N5 container with ``s0``/``s1`` datasets (gzip)."""
    z5py = pytest.importorskip("z5py")
    levels = [_volume((16, 64, 64), seed=5)]
    levels.append(levels[0][:, ::2, ::2].copy())
    f = z5py.File(str(path), mode="w", use_zarr_format=False)
    for i, data in enumerate(levels):
        f.create_dataset(f"s{i}", data=data, chunks=(8, 32, 32), compression="gzip")
    return Written(path, levels)


def use_temporary_napari_settings(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Any:
    """napari settings backed by ``folder`` for this test, never the user's own file."""
    from napari import settings

    monkeypatch.setattr(settings, "_SETTINGS", None)
    return settings.get_settings(folder / "napari-settings.yaml")


def settle(qtbot: Any, viewer: Any, dock: Any, layer: Any) -> None:
    """Let napari draw (which picks the level and the region to load) and read the slice,
    and the dock catch up with both."""
    viewer.screenshot(canvas_only=False, flash=False)
    qtbot.waitUntil(lambda: layer.loaded, timeout=15000)

    def caught_up() -> None:
        dock.refresh()
        dock.controller.tick()
        live = dock.controller.live
        assert live is not None and live.view_total > 0
        assert live.view_resolved == live.view_total

    qtbot.waitUntil(caught_up, timeout=15000)

"""A synthetic multiscale volume written at run time (no napari): OME-NGFF 0.5 on zarr v3,
sharded, two channels with omero colours and windows, z/y/x in micrometres.

Used by the napari sample-data contribution, ``chunkview view`` without a path, tests and
benchmarks. Nothing is shipped: the data are drawn with numpy from a fixed seed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

#: (c, z, y, x) of level 0.
SAMPLE_SHAPE: tuple[int, int, int, int] = (2, 64, 512, 512)
SAMPLE_LEVELS = 3
#: Physical size of a level-0 voxel (z, y, x), micrometres.
VOXEL_SIZE: tuple[float, float, float] = (0.5, 0.25, 0.25)
CHANNELS: tuple[tuple[str, str], ...] = (("blobs", "FF00FF"), ("shells", "00FF00"))

_lock = threading.Lock()
_temporary: Path | None = None


def _gaussian_blobs(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Round (in physical space) Gaussian blobs, each drawn only inside its bounding box."""
    out = np.zeros(shape, dtype=np.float32)
    extent = min(shape[1], shape[2])
    for _ in range(max(8, (shape[1] * shape[2]) // 2000)):
        centre = rng.uniform(0, shape)
        s_xy = max(1.0, rng.uniform(0.012, 0.035) * extent)
        sigma = np.array([max(0.7, s_xy * VOXEL_SIZE[1] / VOXEL_SIZE[0]), s_xy, s_xy])
        lo = np.maximum(0, np.floor(centre - 3 * sigma)).astype(int)
        hi = np.minimum(shape, np.ceil(centre + 3 * sigma)).astype(int)
        g = [
            np.exp(-0.5 * ((np.arange(a, b) - c) / s) ** 2).astype(np.float32)
            for a, b, c, s in zip(lo, hi, centre, sigma, strict=True)
        ]
        out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] += np.float32(rng.uniform(0.4, 1.0)) * (
            g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]
        )
    return out


def _shells(shape: tuple[int, int, int]) -> np.ndarray:
    """Thin concentric shells around the centre, brightening from left to right."""
    z, y, x = (np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape)
    r2 = (z[:, None, None] * 0.5) ** 2 + y[None, :, None] ** 2 + x[None, None, :] ** 2
    rings = (0.5 + 0.5 * np.cos(np.sqrt(r2) * np.float32(10 * np.pi))) ** 6
    return rings * (0.3 + 0.7 * (x[None, None, :] + 1) / 2)


def synthetic_volume(shape: tuple[int, int, int, int] = SAMPLE_SHAPE, seed: int = 0) -> np.ndarray:
    """(c, z, y, x) uint16: even channels blobs, odd channels shells, plus faint noise."""
    rng = np.random.default_rng(seed)
    c, *zyx = shape
    spatial = (zyx[0], zyx[1], zyx[2])
    out = np.empty(shape, dtype=np.uint16)
    for i in range(c):
        vol = _shells(spatial) if i % 2 else _gaussian_blobs(spatial, rng)
        vol *= np.float32(40000.0 / max(float(vol.max()), 1e-6))
        vol += rng.integers(100, 900, size=spatial[1:], dtype=np.uint16).astype(np.float32)
        out[i] = vol.astype(np.uint16)
    return out


def downsample(vol: np.ndarray) -> np.ndarray:
    """Mean of 2x2x2 blocks over (z, y, x) (odd edges dropped); channels kept."""
    c, z, y, x = vol.shape
    z2, y2, x2 = max(1, z // 2), max(1, y // 2), max(1, x // 2)
    fz, fy, fx = (2 if n > 1 else 1 for n in (z, y, x))
    v = vol[:, : z2 * fz, : y2 * fy, : x2 * fx].astype(np.float32)
    v = v.reshape(c, z2, fz, y2, fy, x2, fx).mean(axis=(2, 4, 6))
    return np.rint(v).astype(vol.dtype)


def _omero(levels: list[np.ndarray]) -> dict[str, Any]:
    coarse = levels[-1]
    channels = []
    for i in range(coarse.shape[0]):
        label, color = CHANNELS[i % len(CHANNELS)]
        lo, hi = (float(v) for v in np.percentile(coarse[i], [1.0, 99.8]))
        channels.append(
            {
                "label": label if i < len(CHANNELS) else f"{label} {i}",
                "color": color,
                "active": True,
                "coefficient": 1.0,
                "family": "linear",
                "inverted": False,
                "window": {"min": 0.0, "max": 65535.0, "start": round(lo), "end": round(hi)},
            }
        )
    return {
        "version": "0.5",
        "channels": channels,
        "rdefs": {"defaultZ": int(levels[0].shape[1] // 2), "model": "color"},
    }


def write_sample_pyramid(
    path: str | os.PathLike[str],
    *,
    shape: tuple[int, int, int, int] = SAMPLE_SHAPE,
    n_levels: int = SAMPLE_LEVELS,
    name: str = "synthetic",
) -> Path:
    """Write the synthetic pyramid to ``path`` (a new folder) and return it.

    Zarr v3 arrays ``0…n-1`` (``dimension_names`` c, z, y, x; sharded, zstd) under a
    group with OME-NGFF 0.5 ``multiscales`` and ``omero`` metadata.
    """
    import zarr

    out = Path(path)
    if out.exists():
        raise FileExistsError(f"{out} already exists; the sample writer never overwrites")
    levels = [synthetic_volume(shape)]
    while len(levels) < n_levels and min(levels[-1].shape[1:]) >= 2:
        levels.append(downsample(levels[-1]))

    axes = [{"name": "c", "type": "channel"}] + [
        {"name": a, "type": "space", "unit": "micrometer"} for a in ("z", "y", "x")
    ]
    datasets = []
    for k, lvl in enumerate(levels):
        factor = [s0 / s for s0, s in zip(levels[0].shape[1:], lvl.shape[1:], strict=True)]
        scale = [1.0] + [v * f for v, f in zip(VOXEL_SIZE, factor, strict=True)]
        shift = [0.0] + [v * (f - 1) / 2 for v, f in zip(VOXEL_SIZE, factor, strict=True)]
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
        if k:
            transforms.append({"type": "translation", "translation": shift})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    ome = {
        "version": "0.5",
        "multiscales": [{"name": name, "axes": axes, "datasets": datasets}],
        "omero": _omero(levels),
    }
    group = zarr.create_group(store=str(out), zarr_format=3, attributes={"ome": ome})
    for k, lvl in enumerate(levels):
        _, z, y, x = lvl.shape
        chunks = (1, min(16, z), min(128, y), min(128, x))
        shards = (1, min(64, z), min(256, y), min(256, x))
        arr = group.create_array(
            name=str(k),
            shape=lvl.shape,
            dtype=lvl.dtype,
            chunks=chunks,
            shards=tuple(max(c, s - s % c) for c, s in zip(chunks, shards, strict=True)),
            dimension_names=("c", "z", "y", "x"),
            fill_value=0,
        )
        arr[...] = lvl
    return out


def temporary_sample() -> Path:
    """The sample written once per process into a temporary folder (removed at exit)."""
    global _temporary
    with _lock:
        if _temporary is None or not _temporary.exists():
            tmp = Path(tempfile.mkdtemp(prefix="chunkview-sample-"))
            atexit.register(shutil.rmtree, tmp, ignore_errors=True)
            _temporary = write_sample_pyramid(tmp / "synthetic.ome.zarr")
        return _temporary

"""Multiscale datasets written by real writers (ome-zarr-py, zarr-python 3, tensorstore,
z5py) into temporary folders, with the arrays and parameters that went in, so the tests
derive every expected value from what was written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
SEED = 1234


@dataclass
class Written:
    """A dataset on disk: ``path``, the level arrays as written (C order, largest first)
    and the writer parameters."""

    path: Path
    levels: list[np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)


def pyramid_data(
    shape: tuple[int, ...], n: int, dtype: str = "uint16", spatial: int = 3
) -> list[np.ndarray]:
    """Level 0 random, then nearest-neighbour halving of the last ``spatial`` axes."""
    rng = np.random.default_rng(SEED)
    base = rng.integers(1, 1000, shape).astype(dtype)
    out = [base]
    for _ in range(1, n):
        sl = (slice(None),) * (len(shape) - spatial) + (slice(None, None, 2),) * spatial
        out.append(np.ascontiguousarray(out[-1][sl]))
    return out


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# -- OME-NGFF ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def ngff04_labels(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """OME-NGFF 0.4 (zarr v2) by ome-zarr-py: c, z, y, x with a 3-level pyramid, omero
    channels and a ``cells`` label image with colours."""
    pytest.importorskip("ome_zarr")
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_labels
    from ome_zarr_models.common.omero import Omero

    path = tmp_path_factory.mktemp("ngff04") / "image.zarr"
    rng = np.random.default_rng(SEED)
    image = rng.integers(0, 1000, (2, 6, 64, 48)).astype("uint16")
    labels = (image[0] // 250).astype("uint8")  # values 0..3
    px = {"c": 1.0, "z": 0.5, "y": 0.25, "x": 0.25}
    omero = {
        "channels": [
            {
                "label": "DAPI",
                "color": "0000FF",
                "window": {"start": 10, "end": 900, "min": 0, "max": 1000},
                "active": True,
            },
            {
                "label": "GFP",
                "color": "00ff00",
                "window": {"start": 0, "end": 500, "min": 0, "max": 1000},
                "active": False,
            },
        ],
        "rdefs": {"model": "color"},
    }
    colors = [
        {"label-value": 1, "rgba": [255, 0, 0, 255]},
        {"label-value": 3, "rgba": [0, 0, 255, 128]},
    ]
    root = zarr.open_group(path, mode="w", zarr_format=2)
    write_image(
        image,
        root,
        scale_factors=[2, 4],
        fmt=FormatV04(),
        axes=["c", "z", "y", "x"],
        scale=px,
        axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
        storage_options={"chunks": (1, 3, 16, 16)},
        omero=Omero.model_validate(omero),
    )
    write_labels(
        labels,
        root,
        name="cells",
        scale_factors=[2, 4],
        fmt=FormatV04(),
        axes=["z", "y", "x"],
        scale={k: v for k, v in px.items() if k != "c"},
        label_metadata={"colors": colors},
    )
    return Written(
        path,
        [image],
        {"px": px, "omero": omero, "colors": colors, "labels": labels, "factors": [1, 2, 4]},
    )


@pytest.fixture(scope="session")
def ngff05_sharded(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """OME-NGFF 0.5 (zarr v3, sharded) by zarr-python 3: c, y, x, two channels with omero,
    levels "0", "1", "2" with a translation and a multiscale-level scale."""
    import zarr

    path = tmp_path_factory.mktemp("ngff05") / "image.ome.zarr"
    levels = pyramid_data((2, 64, 64), 3, spatial=2)
    px = [1.0, 0.2, 0.2]
    global_scale = [1.0, 2.0, 2.0]
    datasets = []
    for i in range(3):
        f = 2**i
        datasets.append(
            {
                "path": str(i),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [px[0], px[1] * f, px[2] * f]},
                    {
                        "type": "translation",
                        "translation": [0.0, (f - 1) / 2 * px[1], (f - 1) / 2 * px[2]],
                    },
                ],
            }
        )
    ome = {
        "version": "0.5",
        "multiscales": [
            {
                "name": "two channels",
                "axes": [
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"},
                ],
                "datasets": datasets,
                "coordinateTransformations": [{"type": "scale", "scale": global_scale}],
            }
        ],
        "omero": {
            "channels": [
                {
                    "label": "red",
                    "color": "FF0000",
                    "window": {"start": 5.0, "end": 600.0, "min": 0.0, "max": 1000.0},
                    "active": True,
                },
                {
                    "label": "green",
                    "color": "00FF00",
                    "window": {"start": 1.0, "end": 700.0, "min": 0.0, "max": 1000.0},
                    "active": True,
                },
            ]
        },
    }
    root = zarr.open_group(path, mode="w", zarr_format=3, attributes={"ome": ome})
    for i, data in enumerate(levels):
        root.create_array(
            str(i),
            data=data,
            chunks=(1, 8, 8),
            shards=(1, 16, 16),
            dimension_names=["c", "y", "x"],
        )
    return Written(path, levels, {"ome": ome, "px": px, "global_scale": global_scale})


@pytest.fixture(scope="session")
def ngff_old(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Written]:
    """OME-NGFF 0.1, 0.2 (5-D, implicit axes) and 0.3 (z, y, x as strings) by zarr-python
    3 as zarr v2 (0.1 with "." chunk keys, 0.2/0.3 with "/")."""
    import zarr

    out = {}
    for version in ("0.1", "0.2", "0.3"):
        path = tmp_path_factory.mktemp(f"ngff{version}") / "image.zarr"
        ms: dict[str, Any] = {
            "version": version,
            "name": f"v{version}",
            "datasets": [{"path": str(i)} for i in range(3)],
        }
        if version == "0.3":
            ms["axes"] = ["z", "y", "x"]
            levels = pyramid_data((8, 32, 32), 3)
        else:
            levels = pyramid_data((1, 2, 8, 32, 32), 3)
        root = zarr.open_group(path, mode="w", zarr_format=2, attributes={"multiscales": [ms]})
        sep = "." if version == "0.1" else "/"
        for i, data in enumerate(levels):
            root.create_array(
                str(i),
                data=data,
                chunks=(4,) * data.ndim if version == "0.3" else (1, 1, 4, 16, 16),
                chunk_key_encoding={"name": "v2", "separator": sep},
            )
        out[version] = Written(path, levels, {"ms": ms})
    return out


@pytest.fixture(scope="session")
def bf2raw(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """A bioformats2raw layout: two series written by ome-zarr-py (0.4) under 0/ and 1/."""
    pytest.importorskip("ome_zarr")
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    path = tmp_path_factory.mktemp("bf2raw") / "plate.ome.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2, attributes={"bioformats2raw.layout": 3})
    series = []
    for s, shape in enumerate([(32, 32), (16, 24)]):
        data = pyramid_data(shape, 1, spatial=2)[0]
        write_image(
            data, root.create_group(str(s)), scale_factors=[2], fmt=FormatV04(), axes=["y", "x"]
        )
        series.append(data)
    root.create_group("OME", attributes={"series": ["0", "1"]})
    return Written(path, series)


@pytest.fixture(scope="session")
def plain_groups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Written]:
    """Groups of level arrays without multiscale metadata: ``s0…s2`` (zarr v3) and
    ``0…2`` (zarr v2), by zarr-python 3."""
    import zarr

    out = {}
    for names, fmt in ((["s0", "s1", "s2"], 3), (["0", "1", "2"], 2)):
        path = tmp_path_factory.mktemp("plain") / f"plain_{names[0]}.zarr"
        levels = pyramid_data((8, 32, 40), 3)
        root = zarr.open_group(path, mode="w", zarr_format=fmt)
        for name, data in zip(reversed(names), reversed(levels), strict=True):
            root.create_array(name, data=data, chunks=(4, 8, 8))  # written smallest first
        out[names[0]] = Written(path, levels)
    return out


# -- N5 -----------------------------------------------------------------------------------------
def ts_n5(path: Path, data: np.ndarray, block: tuple[int, ...], extra: dict[str, Any]) -> None:
    """Write ``data`` (C order) as an N5 dataset with tensorstore (N5 order = reversed)."""
    ts = pytest.importorskip("tensorstore")
    spec = {
        "driver": "n5",
        "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {
            "dimensions": list(data.shape[::-1]),
            "blockSize": list(block[::-1]),
            "dataType": str(data.dtype),
            "compression": {"type": "gzip"},
            **extra,
        },
    }
    t = ts.open(spec, create=True).result()
    t.write(data.T).result()


def z5_root(path: Path) -> Any:
    z5py = pytest.importorskip("z5py")
    return z5py.File(str(path), mode="a")


@pytest.fixture(scope="session")
def n5_viewer_scales(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """n5-viewer with ``scales`` and ``pixelResolution`` on the group (z5py)."""
    path = tmp_path_factory.mktemp("n5v") / "scales.n5"
    levels = pyramid_data((10, 24, 32), 3)
    f = z5_root(path)
    g = f.create_group("c0")
    scales = [[1, 1, 1], [2, 2, 2], [4, 4, 4]]  # N5 order (x, y, z)
    res = {"unit": "um", "dimensions": [0.25, 0.5, 2.0]}  # x, y, z
    g.attrs["scales"] = scales
    g.attrs["pixelResolution"] = res
    for i, data in enumerate(levels):
        g.create_dataset(f"s{i}", data=data, chunks=(4, 8, 8), compression="gzip")
    return Written(path / "c0", levels, {"scales": scales, "res": res})


@pytest.fixture(scope="session")
def n5_viewer_levels(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """n5-viewer with per-level ``downsamplingFactors`` and ``pixelResolution``
    (tensorstore), anisotropic: z is not downsampled."""
    path = tmp_path_factory.mktemp("n5v") / "levels.n5"
    z5_root(path).attrs["pixelResolution"] = {"unit": "nm", "dimensions": [4.0, 4.0, 40.0]}
    rng = np.random.default_rng(SEED)
    base = rng.integers(0, 255, (6, 32, 24)).astype("uint8")
    levels = [
        base,
        np.ascontiguousarray(base[:, ::2, ::2]),
        np.ascontiguousarray(base[:, ::4, ::4]),
    ]
    factors = [[1, 1, 1], [2, 2, 1], [4, 4, 1]]  # x, y, z
    for i, data in enumerate(levels):
        ts_n5(path / f"s{i}", data, (3, 8, 8), {"downsamplingFactors": factors[i]})
    return Written(path, levels, {"factors": factors, "res": [4.0, 4.0, 40.0], "unit": "nm"})


@pytest.fixture(scope="session")
def n5_viewer_channels(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """Two n5-viewer channel groups ``c0``, ``c1`` (z5py) sharing ``pixelResolution`` at the
    root; levels ``s0``, ``s1`` with ``downsamplingFactors``."""
    path = tmp_path_factory.mktemp("n5v") / "channels.n5"
    f = z5_root(path)
    f.attrs["pixelResolution"] = {"unit": "um", "dimensions": [0.5, 0.5, 1.0]}
    chans = []
    for c in range(2):
        levels = [lv + 100 * c for lv in pyramid_data((4, 16, 16), 2)]
        g = f.create_group(f"c{c}")
        for i, data in enumerate(levels):
            ds = g.create_dataset(f"s{i}", data=data, chunks=(2, 8, 8), compression="gzip")
            ds.attrs["downsamplingFactors"] = [2**i, 2**i, 2**i]
        chans.append(levels)
    return Written(
        path, [np.stack([ch[i] for ch in chans]) for i in range(2)], {"res": [0.5, 0.5, 1.0]}
    )


@pytest.fixture(scope="session")
def bdv_n5(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """BigDataViewer N5: 2 setups x 2 timepoints x 3 levels (z5py groups, tensorstore
    arrays), like BigDataViewer's exporter (setup attributes ``downsamplingFactors`` per
    level and ``dataType``)."""
    path = tmp_path_factory.mktemp("bdv") / "dataset.n5"
    f = z5_root(path)
    factors = [[1, 1, 1], [2, 2, 1], [4, 4, 2]]  # x, y, z per level
    views: dict[tuple[int, int], list[np.ndarray]] = {}
    for s in range(2):
        g = f.create_group(f"setup{s}")
        g.attrs["downsamplingFactors"] = factors
        g.attrs["dataType"] = "uint16"
        for t in range(2):
            g.create_group(f"timepoint{t}")
            base = pyramid_data((8, 24, 32), 1)[0] + 10 * s + 1000 * t
            levels = [base]
            for fx, fy, fz in factors[1:]:
                levels.append(np.ascontiguousarray(base[::fz, ::fy, ::fx]))
            for i, data in enumerate(levels):
                ts_n5(
                    path / f"setup{s}" / f"timepoint{t}" / f"s{i}",
                    data,
                    (4, 8, 8),
                    {"downsamplingFactors": factors[i]},
                )
            views[(t, s)] = levels
    stacked = [
        np.stack([np.stack([views[(t, s)][i] for s in range(2)]) for t in range(2)])
        for i in range(3)
    ]
    return Written(path, stacked, {"factors": factors, "views": views})


@pytest.fixture(scope="session")
def cosem_n5(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """COSEM: group ``multiscales[0].datasets[].transform`` (z5py) over tensorstore arrays
    that carry their own ``transform`` too, as fibsem-tools writes them."""
    path = tmp_path_factory.mktemp("cosem") / "cosem.n5"
    g = z5_root(path).create_group("em")
    levels = pyramid_data((8, 16, 24), 3)
    transforms = []
    for i, data in enumerate(levels):
        f_ = 2**i
        tf = {
            "axes": ["z", "y", "x"],
            "scale": [5.24 * f_, 4.0 * f_, 4.0 * f_],
            "translate": [(f_ - 1) * 2.62, (f_ - 1) * 2.0, (f_ - 1) * 2.0],
            "units": ["nm"] * 3,
        }
        ts_n5(path / "em" / f"s{i}", data, (4, 8, 8), {"transform": tf})
        transforms.append(tf)
    g.attrs["multiscales"] = [
        {"datasets": [{"path": f"s{i}", "transform": t} for i, t in enumerate(transforms)]}
    ]
    return Written(path / "em", levels, {"transforms": transforms})

"""Pyramid consistency: level shapes against the declared downsampling factors, dtypes and
channel counts across levels, coarse-level intensities against the finer level, and the
conventions that state one value in two places."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview.qc import run_qc

from .conftest import CHUNKS, Written, smooth, write_n5_viewer


def _findings(path: Path, code: str) -> list:  # type: ignore[type-arg]
    return [f for f in run_qc(path).findings if f.code == code]


def test_level_with_the_wrong_shape(ngff: Written) -> None:
    arr = zarr.create_array(str(ngff.path / "s1"), shape=(4, 60, 45), chunks=CHUNKS,
                            dtype="uint16", overwrite=True, zarr_format=3)
    arr[...] = smooth((4, 60, 45))
    report = run_qc(ngff.path)
    [f] = [f for f in report.findings if f.severity != "info"]
    assert (f.code, f.severity, f.where.level, f.where.path, f.where.key) == (
        "pyramid.shape", "error", 1, "s1", "s1/zarr.json",
    )
    assert "y: 60, expected 50" in f.what
    assert report.exit_code() == 1


def test_wrong_downsampling_factor_in_ngff_scale(ngff: Written) -> None:
    group = zarr.open_group(str(ngff.path), mode="a")
    ome = copy.deepcopy(dict(group.attrs["ome"]))
    ome["multiscales"][0]["datasets"][2]["coordinateTransformations"][0]["scale"] = [1, 2, 2]
    group.attrs["ome"] = ome
    [f] = run_qc(ngff.path).findings
    assert (f.code, f.severity, f.where.level, f.where.key) == (
        "pyramid.factor", "error", 2, "zarr.json",
    )
    assert "y: declared ×2 but the shape (25 of 100) says ×4" in f.what
    assert "×4 along y" in f.fix


def test_wrong_downsampling_factor_in_n5_viewer_levels(tmp_path: Path) -> None:
    written = write_n5_viewer(tmp_path / "f.n5", factors=[[1, 1, 1], [4, 4, 1]])
    [f] = run_qc(written.path).findings
    assert (f.code, f.where.level, f.where.path, f.where.key) == (
        "pyramid.factor", 1, "s1", "s1/attributes.json",
    )
    assert "x: declared ×4" in f.what and "says ×2" in f.what


def test_one_pixel_off_is_a_warning(ngff: Written) -> None:
    data = smooth((4, 51, 45))
    arr = zarr.create_array(str(ngff.path / "s1"), shape=data.shape, chunks=CHUNKS,
                            dtype="uint16", overwrite=True, zarr_format=3)
    arr[...] = data
    [f] = [f for f in run_qc(ngff.path).findings if f.code == "pyramid.shape"]
    assert f.severity == "warning" and "one pixel" in f.why


def test_level_with_other_dtype_and_channels(tmp_path: Path) -> None:
    pytest.importorskip("ome_zarr")
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    path = tmp_path / "czyx.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    image = np.stack([smooth((2, 64, 64), seed=s) for s in (1, 2)])
    write_image(image, group, axes="czyx", scale_factors=(2,), fmt=FormatV04(),
                storage_options={"chunks": (1, 2, 32, 32)})
    wrong = zarr.create_array(str(path / "s1"), shape=(1, 2, 32, 32), chunks=(1, 2, 32, 32),
                              dtype="float32", overwrite=True, zarr_format=2,
                              chunk_key_encoding={"name": "v2", "separator": "/"})
    wrong[...] = image[:1, :, ::2, ::2]
    found = {f.code: f for f in run_qc(path).findings}
    assert found["pyramid.dtype"].where.level == 1 and "float32" in found["pyramid.dtype"].what
    assert found["pyramid.channels"].where.key == "s1/.zarray"
    assert "1 channels along c, level 0 has 2" in found["pyramid.channels"].what


def test_coarse_level_with_other_intensities(ngff: Written) -> None:
    arr = zarr.open_array(str(ngff.path / "s1"), mode="a")
    arr[...] = arr[...] // 3  # rescaled on conversion
    found = _findings(ngff.path, "pyramid.intensity")
    assert [(f.where.level, f.severity) for f in found] == [(1, "warning"), (2, "warning")]
    assert "level 1 (s1) does not look like level 0 downsampled" in found[0].what
    assert found[0].where.key is not None and found[0].where.key.startswith("s1/c/")


def test_n5_viewer_scales_disagree_with_level_factors(tmp_path: Path) -> None:
    z5py = pytest.importorskip("z5py")
    path = tmp_path / "scales.n5"
    base = smooth((4, 32, 32))
    f = z5py.File(str(path), mode="w", use_zarr_format=False)
    f.attrs["scales"] = [[1, 1, 1], [2, 2, 1]]
    for i, data in enumerate((base, np.ascontiguousarray(base[:, ::2, ::2]))):
        ds = f.create_dataset(f"s{i}", data=data, chunks=(2, 16, 16), compression="raw")
        ds.attrs["downsamplingFactors"] = [[1, 1, 1], [2, 2, 2]][i]
    [finding] = run_qc(path).findings
    assert (finding.code, finding.severity, finding.where.level, finding.where.key) == (
        "metadata.inconsistent", "warning", 1, "s1/attributes.json",
    )
    assert "[2.0, 2.0, 1.0]" in finding.what and "[2.0, 2.0, 2.0]" in finding.what


def test_bdv_setup_factors_disagree_with_a_level(tmp_path: Path) -> None:
    z5py = pytest.importorskip("z5py")
    path = tmp_path / "bdv.n5"
    f = z5py.File(str(path), mode="w", use_zarr_format=False)
    setup = f.create_group("setup0")
    setup.attrs["downsamplingFactors"] = [[1, 1, 1], [2, 2, 1]]
    setup.attrs["dataType"] = "uint16"
    tp = setup.create_group("timepoint0")
    base = smooth((4, 32, 32))
    for i, data in enumerate((base, np.ascontiguousarray(base[:, ::2, ::2]))):
        ds = tp.create_dataset(f"s{i}", data=data, chunks=(2, 16, 16), compression="gzip")
        ds.attrs["downsamplingFactors"] = [[1, 1, 1], [2, 2, 4]][i]
    report = run_qc(path)
    [finding] = report.findings
    assert (finding.code, finding.where.level, finding.where.key) == (
        "metadata.inconsistent", 1, "setup0/timepoint0/s1/attributes.json",
    )
    assert report.convention == "BigDataViewer N5"
    assert report.levels[0].counts["ok"] == report.levels[0].n_chunks  # stacked levels scan


def test_cosem_group_and_level_transforms_disagree(tmp_path: Path) -> None:
    z5py = pytest.importorskip("z5py")
    path = tmp_path / "cosem.n5"
    g = z5py.File(str(path), mode="w", use_zarr_format=False).create_group("em")
    base = smooth((4, 32, 32))
    datasets = []
    for i, data in enumerate((base, np.ascontiguousarray(base[:, ::2, ::2]))):
        tf = {"axes": ["z", "y", "x"], "scale": [1.0, 4.0 * 2**i, 4.0 * 2**i],
              "translate": [0.0, 0.0, 0.0], "units": ["nm"] * 3}
        ds = g.create_dataset(f"s{i}", data=data, chunks=(2, 16, 16), compression="gzip")
        ds.attrs["transform"] = {**tf, "scale": [1.0, 4.0, 4.0]} if i else tf
        datasets.append({"path": f"s{i}", "transform": tf})
    g.attrs["multiscales"] = [{"datasets": datasets}]
    [finding] = run_qc(path / "em").findings
    assert (finding.code, finding.where.level, finding.where.key) == (
        "metadata.inconsistent", 1, "s1/attributes.json",  # relative to the opened root
    )
    assert "transform.scale" in finding.what

"""Metadata checks on out-of-spec documents from the conformance corpus (copied or
materialised in ``tmp_path``; the corpus is never written to): the OME-NGFF spec's own
invalid test cases and the ome-ngff-validator's invalid samples are reported as
``metadata.ngff_schema`` errors at the group's metadata document, valid ones are not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.model import ChunkviewError
from napari_chunkview.qc import failed_open_report, run_qc

from ..corpus import CORPUS
from .conftest import copy_corpus

pytestmark = pytest.mark.corpus
SUITES = CORPUS / "ngff-examples" / "ome-ngff@0.5.2"


def suite_cases() -> list[Any]:
    out = []
    for version in ("0.4", "0.5"):
        path = SUITES / version / "tests" / "image_suite.json"
        if not path.is_file():
            continue
        for t in json.loads(path.read_text())["tests"]:
            name = (t.get("formerly") or t["description"]).rsplit("/", 1)[-1]
            out.append(pytest.param(version, t["data"], t["valid"], id=f"{version}:{name}"))
    if not out:
        out.append(pytest.param(None, None, None, marks=pytest.mark.skip(
            reason=f"conformance corpus not found at {CORPUS} (ngff-examples)")))
    return out


def materialise(path: Path, version: str, attrs: dict[str, Any]) -> None:
    """A group with the case's attributes over small arrays at every dataset path (zarr
    v2 for 0.4, v3 for 0.5), written by zarr-python."""
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    group.attrs.update(attrs)
    ms = (attrs.get("ome", attrs).get("multiscales") or [{}])[0]
    axes = ms.get("axes")
    ndim = len(axes) if isinstance(axes, list) and axes else 2
    for ds in ms.get("datasets") or []:
        rel = ds.get("path") if isinstance(ds, dict) else None
        if isinstance(rel, str) and rel and ".." not in rel:
            arr = zarr.create_array(str(path / rel), shape=(8,) * ndim, chunks=(4,) * ndim,
                                    dtype="uint8", zarr_format=2 if version == "0.4" else 3)
            arr[...] = np.arange(8**ndim, dtype="uint8").reshape((8,) * ndim) % 200 + 1


@pytest.mark.parametrize(("version", "attrs", "valid"), suite_cases())
def test_ngff_spec_cases(tmp_path: Path, version: str, attrs: dict[str, Any], valid: bool) -> None:
    path = tmp_path / "case.zarr"
    materialise(path, version, copy.deepcopy(attrs))
    try:
        report = run_qc(path)
    except ChunkviewError as e:
        if valid:
            pytest.skip(f"this materialisation of a valid case does not open ({e})")
        # refused at open: ``chunkview qc`` reports that as its one error
        failed = failed_open_report(str(path), e)
        assert [f.code for f in failed.findings] == ["open.failed"]
        assert failed.exit_code() == 1
        return
    schema = [f for f in report.findings if f.code == "metadata.ngff_schema"]
    if valid:
        assert schema == []
        return
    doc = ".zattrs" if version == "0.4" else "zarr.json"
    found = [f for f in report.findings if f.code.startswith("metadata.") and f.where.key == doc]
    assert found, "an out-of-spec document must be reported at its metadata document"
    if schema:
        [f] = schema
        assert f.severity == "error" and report.exit_code() == 1
        assert f.where.level is None and f.why and f.fix
    else:
        # ome-zarr-models lets these through (it coerces "100" to a number and does not
        # check omero in 0.5); the lenient parser still says what is wrong
        assert {f.code for f in found} == {"metadata.lenient"}
        assert all(f.severity == "warning" and "omero" in f.what for f in found)


def test_validator_sample_missing_window_min(tmp_path: Path) -> None:
    """ome-ngff-validator's ``missing_min.zarr`` (metadata only): the schema error at
    ``.zattrs``, and every level of the image and of its label image empty. With the
    chunks written and the window fixed, its twin reports nothing."""
    path = copy_corpus("ome-ngff-validator/test_samples/invalid/missing_min.zarr", tmp_path)
    report = run_qc(path)
    [schema] = [f for f in report.findings if f.code == "metadata.ngff_schema"]
    assert schema.where.key == ".zattrs" and "window.min" in schema.what
    # the napari reader's quick open defers validation: QC still runs it
    quick = open_pyramid(path, validate=False)
    assert not any("window.min" in w for w in quick.warnings)
    again = run_qc(quick)
    assert [f.what for f in again.findings if f.code == "metadata.ngff_schema"] == [schema.what]
    empty = [(f.where.image, f.where.level) for f in report.findings if f.code == "level.empty"]
    assert empty == [("", i) for i in range(4)] + [("labels/coins", i) for i in range(4)]

    group = zarr.open_group(str(path), mode="a")
    attrs = copy.deepcopy(dict(group.attrs))
    for ch in attrs["omero"]["channels"]:
        ch["window"].update({"min": 0, "max": 255})
    group.attrs.put(attrs)
    for image in ("", "labels/coins"):
        for i in range(4):
            arr = zarr.open_array(str(path / image / str(i)), mode="a")
            yy, xx = np.indices(arr.shape[-2:])
            plane = (yy // (2**(3 - i)) + xx // (2**(3 - i))) % 7 + 1  # coarse blocks
            arr[...] = np.broadcast_to(plane, arr.shape).astype(arr.dtype)
    twin = run_qc(path, sample=0.25)
    assert [f for f in twin.findings if f.severity != "info"] == []

"""OME-NGFF 0.1-0.5 on datasets written by ome-zarr-py and zarr-python 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.formats import open_node, pyramid_from_node
from napari_chunkview.model import MetadataError, Pyramid, UnsafePathError, UnsupportedError

from .conftest import Written, read_json


def open_counting(path: Path | str) -> tuple[Pyramid, list[str]]:
    """Open (metadata only) and return the chunk keys read while opening."""
    node = open_node(path)
    chunks: list[str] = []
    node.root.add_listener(lambda ev: None if ev.metadata else chunks.append(ev.key))
    return pyramid_from_node(node), chunks


def edit_attrs(path: Path, fn: Any) -> None:
    """Rewrite a zarr v2 group's ``.zattrs`` through ``fn(attrs)`` (a copy of a fixture)."""
    attrs = read_json(path / ".zattrs")
    fn(attrs)
    (path / ".zattrs").write_text(json.dumps(attrs))


@pytest.fixture
def ngff04_copy(ngff04_labels: Written, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.zarr"
    shutil.copytree(ngff04_labels.path, dst)
    return dst


# -- 0.4 with labels (ome-zarr-py) ----------------------------------------------------------
def test_ngff04_levels_axes_transforms(ngff04_labels: Written) -> None:
    pyr, chunks = open_counting(ngff04_labels.path)
    assert chunks == []
    px, factors = ngff04_labels.params["px"], ngff04_labels.params["factors"]
    assert pyr.provenance.convention == "OME-NGFF 0.4"
    assert "multiscales" in pyr.provenance.reason
    assert pyr.kind == "image" and pyr.warnings == ()
    assert pyr.axis_names == ("c", "z", "y", "x")
    assert [a.type for a in pyr.axes] == ["channel", "space", "space", "space"]
    assert pyr.units == (None, "micrometer", "micrometer", "micrometer")
    image = ngff04_labels.levels[0]
    assert len(pyr.levels) == len(factors)
    for level, f in zip(pyr.levels, factors, strict=True):
        # ome-zarr-py's list scale_factors downsample y and x only
        fs = {"c": 1, "z": 1, "y": f, "x": f}
        assert level.shape == tuple(
            -(-n // fs[a]) for n, a in zip(image.shape, "czyx", strict=True)
        )
        assert level.scale == pytest.approx([px[a] * fs[a] for a in "czyx"])
        assert level.translation == pytest.approx([(fs[a] - 1) / 2 * px[a] for a in "czyx"])
    assert [lv.shape for lv in pyr.levels] == sorted((lv.shape for lv in pyr.levels), reverse=True)


def test_ngff04_data_matches_writer(ngff04_labels: Written) -> None:
    pyr = open_pyramid(ngff04_labels.path)
    np.testing.assert_array_equal(pyr.levels[0].data.compute(), ngff04_labels.levels[0])
    group = zarr.open_group(ngff04_labels.path, mode="r")
    for level in pyr.levels[1:]:  # levels the writer computed: compare with zarr-python
        np.testing.assert_array_equal(level.data.compute(), group[level.path][...])


def test_ngff04_omero_channels(ngff04_labels: Written) -> None:
    pyr = open_pyramid(ngff04_labels.path)
    written = ngff04_labels.params["omero"]["channels"]
    assert [c.name for c in pyr.channels] == [c["label"] for c in written]
    assert [c.color for c in pyr.channels] == ["#" + c["color"].upper() for c in written]
    assert [c.window for c in pyr.channels] == [
        (c["window"]["start"], c["window"]["end"]) for c in written
    ]
    assert [c.visible for c in pyr.channels] == [c["active"] for c in written]


def test_ngff04_labels(ngff04_labels: Written) -> None:
    pyr = open_pyramid(ngff04_labels.path)
    assert len(pyr.labels) == 1
    lab = pyr.labels[0]
    assert lab.kind == "labels" and lab.name == "cells"
    assert lab.path.endswith("labels/cells")
    assert lab.axis_names == ("z", "y", "x")
    assert lab.label_colors == {
        c["label-value"]: tuple(v / 255 for v in c["rgba"]) for c in ngff04_labels.params["colors"]
    }
    assert len(lab.levels) == 3
    np.testing.assert_array_equal(lab.levels[0].data.compute(), ngff04_labels.params["labels"])
    assert lab.levels[0].scale == pytest.approx([0.5, 0.25, 0.25])


def test_label_image_opened_directly(ngff04_labels: Written) -> None:
    lab = open_pyramid(ngff04_labels.path / "labels" / "cells")
    assert lab.kind == "labels" and lab.labels == ()
    assert lab.label_colors and lab.provenance.convention == "OME-NGFF 0.4"


def test_labels_group_opened_directly(ngff04_labels: Written) -> None:
    lab = open_pyramid(ngff04_labels.path / "labels")
    assert lab.kind == "labels" and lab.name == "cells"


def test_broken_label_is_skipped_with_warning(ngff04_copy: Path) -> None:
    edit_attrs(ngff04_copy / "labels", lambda a: a["labels"].extend(["missing", "../../escape"]))
    shutil.rmtree(ngff04_copy / "labels" / "cells" / "s1")
    pyr = open_pyramid(ngff04_copy)
    assert pyr.labels == ()
    text = " | ".join(pyr.warnings)
    for name in ("labels/cells", "labels/missing", "labels/../../escape"):
        assert name in text
    assert len(pyr.levels) == 3  # the image itself is untouched


# -- 0.5 sharded, multichannel (zarr-python 3) ----------------------------------------------
def test_ngff05_sharded(ngff05_sharded: Written) -> None:
    pyr, chunks = open_counting(ngff05_sharded.path)
    assert chunks == []
    p = ngff05_sharded.params
    assert pyr.provenance.convention == "OME-NGFF 0.5"
    assert "ome.multiscales" in pyr.provenance.reason
    assert pyr.warnings == ()
    assert pyr.name == p["ome"]["multiscales"][0]["name"]
    assert pyr.axis_names == ("c", "y", "x") and pyr.units == (None, "micrometer", "micrometer")
    g = p["global_scale"]
    for level, ds in zip(pyr.levels, p["ome"]["multiscales"][0]["datasets"], strict=True):
        s, t = (ct[ct["type"]] for ct in ds["coordinateTransformations"])
        assert level.scale == pytest.approx([a * b for a, b in zip(s, g, strict=True)])
        assert level.translation == pytest.approx([a * b for a, b in zip(t, g, strict=True)])
        assert level.grid.shard_shape == (1, 16, 16) and level.grid.chunk_shape == (1, 8, 8)
    assert [(c.name, c.color, c.window) for c in pyr.channels] == [
        (c["label"], f"#{c['color']}", (c["window"]["start"], c["window"]["end"]))
        for c in p["ome"]["omero"]["channels"]
    ]
    data = open_pyramid(ngff05_sharded.path)
    for level, written in zip(data.levels, ngff05_sharded.levels, strict=True):
        np.testing.assert_array_equal(level.data.compute(), written)


# -- 0.1 - 0.3 ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["0.1", "0.2", "0.3"])
def test_ngff_old_versions(ngff_old: dict[str, Written], version: str) -> None:
    w = ngff_old[version]
    pyr = open_pyramid(w.path)
    assert pyr.provenance.convention == f"OME-NGFF {version}"
    assert pyr.warnings == ()
    expected = ("z", "y", "x") if version == "0.3" else ("t", "c", "z", "y", "x")
    assert pyr.axis_names == expected
    base = w.levels[0].shape
    for level, written in zip(pyr.levels, w.levels, strict=True):
        assert level.shape == written.shape
        assert level.scale == pytest.approx(
            [b / s for b, s in zip(base, written.shape, strict=True)]
        )
        np.testing.assert_array_equal(level.data.compute(), written)


def test_ngff02_without_5d_arrays_warns(tmp_path: Path) -> None:
    root = zarr.open_group(
        tmp_path / "a.zarr",
        mode="w",
        zarr_format=2,
        attributes={"multiscales": [{"version": "0.2", "datasets": [{"path": "0"}]}]},
    )
    root.create_array("0", shape=(16, 16), dtype="uint8", chunks=(8, 8))
    pyr = open_pyramid(tmp_path / "a.zarr")
    assert pyr.axis_names == ("y", "x")
    assert any("axes" in w and "2-D" in w for w in pyr.warnings)


# -- errors that make the image impossible --------------------------------------------------
ERRORS: list[tuple[str, Any, str]] = [
    ("no datasets", lambda a: a["multiscales"][0].update(datasets=[]), "datasets"),
    (
        "dataset missing",
        lambda a: a["multiscales"][0]["datasets"][1].update(path="s9"),
        "datasets[1].path 's9'",
    ),
    ("axes count", lambda a: a["multiscales"][0]["axes"].pop(0), "axes"),
    (
        "scale length",
        lambda a: a["multiscales"][0]["datasets"][0]["coordinateTransformations"][0].update(
            scale=[1, 2]
        ),
        "scale",
    ),
    (
        "scale not numbers",
        lambda a: a["multiscales"][0]["datasets"][0]["coordinateTransformations"][0].update(
            scale=["a", 1, 1, 1]
        ),
        "coordinateTransformations[0].scale",
    ),
    (
        "zero scale",
        lambda a: a["multiscales"][0]["datasets"][0]["coordinateTransformations"][0].update(
            scale=[1, 0, 1, 1]
        ),
        "scale",
    ),
    (
        "path escapes",
        lambda a: a["multiscales"][0]["datasets"][0].update(path="../../etc"),
        "../../etc",
    ),
    (
        "url path",
        lambda a: a["multiscales"][0]["datasets"][0].update(path="https://example.org/x"),
        "https://example.org/x",
    ),
    (
        "unknown transform",
        lambda a: a["multiscales"][0]["datasets"][0]["coordinateTransformations"][0].update(
            type="shear"
        ),
        "type 'shear'",
    ),
    (
        "unknown version, no layout",
        lambda a: a["multiscales"][0].update(
            version="9.9",
            axes=[],
            datasets=[{"path": d["path"]} for d in a["multiscales"][0]["datasets"]],
        ),
        "version '9.9'",
    ),
]


@pytest.mark.parametrize(("case", "edit", "needle"), ERRORS, ids=[e[0] for e in ERRORS])
def test_impossible_metadata_raises(ngff04_copy: Path, case: str, edit: Any, needle: str) -> None:
    edit_attrs(ngff04_copy, edit)
    with pytest.raises(MetadataError) as info:
        open_pyramid(ngff04_copy)
    msg = str(info.value)
    assert needle in msg
    assert str(ngff04_copy) in msg  # where
    assert "Traceback" not in msg and "pydantic" not in msg
    if case in ("path escapes", "url path"):
        assert isinstance(info.value, UnsafePathError)


def test_fixable_problems_become_warnings(ngff04_copy: Path) -> None:
    def edit(a: dict[str, Any]) -> None:
        m = a["multiscales"][0]
        m["version"] = "0.3"  # but objects for axes: a 0.4 layout
        m["axes"][1]["type"] = "depth"
        m["datasets"][0]["coordinateTransformations"].reverse()  # translation, then scale
        a["omero"]["channels"][0]["color"] = "blue"

    edit_attrs(ngff04_copy, edit)
    pyr = open_pyramid(ngff04_copy)
    text = " | ".join(pyr.warnings)
    for key in ("version", "axes[1].type", "coordinateTransformations", "color"):
        assert key in text
    assert "does not validate" in text  # ome-zarr-models' summary, one line
    assert "pydantic" not in text and "errors.pydantic.dev" not in text
    assert pyr.channels[0].color is None
    assert pyr.axes[1].type == "custom"


def test_multiscale_level_translation_composes(ngff04_copy: Path) -> None:
    edit_attrs(
        ngff04_copy,
        lambda a: a["multiscales"][0].update(
            coordinateTransformations=[
                {"type": "scale", "scale": [1, 2, 3, 4]},
                {"type": "translation", "translation": [0, 10, 20, 30]},
            ]
        ),
    )
    pyr = open_pyramid(ngff04_copy)
    ds = read_json(ngff04_copy / ".zattrs")["multiscales"][0]["datasets"]
    for level, d in zip(pyr.levels, ds, strict=True):
        s, t = (
            d["coordinateTransformations"][0]["scale"],
            d["coordinateTransformations"][1]["translation"],
        )
        assert level.scale == pytest.approx([a * b for a, b in zip(s, [1, 2, 3, 4], strict=True)])
        assert level.translation == pytest.approx(
            [a * b + c for a, b, c in zip(t, [1, 2, 3, 4], [0, 10, 20, 30], strict=True)]
        )


def test_path_referenced_transform_is_ignored_with_warning(ngff04_copy: Path) -> None:
    edit_attrs(
        ngff04_copy,
        lambda a: a["multiscales"][0]["datasets"][0]["coordinateTransformations"].append(
            {"type": "translation", "path": "transforms/t0"}
        ),
    )
    pyr = open_pyramid(ngff04_copy)
    assert any("transforms/t0" in w for w in pyr.warnings)


# -- other OME-NGFF groups ------------------------------------------------------------------
def test_bioformats2raw_opens_series_0(bf2raw: Written) -> None:
    pyr = open_pyramid(bf2raw.path)
    assert pyr.path == "0" and pyr.provenance.convention == "OME-NGFF 0.4"
    assert "bioformats2raw" in pyr.provenance.reason
    assert any("2 series" in w for w in pyr.warnings)
    np.testing.assert_array_equal(pyr.levels[0].data.compute(), bf2raw.levels[0])


@pytest.mark.parametrize("kind", ["plate", "well"])
def test_hcs_is_refused_clearly(tmp_path: Path, kind: str) -> None:
    attrs = {
        "plate": {
            "plate": {
                "rows": [{"name": "A"}],
                "columns": [{"name": "1"}],
                "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}],
                "version": "0.4",
            }
        },
        "well": {"well": {"images": [{"path": "0"}], "version": "0.4"}},
    }[kind]
    zarr.open_group(tmp_path / "hcs.zarr", mode="w", zarr_format=2, attributes=attrs)
    with pytest.raises(UnsupportedError, match=f"HCS {kind}s .* not supported yet"):
        open_pyramid(tmp_path / "hcs.zarr")


def test_ngff06_dev_best_effort(tmp_path: Path) -> None:
    ome = {
        "version": "0.6rc0",
        "multiscales": [
            {
                "coordinateSystems": [
                    {
                        "name": "physical",
                        "axes": [
                            {"name": "y", "type": "space", "unit": "micrometer"},
                            {"name": "x", "type": "space", "unit": "micrometer"},
                        ],
                    }
                ],
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [
                            {
                                "type": "scale",
                                "scale": [0.5, 0.5],
                                "input": "0",
                                "output": "physical",
                            }
                        ],
                    },
                    {
                        "path": "1",
                        "coordinateTransformations": [
                            {
                                "type": "sequence",
                                "input": "1",
                                "output": "physical",
                                "transformations": [
                                    {"type": "scale", "scale": [1.0, 1.0]},
                                    {"type": "translation", "translation": [0.25, 0.25]},
                                ],
                            }
                        ],
                    },
                ],
            }
        ],
    }
    root = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3, attributes={"ome": ome})
    root.create_array("0", shape=(16, 16), dtype="uint8", chunks=(8, 8))
    root.create_array("1", shape=(8, 8), dtype="uint8", chunks=(8, 8))
    pyr = open_pyramid(tmp_path / "a.zarr")
    assert pyr.provenance.convention == "OME-NGFF 0.6"
    assert pyr.units == ("micrometer", "micrometer")
    assert pyr.levels[1].scale == (1.0, 1.0) and pyr.levels[1].translation == (0.25, 0.25)
    assert any("best effort" in w for w in pyr.warnings)


def test_validation_import_is_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, napari_chunkview.formats;"
        "print(any(m.startswith('ome_zarr_models') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_datasets_out_of_order_are_sorted(ngff04_copy: Path) -> None:
    edit_attrs(ngff04_copy, lambda a: a["multiscales"][0]["datasets"].reverse())
    pyr = open_pyramid(ngff04_copy)
    assert [lv.path for lv in pyr.levels] == ["s0", "s1", "s2"]
    assert pyr.levels[0].scale == pytest.approx([1.0, 0.5, 0.25, 0.25])
    assert any("largest first" in w for w in pyr.warnings)


def test_dimension_names_that_disagree_warn(ngff05_sharded: Written, tmp_path: Path) -> None:
    dst = tmp_path / "copy.zarr"
    shutil.copytree(ngff05_sharded.path, dst)
    doc = read_json(dst / "zarr.json")
    doc["attributes"]["ome"]["multiscales"][0]["axes"][1]["name"] = "row"
    (dst / "zarr.json").write_text(json.dumps(doc))
    pyr = open_pyramid(dst)
    assert pyr.axis_names == ("c", "row", "x")
    assert any("dimension_names" in w for w in pyr.warnings)


def test_ome_container_in_zarr_v2_warns(tmp_path: Path) -> None:
    ome = {
        "version": "0.5",
        "multiscales": [
            {
                "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
                "datasets": [
                    {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1]}]}
                ],
            }
        ],
    }
    root = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=2, attributes={"ome": ome})
    root.create_array("0", shape=(8, 8), dtype="uint8", chunks=(8, 8))
    pyr = open_pyramid(tmp_path / "a.zarr")
    assert pyr.provenance.convention == "OME-NGFF 0.5"
    assert any("Zarr v3" in w for w in pyr.warnings)

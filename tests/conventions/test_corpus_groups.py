"""Every multiscale group of the shared corpus (``manifest.json`` ``groups`` whose
attributes carry ``multiscales`` / ``scales`` / ``ome`` / n5-viewer keys), and the n5-ij
single-array fixtures: level count, scale and units as their metadata says, opened fast
and without reading a chunk. Groups whose level arrays are not in the corpus must raise
``MetadataError`` naming the missing path."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from napari_chunkview.formats import open_node, pyramid_from_node
from napari_chunkview.model import MetadataError, Pyramid

from .conftest import CORPUS

pytestmark = pytest.mark.corpus
KEYS = {"multiscales", "scales", "ome", "pixelResolution", "downsamplingFactors"}
#: The unit vocabulary the conventions report in (OME-NGFF / UDUNITS-2 names).
UNITS = {"mm": "millimeter", "um": "micrometer", "nm": "nanometer"}
MAX_OPEN_SECONDS = 2.0


def groups() -> list[Any]:
    if not (CORPUS / "manifest.json").is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no corpus at {CORPUS}"))]
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [pytest.param(g, id=g["path"]) for g in manifest["groups"] if KEYS & set(g["attrs"])]


def has_metadata(path: Path) -> bool:
    return any((path / k).is_file() for k in (".zarray", "zarr.json", "attributes.json"))


def compose(transforms: list[Mapping[str, Any]], ndim: int) -> tuple[list[float], list[float]]:
    s, t = [1.0] * ndim, [0.0] * ndim
    for tr in transforms:
        if tr["type"] == "scale":
            s = [a * b for a, b in zip(s, tr["scale"], strict=True)]
            t = [a * b for a, b in zip(t, tr["scale"], strict=True)]
        elif tr["type"] == "translation":
            t = [a + b for a, b in zip(t, tr["translation"], strict=True)]
    return s, t


def expected(
    group: Path, attrs: Mapping[str, Any]
) -> tuple[list[str], list[list[float]] | None, list[Any] | None]:
    """(level paths, scale per level or None when derived from shapes, units or None)."""
    n5 = (group / "attributes.json").is_file()
    ms = attrs.get("ome", attrs).get("multiscales")
    if isinstance(ms, Mapping):  # n5-universe canonical
        return [d["path"] for d in ms["datasets"]], None, None
    if isinstance(ms, list):
        m = ms[0]
        paths = [d["path"] for d in m["datasets"]]
        if "transform" in m["datasets"][0]:  # COSEM
            return paths, [d["transform"]["scale"] for d in m["datasets"]], None
        axes = m.get("axes")
        if axes is None:  # 0.1 / 0.2
            return paths, None, None
        units = [a.get("unit", a.get("units")) for a in axes]
        top = m.get("coordinateTransformations") or []
        scales = [
            compose(d["coordinateTransformations"] + top, len(axes))[0] for d in m["datasets"]
        ]
        return paths, scales, units
    # n5-viewer: group "scales", or levels s0… with downsamplingFactors
    res = attrs.get("pixelResolution", {})
    dims = res.get("dimensions") if isinstance(res, Mapping) else res
    unit = UNITS.get(res.get("unit"), res.get("unit")) if isinstance(res, Mapping) else None
    if "scales" in attrs:
        paths, factors = [f"s{i}" for i in range(len(attrs["scales"]))], attrs["scales"]
    else:
        paths = sorted(
            (p.name for p in group.iterdir() if p.name[1:].isdigit()), key=lambda n: int(n[1:])
        )
        factors = [
            json.loads((group / p / "attributes.json").read_text())["downsamplingFactors"]
            for p in paths
        ]
    rev = (lambda v: list(v)[::-1]) if n5 else list
    scales = [
        [f * r for f, r in zip(rev(fs), rev(dims or [1] * len(fs)), strict=True)] for fs in factors
    ]
    return paths, scales, [unit] * len(factors[0])


def open_timed(path: Path) -> tuple[Pyramid, float, list[str]]:
    """Open ``path`` (a folder without N5 attributes through its container, as N5 groups
    are implicit), timing it and recording the chunk reads."""
    t0 = time.perf_counter()
    if (
        (path / "attributes.json").is_file()
        or has_metadata(path)
        or not (path.parent / "attributes.json").is_file()
    ):
        node = open_node(path)
    else:
        child = open_node(path.parent).child(path.name)
        assert child is not None
        node = child
    chunks: list[str] = []
    node.root.add_listener(lambda ev: None if ev.metadata else chunks.append(ev.key))
    pyr = pyramid_from_node(node)
    return pyr, time.perf_counter() - t0, chunks


@pytest.mark.parametrize("group", groups())
def test_corpus_group(group: dict[str, Any]) -> None:
    path = CORPUS / group["path"]
    if (path / "attributes.json").is_file():
        pytest.importorskip("napari_chunkview.formats.n5")
    paths, scales, units = expected(path, group["attrs"])
    missing = [p for p in paths if not has_metadata(path / p)]
    if missing:
        with pytest.raises(MetadataError) as info:
            pyramid_from_node(open_node(path))
        assert repr(missing[0]) in str(info.value) or missing[0] in str(info.value)
        return
    pyr, seconds, chunks = open_timed(path)
    assert chunks == [], "opening read chunks"
    assert seconds < MAX_OPEN_SECONDS
    assert [lv.path.rsplit("/", 1)[-1] for lv in pyr.levels] == [
        p.rsplit("/", 1)[-1] for p in paths
    ]
    if scales is None:  # 0.1/0.2: relative to the first level's shape
        base = pyr.levels[0].shape
        scales = [[b / s for b, s in zip(base, lv.shape, strict=True)] for lv in pyr.levels]
    for level, scale in zip(pyr.levels, scales, strict=True):
        assert level.scale == pytest.approx(scale)
    if units is not None:
        assert list(pyr.units) == units
    assert pyr.provenance.reason


N5_FIXTURES = [
    # single arrays and one level group; expectations come from their attributes.json
    "saalfeldlab-n5-ij/src/test/resources/test.n5/cosem",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/cosem_F",
    "saalfeldlab-n5-universe/src/test/resources/test.n5/cosem_ms",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/n5v_ds",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/n5v_pr",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/n5v_pra",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/n5v_pr-ds",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/n5v_pra-ds",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/others/res",
    "saalfeldlab-n5-ij/src/test/resources/test.n5/others/resOff",
    "saalfeldlab-n5-viewer/src/test/resources/axisTest.n5/xyzCanonical",
    "saalfeldlab-n5-viewer/src/test/resources/axisTest.n5/cxyCanonical",
    "saalfeldlab-n5-universe/src/test/resources/canonical.n5/affine",
]


def fixture_expectation(path: Path) -> tuple[str, list[list[float]], list[float]]:
    """(convention, scale per level, first level's translation) from attributes.json."""
    levels = [path] if (path / "attributes.json").is_file() else sorted(path.glob("s*"))
    docs = [json.loads((p / "attributes.json").read_text()) for p in levels]
    if "transform" in docs[0]:
        out = []
        for d in docs:
            tf = d["transform"]
            flip = tf.get("ordering") == "F"
            out.append(
                (
                    tf["scale"][::-1] if flip else tf["scale"],
                    tf["translate"][::-1] if flip else tf["translate"],
                )
            )
        return "COSEM", [s for s, _ in out], out[0][1]
    d = docs[0]
    if "spatialTransform" in d:
        st = d["spatialTransform"]
        kinds = [a["type"] for a in st.get("axes", [{"type": "space"}] * len(d["dimensions"]))]
        n = kinds.count("space")
        aff = st["transform"]["affine"]
        diag = iter([aff[i * (n + 1) + i] for i in range(n)])
        shift = iter([aff[i * (n + 1) + n] for i in range(n)])
        scale = [next(diag) if k == "space" else 1.0 for k in kinds][::-1]
        trans = [next(shift) if k == "space" else 0.0 for k in kinds][::-1]
        return "n5-universe canonical", [scale], trans
    res = d.get("pixelResolution", d.get("res", [1, 1, 1]))
    res = res["dimensions"] if isinstance(res, Mapping) else res
    f = d.get("downsamplingFactors", [1, 1, 1])
    off = d.get("off", [0, 0, 0])
    scale = [a * b for a, b in zip(f, res, strict=True)][::-1]
    trans = [(a - 1) / 2 * b + o for a, b, o in zip(f, res, off, strict=True)][::-1]
    return "n5-viewer", [scale], trans


@pytest.mark.parametrize("rel", N5_FIXTURES)
def test_n5_metadata_fixtures(rel: str) -> None:
    pytest.importorskip("napari_chunkview.formats.n5")
    path = CORPUS / rel
    if not path.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    convention, scales, translation = fixture_expectation(path)
    pyr, seconds, chunks = open_timed(path)
    assert chunks == [] and seconds < MAX_OPEN_SECONDS
    assert pyr.provenance.convention == convention
    assert [list(lv.scale) for lv in pyr.levels] == [pytest.approx(s) for s in scales]
    assert list(pyr.levels[0].translation) == pytest.approx(translation)
    assert math.prod(pyr.shape) > 0

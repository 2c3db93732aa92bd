"""The OME-NGFF spec's own examples and jsonschema test cases (``corpus/ngff-examples``),
materialised as groups with small metadata-only arrays, then opened.

* valid image documents open (a document the schema accepts but whose scale length does
  not match its axes cannot: that one must raise ``MetadataError`` naming ``scale``);
* invalid ones raise ``MetadataError``/``UnsupportedError`` whose message names the
  offending key, or open with a warning naming it;
* plates and wells are refused as not supported yet;
* cases that only the *strict* schemas reject break a SHOULD (e.g. an image-label without
  ``version``): they must open or fail cleanly, but need not warn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import zarr

from napari_chunkview.formats import pyramid_validation, read_pyramid, validation_deferred
from napari_chunkview.model import ChunkviewError, MetadataError, UnsupportedError

from .conftest import CORPUS

EXAMPLES = CORPUS / "ngff-examples"
pytestmark = pytest.mark.corpus

#: Words in a case's name → the metadata keys a message about it should name.
KEYS = {
    "axes": ("axes", "axis"),
    "axis": ("axes", "axis"),
    "path": ("path",),
    "datasets": ("datasets",),
    "multiscales": ("multiscales",),
    "version": ("version",),
    "scale": ("scale", "coordinateTransformations"),
    "transformation": ("coordinateTransformations",),
    "transformations": ("coordinateTransformations",),
    "transform": ("coordinateTransformations",),
    "channels": ("omero", "channels"),
    "color": ("color",),
    "window": ("window",),
    "colors": ("colors",),
    "properties": ("properties",),
    "rgba": ("rgba",),
    "coordinate": ("coordinateSystems", "axes"),
    "systems": ("coordinateSystems", "axes"),
}


def strip_comments(text: str) -> str:
    """The spec's examples are JSON with ``//`` comments: drop them (not inside strings)."""
    out, in_str, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if in_str:
            out.append(ch)
            if ch == "\\":
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
            out.append(ch)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def load(path: Path) -> Any:
    return json.loads(strip_comments(path.read_text()))


def cases() -> Iterator[Any]:
    """(attributes, valid, case name, suite) for every image / label / plate / well
    document (suite: the jsonschema suite's name, or "strict" for the 0.6 strict cases)."""
    if not EXAMPLES.is_dir():
        return
    for suite in sorted(EXAMPLES.glob("*/**/tests/*_suite.json")):
        doc = load(suite)
        for t in doc["tests"]:
            name = (
                (t.get("formerly") or t.get("description") or "")
                .rsplit("/", 1)[-1]
                .removesuffix(".json")
            )
            rel = suite.relative_to(EXAMPLES)
            yield pytest.param(
                t["data"], t["valid"], name, suite.stem, id=f"{rel}:{name}:{t['valid']}"
            )
    for f in sorted(EXAMPLES.glob("ome-ngff@*/0.[123]/examples/*/*/*.json")):
        rel = f.relative_to(EXAMPLES)
        yield pytest.param(load(f), f.parent.name == "valid", f.stem, "", id=str(rel))
    for f in sorted(EXAMPLES.glob("*/**/examples/*_strict/[!.]*.json")):
        doc = load(f)
        rel = f.relative_to(EXAMPLES)
        yield pytest.param(doc.get("attributes", doc), True, f.stem, "", id=str(rel))
    for f in sorted(EXAMPLES.glob("ngff-spec@main-0.6dev/tests/zarr/*/*/image/*/zarr.json")):
        rel = f.relative_to(EXAMPLES)
        valid = f.parent.parent.parent.name == "valid"
        name = f.parent.name.removesuffix(".ome.zarr")
        yield pytest.param(load(f)["attributes"], valid, name, f.parts[-4], id=str(rel))


def multiscale_of(attrs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    container = attrs.get("ome", attrs)
    ms = container.get("multiscales") if isinstance(container, Mapping) else None
    return ms[0] if isinstance(ms, list) and ms and isinstance(ms[0], Mapping) else None


def axes_of(m: Mapping[str, Any]) -> Any:
    """The axes list (0.6: of the first coordinate system)."""
    systems = m.get("coordinateSystems")
    if isinstance(systems, list) and systems and isinstance(systems[0], Mapping):
        return systems[0].get("axes")
    return m.get("axes")


def ndim_of(m: Mapping[str, Any]) -> int:
    """How many dimensions the document's arrays should have: its axes, else its first
    scale, else 5 (0.1/0.2 are 5-D), else 3."""
    axes = axes_of(m)
    if isinstance(axes, list) and axes:
        return len(axes)
    for ds in m.get("datasets") or []:
        s = first_scale(ds)
        if s is not None:
            return len(s)
    return 5 if m.get("version") in ("0.1", "0.2", None) and axes is None else 3


def first_scale(ds: Any) -> list[float] | None:
    if not isinstance(ds, Mapping):
        return None
    stack = list(ds.get("coordinateTransformations") or [])
    while stack:
        t = stack.pop(0)
        if isinstance(t, Mapping) and t.get("type") == "sequence":
            stack = list(t.get("transformations") or []) + stack
        elif (
            isinstance(t, Mapping) and t.get("type") == "scale" and isinstance(t.get("scale"), list)
        ):
            if all(isinstance(v, int | float) and v > 0 for v in t["scale"]):
                return t["scale"]
    return None


def base_shape(attrs: Mapping[str, Any], m: Mapping[str, Any], ndim: int) -> list[int]:
    """16 along each axis, but as many channels as ``omero`` lists (or 1)."""
    axes = axes_of(m)
    container = attrs.get("ome", attrs)
    omero = container.get("omero") if isinstance(container, Mapping) else None
    chans = omero.get("channels") if isinstance(omero, Mapping) else None
    n_c = len(chans) if isinstance(chans, list) and chans else 1
    if not isinstance(axes, list) or len(axes) != ndim:
        return [1, n_c] + [16] * (ndim - 2) if ndim == 5 and axes is None else [16] * ndim
    kinds = [a.get("type") if isinstance(a, Mapping) else None for a in axes]
    names = [a.get("name") if isinstance(a, Mapping) else a for a in axes]
    return [n_c if t == "channel" or n == "c" else 16 for t, n in zip(kinds, names, strict=True)]


def materialise(attrs: dict[str, Any], root: Path) -> Path:
    """The document as a group (v2 ``.zattrs`` up to 0.4, v3 ``zarr.json`` with
    ``attributes.ome`` from 0.5) with an empty array at every dataset path."""
    fmt = 3 if "ome" in attrs else 2
    path = root / "doc.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=fmt)
    m = multiscale_of(attrs)
    datasets = m.get("datasets") if m is not None else None
    if isinstance(datasets, list):
        ndim = ndim_of(m)  # type: ignore[arg-type]
        base = base_shape(attrs, m, ndim)  # type: ignore[arg-type]
        s0 = first_scale(datasets[0]) if datasets else None
        for k, ds in enumerate(datasets):
            if not isinstance(ds, Mapping) or not isinstance(ds.get("path"), str):
                continue
            scale = first_scale(ds)
            if s0 is not None and scale is not None and len(scale) == len(s0) == ndim:
                shape = [max(1, round(n * a / b)) for n, a, b in zip(base, s0, scale, strict=True)]
            else:  # no scales (0.1-0.3): halve the last two axes per level
                shape = base[:-2] + [max(1, n >> k) for n in base[-2:]]
            group.create_array(ds["path"], shape=shape, dtype="uint8", chunks=shape)
    group.attrs.put(attrs)
    return path


def expected_keys(name: str) -> set[str]:
    words = re.split(r"[_\-]", name)
    return {k for w in words for k in KEYS.get(w, ())}


def is_hcs(attrs: Mapping[str, Any]) -> bool:
    container = attrs.get("ome", attrs)
    return isinstance(container, Mapping) and ("plate" in container or "well" in container)


@pytest.mark.parametrize(("attrs", "valid", "name", "suite_name"), list(cases()))
def test_spec_example(
    attrs: dict[str, Any], valid: bool, name: str, suite_name: str, tmp_path: Path
) -> None:
    if not EXAMPLES.is_dir():
        pytest.skip("ngff-examples not found")
    container = attrs.get("ome", attrs)
    if "image-label" in container and "multiscales" not in container:
        # a label document alone: attach it to the simplest valid image
        version = container.get("version", "0.4")
        ms = {
            "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
            "datasets": [
                {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1]}]}
            ],
        }
        if "ome" not in attrs:
            ms["version"] = version
        container = {**container, "multiscales": [ms]}
        attrs = {"ome": container} if "ome" in attrs else container
    if "bioformats2raw.layout" in container or "series" in container:
        pytest.skip("bioformats2raw / OME series documents: covered by the bf2raw fixture")
    m = multiscale_of(attrs)
    if "ome" not in attrs and m is not None and str(m.get("version")).startswith(("0.5", "0.6")):
        # a spec snippet of 0.5+ metadata: it lives in zarr.json attributes.ome
        attrs = {"ome": {**attrs, "version": m["version"]}}
    path = materialise(attrs, tmp_path)
    if is_hcs(attrs):
        with pytest.raises(UnsupportedError, match="not supported yet"):
            read_pyramid(path)
        return
    m = multiscale_of(attrs)
    strict_should = suite_name.startswith("strict_") and not valid
    ds = m.get("datasets") if m else None
    scale = first_scale(ds[0]) if isinstance(ds, list) and ds else None
    axes = axes_of(m) if m else None
    inconsistent = isinstance(axes, list) and axes and scale is not None and len(scale) != len(axes)
    try:
        pyr = read_pyramid(path)
    except ChunkviewError as e:
        msg = str(e)
        assert "Traceback" not in msg
        if valid:
            assert inconsistent and isinstance(e, MetadataError) and "scale" in msg, msg
            return
        keys = expected_keys(name)
        assert strict_should or not keys or any(k in msg for k in keys), (keys, msg)
        return
    assert not inconsistent
    # validation deferred (the napari reader's open), then run: nothing is lost
    with validation_deferred():
        quick = read_pyramid(path)
    later = pyramid_validation(quick)
    assert set(pyr.warnings) <= set(quick.warnings) | set(later), (pyr.warnings, later)
    if valid:
        allowed = ("best effort",)  # dev 0.6 is always read best effort
        assert [w for w in pyr.warnings if not any(a in w for a in allowed)] == []
        if "image-label" in container:
            assert pyr.kind == "labels"
    elif not strict_should:
        keys = expected_keys(name)
        text = " | ".join(pyr.warnings)
        assert any(k in text for k in keys), (keys, pyr.warnings)

"""Property-based tests over metadata documents of every format and convention.

Property: ``open_pyramid`` either returns a consistent ``Pyramid`` (checked by
``check_pyramid``; a corner of its coarsest level then reads, with broken chunks flagged)
or raises a ``ChunkviewError``; never another exception, always within a time bound, and
never with memory near a declared shape.

Documents are generated valid-ish (fields drawn from plausible values) with damage mixed
in (fields dropped, replaced by arbitrary JSON, absurd numbers). Each example is written
into a fresh temporary folder. Profiles: ``ci`` (default, ~150 examples per test) and
``long`` (``HYPOTHESIS_PROFILE=long``, 3000 examples per test).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings

from napari_chunkview import ChunkviewError, open_pyramid
from napari_chunkview.loading import ChunkCache, EventStream, LevelArray

from ._checks import check_pyramid, run_bounded

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=100, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=3000, **_COMMON)  # type: ignore[arg-type]
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
#: Per example (open + a small read); a real hang shows as a failure, not a stuck run.
SECONDS = 20.0
MAX_BYTES = 64 << 20
#: A valid 4x4 uint8 zarr v2 array (chunks 2x2), for groups whose attributes are drawn.
SMALL_V2_ARRAY = {
    "zarr_format": 2,
    "shape": [4, 4],
    "chunks": [2, 2],
    "dtype": "|u1",
    "compressor": None,
    "fill_value": 0,
    "filters": None,
    "order": "C",
}

# -- building blocks ------------------------------------------------------------------------
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# integers that matter: 0, 1, small, edges of int32/int64, huge
extents = st.sampled_from(
    [0, 1, 2, 3, 4, 7, 8, 16, 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64]
) | st.integers(-3, 40)
numbers = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.integers(-4, 8)


def maybe(valid: st.SearchStrategy[Any], p_valid: int = 5) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, sometimes any JSON value."""
    return st.one_of(*([valid] * p_valid), json_values)


def field_dict(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with each field from its strategy, some dropped, sometimes an extra."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = {}
        for k, s in fields.items():
            if draw(st.integers(0, 9)) > 0:  # drop a field one time in ten
                out[k] = draw(s)
        if draw(st.booleans()) and draw(st.booleans()):
            out[draw(st.text(max_size=6))] = draw(json_values)
        return out

    return build()


def shape_like(ndim: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return maybe(ndim.flatmap(lambda n: st.lists(extents, min_size=n, max_size=n)))


def small_shape(ndim: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, 12), min_size=ndim, max_size=ndim)


# -- writing and checking -------------------------------------------------------------------
def write_files(root: Path, files: dict[str, Any]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


def _open_and_read(path: Path) -> Any:
    try:
        pyr = open_pyramid(path)
    except ChunkviewError:
        return None
    check_pyramid(pyr)
    lv = pyr.levels[-1]
    la = LevelArray(lv.source, "prop", ChunkCache(16 << 20), EventStream())
    corner = [(0, min(n, c, 16)) for n, c in zip(la.shape, lv.grid.chunk_shape, strict=True)]
    try:
        out = la.read_box(corner)
    except ChunkviewError:  # e.g. a read refused as too large
        return pyr
    assert out.shape == tuple(b - a for a, b in corner)
    return pyr


def assert_opens_or_refuses(files: dict[str, Any], at: str = "") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        write_files(root, files)
        logging.disable(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pyr, error, peak = run_bounded(lambda: _open_and_read(root / at), SECONDS)
        finally:
            logging.disable(logging.NOTSET)
        if error is not None:
            raise error  # not a ChunkviewError (those are caught above): a bug
        # the read decodes one full chunk of the coarsest level (the loading layer caches
        # whole chunks): memory may scale with that chunk, never with the array's shape
        chunk = 0
        if pyr is not None:
            lv = pyr.levels[-1]
            chunk = math.prod(lv.grid.chunk_shape) * lv.dtype.itemsize
        assert peak < MAX_BYTES + 2 * chunk, f"peak traced memory {peak / 2**20:.0f} MiB"


def given_profile(*strategies: st.SearchStrategy[Any]) -> Callable[..., Any]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        return settings(PROFILE)(given(*strategies)(fn))

    return wrap


# -- zarr v2 --------------------------------------------------------------------------------
dtypes = st.sampled_from(
    [
        "<u1",
        "|u1",
        "<u2",
        ">u2",
        "<i4",
        "<f4",
        ">f8",
        "<c8",
        "|b1",
        "<M8[s]",
        "<U4",
        "|S3",
        "|O",
        "<q9",
        "",
        "u2",
        "float32",
    ]
)
v2_codecs = st.sampled_from(
    [
        None,
        {"id": "gzip", "level": 1},
        {"id": "zlib", "level": 1},
        {"id": "zstd", "level": 1},
        {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
        {"id": "lz4"},
        {"id": "bz2"},
        {"id": "lzma"},
        {"id": "no-such"},
        {"id": "pickle"},
        {"id": "delta", "dtype": "<u2"},
        {"id": "crc32"},
    ]
)


@st.composite
def zarr_v2_array(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    shape = draw(st.one_of(small_shape(ndim), shape_like(st.just(ndim))))
    chunks = draw(st.one_of(small_shape(ndim), shape_like(st.just(ndim))))
    zarray = draw(
        field_dict(
            {
                "zarr_format": maybe(st.just(2), 9),
                "shape": st.just(shape),
                "chunks": st.just(chunks),
                "dtype": maybe(dtypes),
                "compressor": maybe(v2_codecs),
                "fill_value": maybe(st.sampled_from([0, None, "NaN", 1.5, -1])),
                "filters": maybe(st.sampled_from([None, [], [{"id": "delta", "dtype": "<u2"}]])),
                "order": maybe(st.sampled_from(["C", "F"])),
                "dimension_separator": maybe(st.sampled_from([".", "/"])),
            }
        )
    )
    files: dict[str, Any] = {".zarray": zarray}
    if draw(st.booleans()):
        files[".zattrs"] = draw(
            maybe(
                st.fixed_dictionaries(
                    {"_ARRAY_DIMENSIONS": maybe(st.lists(st.text(max_size=3), max_size=3))}
                )
            )
        )
    files.update(draw(chunk_files(zarray, ["0"] * ndim, ".")))
    return files


@st.composite
def chunk_files(
    draw: st.DrawFn, doc: dict[str, Any], index: list[str], sep: str
) -> dict[str, bytes]:
    """Maybe a first chunk: random bytes, or a chunk compressed with a real codec from
    content of a random size (right, short, long or a bomb)."""
    if not draw(st.booleans()):
        return {}
    sep = (
        doc.get("dimension_separator", sep)
        if isinstance(doc.get("dimension_separator"), str)
        else sep
    )
    key = sep.join(index) or "0"
    kind = draw(st.sampled_from(["random", "codec"]))
    if kind == "random":
        return {key: draw(st.binary(max_size=256))}
    n = draw(st.sampled_from([0, 1, 16, 64, 1000, 1 << 16, 1 << 20]))
    codec = draw(
        st.sampled_from(
            [
                numcodecs.GZip(1),
                numcodecs.Zstd(1),
                numcodecs.Blosc(),
                numcodecs.LZ4(),
                numcodecs.Zlib(1),
            ]
        )
    )
    return {key: bytes(codec.encode(bytes(n)))}


# examples: what the long profile found (each was a TypeError or a scale of 0 before)
@given_profile(zarr_v2_array())
@example({".zarray": {"shape": [1], "chunks": [1], "dtype": "<u1", "filters": 1}})
def test_zarr_v2_array(files: dict[str, Any]) -> None:
    assert_opens_or_refuses(files)


# -- zarr v3 --------------------------------------------------------------------------------
def v3_codec(depth: int = 0) -> st.SearchStrategy[Any]:
    leaves = st.sampled_from(
        [
            {"name": "bytes", "configuration": {"endian": "little"}},
            {"name": "bytes"},
            {"name": "bytes", "configuration": {"endian": "big"}},
            {"name": "gzip", "configuration": {"level": 1}},
            {"name": "zstd", "configuration": {"level": 1}},
            {
                "name": "blosc",
                "configuration": {
                    "cname": "lz4",
                    "clevel": 1,
                    "shuffle": "shuffle",
                    "typesize": 2,
                    "blocksize": 0,
                },
            },
            {"name": "crc32c"},
            {"name": "transpose", "configuration": {"order": [1, 0]}},
            {"name": "transpose", "configuration": {"order": [0]}},
            {"name": "no-such-codec"},
            {"name": "numcodecs.pickle"},
            "bytes",
        ]
    )
    if depth >= 1:
        return maybe(leaves, 8)
    shard = st.builds(
        lambda cs, codecs, index, loc: {
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": cs,
                "codecs": codecs,
                "index_codecs": index,
                "index_location": loc,
            },
        },
        shape_like(st.just(2)) | small_shape(2),
        st.lists(v3_codec(1), max_size=3),
        maybe(
            st.just([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}])
        ),
        maybe(st.sampled_from(["start", "end"])),
    )
    return st.one_of(maybe(leaves, 8), shard)


@st.composite
def zarr_v3_array(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.sampled_from([1, 2, 2, 3]))
    shape = draw(st.one_of(small_shape(ndim), shape_like(st.just(ndim))))
    chunk_shape = draw(st.one_of(small_shape(ndim), shape_like(st.just(ndim))))
    codecs = draw(
        st.one_of(
            st.just([{"name": "bytes", "configuration": {"endian": "little"}}]),
            st.lists(v3_codec(), min_size=0, max_size=4),
            json_values,
        )
    )
    doc = draw(
        field_dict(
            {
                "zarr_format": maybe(st.just(3), 9),
                "node_type": maybe(st.just("array"), 9),
                "shape": st.just(shape),
                "data_type": maybe(
                    st.sampled_from(
                        [
                            "uint8",
                            "uint16",
                            "int32",
                            "float32",
                            "float64",
                            "bool",
                            "complex64",
                            "string",
                            "uint3",
                        ]
                    )
                ),
                "chunk_grid": maybe(
                    st.just({"name": "regular", "configuration": {"chunk_shape": chunk_shape}}), 8
                ),
                "chunk_key_encoding": maybe(
                    st.sampled_from(
                        [
                            {"name": "default", "configuration": {"separator": "/"}},
                            {"name": "v2", "configuration": {"separator": "."}},
                            {"name": "default"},
                        ]
                    )
                ),
                "fill_value": maybe(st.sampled_from([0, 1, "NaN", None, True, [0, 0]])),
                "codecs": st.just(codecs),
                "dimension_names": maybe(st.lists(st.none() | st.text(max_size=2), max_size=3)),
                "attributes": maybe(st.just({})),
            }
        )
    )
    files: dict[str, Any] = {"zarr.json": doc}
    files.update(draw(chunk_files({}, ["c", *["0"] * ndim], "/")))
    return files


@given_profile(zarr_v3_array())
@example(
    {
        "zarr.json": {
            "zarr_format": 3,
            "node_type": "array",
            "codecs": [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": None,
                        "codecs": [],
                        "index_codecs": 1,
                        "index_location": "start",
                    },
                }
            ],
        }
    }
)
def test_zarr_v3_array(files: dict[str, Any]) -> None:
    assert_opens_or_refuses(files)


# -- N5 -------------------------------------------------------------------------------------
n5_types = st.sampled_from(
    ["uint8", "uint16", "int64", "float32", "float64", "object", "UINT8", "uint3", "string"]
)
n5_compressions = st.sampled_from(
    [
        {"type": "raw"},
        {"type": "gzip", "level": 1},
        {"type": "gzip", "useZlib": True},
        {"type": "bzip2"},
        {"type": "xz"},
        {"type": "lz4"},
        {"type": "blosc", "cname": "lz4"},
        {"type": "zstd"},
        {"type": "zlib"},
        {"type": "snappy"},
        {"level": 1},
    ]
)


@st.composite
def n5_dataset(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    doc = draw(
        field_dict(
            {
                "dimensions": st.one_of(small_shape(ndim), shape_like(st.just(ndim))),
                "blockSize": st.one_of(small_shape(ndim), shape_like(st.just(ndim))),
                "dataType": maybe(n5_types),
                "compression": maybe(n5_compressions),
            }
        )
    )
    if draw(st.booleans()):
        doc["compressionType"] = draw(maybe(st.sampled_from(["raw", "gzip", "bzip2"])))
    files: dict[str, Any] = {"attributes.json": doc}
    if draw(st.booleans()):  # a first block: N5 header (maybe wrong) + random payload
        dims = draw(
            st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 16), min_size=0, max_size=4)
        )
        mode = draw(st.sampled_from([0, 0, 0, 1, 2, 7]))
        header = np.array([mode, len(dims)], ">u2").tobytes() + np.array(dims, ">u4").tobytes()
        files["/".join(["0"] * ndim)] = header + draw(st.binary(max_size=128))
    return files


@given_profile(n5_dataset())
def test_n5_dataset(files: dict[str, Any]) -> None:
    assert_opens_or_refuses(files)


def _n5_level(shape: list[int], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "dimensions": shape[::-1],
        "blockSize": [4] * len(shape),
        "dataType": "uint8",
        "compression": {"type": "raw"},
        **(extra or {}),
    }


@st.composite
def n5_convention_group(draw: st.DrawFn) -> dict[str, Any]:
    """n5-viewer, BigDataViewer or COSEM group metadata over two real-looking levels."""
    n_levels = draw(st.integers(1, 3))
    ndim = draw(st.integers(2, 3))
    base = draw(small_shape(ndim))
    shapes = [[max(1, s >> i) for s in base] for i in range(n_levels)]
    kind = draw(st.sampled_from(["n5-viewer", "bdv", "cosem"]))
    factors = maybe(
        st.lists(
            st.lists(numbers, min_size=ndim, max_size=ndim), min_size=n_levels, max_size=n_levels
        )
    )
    files: dict[str, Any] = {}
    if kind == "n5-viewer":
        files["attributes.json"] = draw(
            field_dict(
                {
                    "n5": st.just("2.0.0"),
                    "scales": factors,
                    "pixelResolution": maybe(
                        st.fixed_dictionaries(
                            {
                                "unit": maybe(st.sampled_from(["um", "nm", "µm", ""])),
                                "dimensions": st.lists(numbers, min_size=ndim, max_size=ndim),
                            }
                        )
                    ),
                    "resolution": maybe(st.lists(numbers, min_size=ndim, max_size=ndim)),
                }
            )
        )
        for i, s in enumerate(shapes):
            extra = draw(
                field_dict(
                    {"downsamplingFactors": maybe(st.lists(numbers, min_size=ndim, max_size=ndim))}
                )
            )
            files[f"s{i}/attributes.json"] = _n5_level(s, extra)
        return files
    if kind == "bdv":
        files["attributes.json"] = {"n5": "2.0.0"}
        files["setup0/attributes.json"] = draw(
            field_dict({"downsamplingFactors": factors, "dataType": maybe(st.just("uint8"))})
        )
        files["setup0/timepoint0/attributes.json"] = {}
        for i, s in enumerate(shapes):
            files[f"setup0/timepoint0/s{i}/attributes.json"] = _n5_level(s)
        return files
    axes = ["z", "y", "x"][-ndim:]
    transforms = draw(
        st.lists(
            field_dict(
                {
                    "axes": maybe(st.just(axes)),
                    "scale": maybe(st.lists(numbers, min_size=ndim, max_size=ndim)),
                    "translate": maybe(st.lists(numbers, min_size=ndim, max_size=ndim)),
                    "units": maybe(st.just(["nm"] * ndim)),
                    "ordering": maybe(st.sampled_from(["C", "F"])),
                }
            ),
            min_size=n_levels,
            max_size=n_levels,
        )
    )
    paths = draw(
        st.lists(
            maybe(st.sampled_from(["s0", "s1", "s2", "../s0", "/s0", "http://x/s0"])),
            min_size=n_levels,
            max_size=n_levels,
        )
    )
    files["attributes.json"] = {
        "n5": "2.0.0",
        "multiscales": draw(
            maybe(
                st.just(
                    [
                        {
                            "datasets": [
                                {"path": p, "transform": t}
                                for p, t in zip(paths, transforms, strict=True)
                            ]
                        }
                    ]
                )
            )
        ),
    }
    for i, s in enumerate(shapes):
        files[f"s{i}/attributes.json"] = _n5_level(s, {"transform": transforms[i]})
    return files


@given_profile(n5_convention_group())
@example(
    {
        "attributes.json": {
            "scales": [[1.0, 0.5]],
            "pixelResolution": {"unit": "um", "dimensions": [1.0, 5e-324]},
        },
        "s0/attributes.json": {
            "dimensions": [1, 1],
            "blockSize": [4, 4],
            "dataType": "uint8",
            "compression": {"type": "raw"},
        },
    }
)
def test_n5_conventions(files: dict[str, Any]) -> None:
    assert_opens_or_refuses(files)


# -- OME-NGFF 0.1 to 0.5 ---------------------------------------------------------------------
axis_names = st.sampled_from(["t", "c", "z", "y", "x", "q", ""])
axis_types = st.sampled_from(["time", "channel", "space", "custom", None, "banana"])
units = st.sampled_from(["micrometer", "nanometer", "second", "parsec", None, "µm"])


def ome_axes(ndim: int) -> st.SearchStrategy[Any]:
    obj = field_dict({"name": maybe(axis_names), "type": maybe(axis_types), "unit": maybe(units)})
    return maybe(
        st.one_of(
            st.lists(obj, min_size=ndim, max_size=ndim),
            st.lists(maybe(axis_names), min_size=ndim, max_size=ndim),  # 0.3: names only
            st.lists(obj, max_size=5),
        )
    )


def transforms(ndim: int) -> st.SearchStrategy[Any]:
    vec = st.one_of(st.lists(numbers, min_size=ndim, max_size=ndim), st.lists(numbers, max_size=4))
    tf = st.one_of(
        st.builds(lambda v: {"type": "scale", "scale": v}, vec),
        st.builds(lambda v: {"type": "translation", "translation": v}, vec),
        st.just({"type": "identity"}),
        st.just({"type": "scale", "path": "../x"}),
        field_dict(
            {
                "type": maybe(st.sampled_from(["scale", "translation", "affine"])),
                "scale": maybe(vec),
            }
        ),
    )
    return maybe(st.lists(tf, max_size=3))


@st.composite
def ome_ngff_group(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    version = draw(st.sampled_from(["0.1", "0.2", "0.3", "0.4", "0.5"]))
    v3 = version == "0.5"
    ndim = draw(st.integers(2, 5)) if version in ("0.1", "0.2") else draw(st.integers(2, 4))
    n_levels = draw(st.integers(1, 3))
    base = draw(small_shape(ndim))
    shapes = [[max(1, s >> i) for s in base] for i in range(n_levels)]
    paths = draw(
        st.lists(
            maybe(
                st.sampled_from(
                    ["0", "1", "2", "s0", "../0", "/0", "http://h/0", "0/../../x", "~/0", "C:\\0"]
                ),
                6,
            ),
            min_size=n_levels,
            max_size=n_levels,
        )
    )
    datasets = [
        draw(field_dict({"path": st.just(p), "coordinateTransformations": transforms(ndim)}))
        for p in paths
    ]
    ms = draw(
        field_dict(
            {
                "version": maybe(st.just(version)),
                "axes": ome_axes(ndim),
                "datasets": maybe(st.just(datasets), 9),
                "name": maybe(st.text(max_size=4)),
                "coordinateTransformations": transforms(ndim),
                "type": maybe(st.sampled_from(["gaussian", "mean"])),
            }
        )
    )
    omero = draw(
        maybe(
            st.fixed_dictionaries(
                {
                    "channels": maybe(
                        st.lists(
                            field_dict(
                                {
                                    "label": maybe(st.text(max_size=4)),
                                    "color": maybe(st.sampled_from(["FF0000", "zz", "#00F"])),
                                    "active": maybe(st.booleans()),
                                    "window": maybe(
                                        field_dict(
                                            {
                                                "start": numbers,
                                                "end": numbers,
                                                "min": numbers,
                                                "max": numbers,
                                            }
                                        )
                                    ),
                                }
                            ),
                            max_size=3,
                        )
                    )
                }
            )
        )
    )
    labels = draw(
        maybe(st.lists(st.sampled_from(["cells", "../x", "/abs", "http://h/x"]), max_size=2))
    )
    multiscales = draw(maybe(st.just([ms]), 9))
    files: dict[str, Any] = {}
    if v3:
        ome: dict[str, Any] = {"version": "0.5", "multiscales": multiscales}
        if draw(st.booleans()):
            ome["omero"] = omero
        files["zarr.json"] = {"zarr_format": 3, "node_type": "group", "attributes": {"ome": ome}}
    else:
        attrs: dict[str, Any] = {"multiscales": multiscales}
        if draw(st.booleans()):
            attrs["omero"] = omero
        files[".zgroup"] = {"zarr_format": 2}
        files[".zattrs"] = attrs
    for i, shape in enumerate(shapes):
        name = str(i)
        if v3:
            files[f"{name}/zarr.json"] = {
                "zarr_format": 3,
                "node_type": "array",
                "shape": shape,
                "data_type": "uint8",
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4] * ndim}},
                "chunk_key_encoding": {"name": "default"},
                "fill_value": 0,
                "codecs": [{"name": "bytes"}],
            }
        else:
            files[f"{name}/.zarray"] = {
                "zarr_format": 2,
                "shape": shape,
                "chunks": [4] * ndim,
                "dtype": "|u1",
                "compressor": None,
                "fill_value": 0,
                "filters": None,
                "order": "C",
                "dimension_separator": "/",
            }
    if draw(st.booleans()):  # a labels group with one label image
        lab = {
            "image-label": draw(
                maybe(
                    st.fixed_dictionaries(
                        {
                            "colors": maybe(
                                st.lists(
                                    field_dict(
                                        {
                                            "label-value": maybe(st.integers(0, 3)),
                                            "rgba": maybe(
                                                st.lists(st.integers(0, 300), max_size=4)
                                            ),
                                        }
                                    ),
                                    max_size=2,
                                )
                            )
                        }
                    )
                )
            ),
            "multiscales": [
                {
                    "version": version,
                    "axes": ms.get("axes"),
                    "datasets": [
                        {
                            "path": "0",
                            "coordinateTransformations": [{"type": "scale", "scale": [1.0] * ndim}],
                        }
                    ],
                }
            ],
        }
        if v3:
            files["labels/zarr.json"] = {
                "zarr_format": 3,
                "node_type": "group",
                "attributes": {"ome": {"version": "0.5", "labels": labels}},
            }
            files["labels/cells/zarr.json"] = {
                "zarr_format": 3,
                "node_type": "group",
                "attributes": {"ome": {"version": "0.5", **lab}},
            }
            files["labels/cells/0/zarr.json"] = files["0/zarr.json"]
        else:
            files["labels/.zgroup"] = {"zarr_format": 2}
            files["labels/.zattrs"] = {"labels": labels}
            files["labels/cells/.zgroup"] = {"zarr_format": 2}
            files["labels/cells/.zattrs"] = lab
            files["labels/cells/0/.zarray"] = files["0/.zarray"]
        return files, draw(st.sampled_from(["", "labels", "labels/cells"]))
    return files, ""


@given_profile(ome_ngff_group())
def test_ome_ngff(case: tuple[dict[str, Any], str]) -> None:
    files, at = case
    assert_opens_or_refuses(files, at)


# -- zarr v2 / v3 groups with arbitrary attributes -------------------------------------------
@st.composite
def any_group(draw: st.DrawFn) -> dict[str, Any]:
    attrs = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "multiscales",
                    "ome",
                    "omero",
                    "labels",
                    "image-label",
                    "plate",
                    "well",
                    "scales",
                    "pixelResolution",
                    "downsamplingFactors",
                    "transform",
                    "spatialTransform",
                    "bioformats2raw.layout",
                    "x",
                ]
            ),
            json_values,
            max_size=4,
        )
    )
    names = draw(st.lists(st.sampled_from(["0", "1", "s0", "s1", "x"]), max_size=3, unique=True))
    files: dict[str, Any] = {".zgroup": {"zarr_format": 2}, ".zattrs": attrs}
    for n in names:
        files[f"{n}/.zarray"] = SMALL_V2_ARRAY
        files[f"{n}/.zattrs"] = draw(
            st.dictionaries(
                st.sampled_from(
                    ["transform", "spatialTransform", "_ARRAY_DIMENSIONS", "downsamplingFactors"]
                ),
                json_values,
                max_size=2,
            )
        )
    return files


@given_profile(any_group())
def test_groups_with_arbitrary_attributes(files: dict[str, Any]) -> None:
    assert_opens_or_refuses(files)


def test_profiles_are_registered() -> None:
    assert settings.get_profile("ci").max_examples >= 100
    assert settings.get_profile("long").max_examples > settings.get_profile("ci").max_examples
    assert math.isfinite(SECONDS)


@pytest.mark.parametrize(
    "doc", [{"multiscales": [{"datasets": [{"path": "0"}], "axes": ["y", "x"]}]}]
)
def test_a_known_good_document_opens(doc: dict[str, Any]) -> None:
    """The generators' happy path really opens (so the properties are not vacuous)."""
    files = {
        ".zgroup": {"zarr_format": 2},
        ".zattrs": doc,
        "0/.zarray": SMALL_V2_ARRAY,
    }
    with tempfile.TemporaryDirectory() as tmp:
        write_files(Path(tmp), files)
        pyr = open_pyramid(tmp)
        check_pyramid(pyr)
        assert pyr.levels[0].shape == (4, 4)

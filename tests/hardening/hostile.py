"""A hostile corpus: datasets damaged on purpose, generated into a folder by the tests.

Interface (stable: other tests use it)::

    cases = build_hostile_corpus(root)     # root: an empty folder (e.g. tmp_path)
    for case in cases:
        case.name     # unique, e.g. "v2/zarray-not-json"
        case.path     # the dataset to open (a folder; open it with open_pyramid / napari)
        case.kind     # "metadata" | "chunk" | "path" | "tree"
        case.expect   # "error"   -> open_pyramid(path) raises a ChunkviewError whose
                      #              message matches case.match
                      # "flagged" -> opens; reading level case.level gives a "failed"
                      #              chunk for each index in case.chunks (reason matching
                      #              case.match) while every other chunk reads its data
                      # "opens"   -> opens (possibly with Pyramid.warnings)
        case.chunks   # chunk indices of case.level (C order) that must fail ("flagged")
        case.match    # regex the error message / failure reason must contain ("" = any)
        case.data     # for "flagged": the level's expected content where it is not failed
        case.max_bytes  # opening + reading must stay below this many bytes (tracemalloc)

Valid bases are written by real writers (zarr-python for zarr v2 / v3 / sharding /
OME-NGFF groups, tensorstore for N5 datasets), once per build, then copied and damaged by
hand. Group attribute documents of N5 conventions (n5-viewer, BDV, COSEM) are plain JSON
and written directly. Building the whole corpus takes well under 5 s. The corpus never
needs network access; a symlink case is skipped (not built) where symlinks are unavailable.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numcodecs
import numpy as np

Kind = Literal["metadata", "chunk", "path", "tree"]
Expect = Literal["error", "flagged", "opens"]
#: The content of every base level 0: 8 x 8 uint16, chunks 4 x 4 (a 2 x 2 chunk grid).
BASE = np.arange(64, dtype="uint16").reshape(8, 8) + 1
#: Memory budget per case: far below anything a declared shape or a bomb could claim.
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class HostileCase:
    name: str
    path: Path
    kind: Kind
    expect: Expect
    match: str = ""
    chunks: tuple[tuple[int, ...], ...] = ()
    level: int = 0
    data: np.ndarray | None = field(default=None, compare=False, repr=False)
    max_bytes: int = MAX_BYTES


# -- helpers --------------------------------------------------------------------------------
def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def _edit_json(path: Path, fn: Callable[[dict[str, Any]], Any]) -> None:
    doc = json.loads(path.read_text())
    out = fn(doc)
    _write_json(path, doc if out is None else out)


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        doc = doc[int(k)] if isinstance(doc, list) else doc[k]
    if isinstance(doc, list):
        doc[int(keys[-1])] = value
    else:
        doc[keys[-1]] = value


def _zeros_compressed(compress: Callable[[bytes], bytes], nbytes: int) -> bytes:
    return compress(bytes(nbytes))


@functools.cache
def _gzip_bomb(nbytes: int) -> bytes:
    """gzip framing of ``nbytes`` zeros, compressed in a stream (no huge buffer)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [c.compress(block) for _ in range(nbytes >> 20)]
    return b"".join([*parts, c.flush()])


def _n5_block(dims_n5: list[int], payload: bytes, mode: int = 0) -> bytes:
    return struct.pack(f">HH{len(dims_n5)}I", mode, len(dims_n5), *dims_n5) + payload


# -- valid bases (real writers) ---------------------------------------------------------------
class _Bases:
    def __init__(self, root: Path) -> None:
        import zarr

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.v2 = root / "v2.zarr"
        zarr.create_array(
            self.v2,
            data=BASE,
            chunks=(4, 4),
            zarr_format=2,
            compressors=numcodecs.GZip(1),
            filters=None,
        )
        self.v3: dict[str, Path] = {}
        for name, comp in {
            "gzip": zarr.codecs.GzipCodec(level=1),
            "zstd": zarr.codecs.ZstdCodec(level=1),
            "blosc": zarr.codecs.BloscCodec(cname="lz4"),
            "lz4": zarr.codecs.numcodecs.LZ4(),
        }.items():
            path = root / f"v3-{name}.zarr"
            zarr.create_array(path, data=BASE, chunks=(4, 4), zarr_format=3, compressors=comp)
            self.v3[name] = path
        self.sharded = root / "v3-sharded.zarr"
        zarr.create_array(self.sharded, data=BASE, chunks=(2, 2), shards=(4, 4), zarr_format=3)
        # OME-NGFF 0.4 (zarr v2) and 0.5 (zarr v3): levels "0" (8x8) and "1" (4x4)
        self.ome: dict[str, Path] = {}
        for version, fmt in (("0.4", 2), ("0.5", 3)):
            ms = {
                "axes": [
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"},
                ],
                "datasets": [
                    {
                        "path": str(i),
                        "coordinateTransformations": [{"type": "scale", "scale": [2.0**i, 2.0**i]}],
                    }
                    for i in range(2)
                ],
                "name": "base",
            }
            omero = {
                "channels": [
                    {
                        "label": "ch",
                        "color": "FF0000",
                        "active": True,
                        "window": {"start": 0, "end": 64, "min": 0, "max": 100},
                    }
                ]
            }
            if version == "0.4":
                attrs: dict[str, Any] = {
                    "multiscales": [{**ms, "version": "0.4"}],
                    "omero": {**omero, "version": "0.4"},
                }
            else:
                attrs = {"ome": {"version": "0.5", "multiscales": [ms], "omero": omero}}
            path = root / f"ome-{version}.zarr"
            g = zarr.open_group(path, mode="w", zarr_format=fmt, attributes=attrs)
            g.create_array("0", data=BASE, chunks=(4, 4))
            g.create_array("1", data=BASE[::2, ::2], chunks=(4, 4))
            self.ome[version] = path
        self._n5_bases()

    def _n5(
        self,
        path: Path,
        data: np.ndarray,
        extra: dict[str, Any] | None = None,
        compression: str = "gzip",
    ) -> None:
        import tensorstore as ts

        spec = {
            "driver": "n5",
            "kvstore": {"driver": "file", "path": str(path)},
            "metadata": {
                "dimensions": list(data.shape[::-1]),
                "blockSize": [4, 4],
                "dataType": str(data.dtype),
                "compression": {"type": compression},
                **(extra or {}),
            },
        }
        ts.open(spec, create=True).result().write(data.T).result()

    def _n5_bases(self) -> None:
        r = self.root
        self.n5 = r / "plain.n5"
        _write_json(self.n5 / "attributes.json", {"n5": "2.0.0"})
        self._n5(self.n5 / "s0", BASE)
        self.n5_edge = r / "edge.n5"  # 6 x 6 in blocks of 4: edge blocks are 2 wide
        _write_json(self.n5_edge / "attributes.json", {"n5": "2.0.0"})
        self._n5(self.n5_edge / "s0", BASE[:6, :6])
        self.n5_raw = r / "raw.n5"
        _write_json(self.n5_raw / "attributes.json", {"n5": "2.0.0"})
        self._n5(self.n5_raw / "s0", BASE, compression="raw")
        # n5-viewer: scales + pixelResolution on the group, s0 / s1 datasets
        self.n5v = r / "n5-viewer.n5"
        _write_json(
            self.n5v / "attributes.json",
            {
                "n5": "2.0.0",
                "scales": [[1, 1], [2, 2]],
                "pixelResolution": {"unit": "um", "dimensions": [0.5, 0.5]},
            },
        )
        self._n5(self.n5v / "s0", BASE)
        self._n5(self.n5v / "s1", BASE[::2, ::2], {"downsamplingFactors": [2, 2]})
        # BigDataViewer: setup0/timepoint0/s0, s1
        self.bdv = r / "bdv.n5"
        _write_json(self.bdv / "attributes.json", {"n5": "2.0.0"})
        _write_json(
            self.bdv / "setup0" / "attributes.json",
            {"downsamplingFactors": [[1, 1], [2, 2]], "dataType": "uint16"},
        )
        _write_json(self.bdv / "setup0" / "timepoint0" / "attributes.json", {})
        self._n5(self.bdv / "setup0" / "timepoint0" / "s0", BASE)
        self._n5(self.bdv / "setup0" / "timepoint0" / "s1", BASE[::2, ::2])
        # COSEM: group multiscales with per-dataset transforms
        self.cosem = r / "cosem.n5"
        tfs = [
            {
                "axes": ["y", "x"],
                "scale": [4.0 * 2**i] * 2,
                "translate": [0.0, 0.0],
                "units": ["nm", "nm"],
            }
            for i in range(2)
        ]
        _write_json(
            self.cosem / "attributes.json",
            {
                "n5": "2.0.0",
                "multiscales": [
                    {"datasets": [{"path": f"s{i}", "transform": t} for i, t in enumerate(tfs)]}
                ],
            },
        )
        self._n5(self.cosem / "s0", BASE, {"transform": tfs[0]})
        self._n5(self.cosem / "s1", BASE[::2, ::2], {"transform": tfs[1]})


# -- the corpus -----------------------------------------------------------------------------
class _Builder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bases = _Bases(root / "_bases")
        self.cases: list[HostileCase] = []
        self.names: set[str] = set()

    def copy(self, name: str, base: Path) -> Path:
        dst = self.root / name.replace("/", "__")
        shutil.copytree(base, dst, symlinks=True)
        return dst

    def add(
        self, name: str, path: Path, kind: Kind, expect: Expect, match: str = "", **kw: Any
    ) -> None:
        assert name not in self.names, name
        self.names.add(name)
        self.cases.append(HostileCase(name, path, kind, expect, match, **kw))

    # --- metadata --------------------------------------------------------------------------
    def json_case(
        self,
        name: str,
        base: Path,
        rel: str,
        edit: Callable[[dict[str, Any]], Any],
        expect: Expect = "error",
        match: str = "",
        kind: Kind = "metadata",
        open_at: str = "",
    ) -> None:
        p = self.copy(name, base)
        _edit_json(p / rel, edit)
        self.add(name, p / open_at if open_at else p, kind, expect, match)

    def raw_case(
        self,
        name: str,
        base: Path,
        rel: str,
        content: bytes,
        expect: Expect = "error",
        match: str = "",
    ) -> None:
        p = self.copy(name, base)
        (p / rel).write_bytes(content)
        self.add(name, p, "metadata", expect, match)

    def chunk_case(
        self,
        name: str,
        base: Path,
        key: str,
        content: bytes,
        chunks: tuple[tuple[int, ...], ...] = ((1, 1),),
        match: str = "",
        data: np.ndarray = BASE,
        expect: Expect = "flagged",
    ) -> None:
        p = self.copy(name, base)
        (p / key).write_bytes(content)
        self.add(name, p, "chunk", expect, match, chunks=chunks, data=data)


def _bad_json_docs() -> dict[str, bytes]:
    return {
        "not-json": b"{",
        "list": b"[1, 2]",
        "null": b"null",
        "string": b'"shape"',
        "non-utf8": b"\xff\xfe{\x00",
        "empty": b"",
        "deep-nesting": b"[" * 100000 + b"]" * 100000,
    }


def _metadata_cases(b: _Builder) -> None:
    B = b.bases
    # malformed JSON in every metadata file kind
    files = {
        "v2-zarray": (B.v2, ".zarray"),
        "v2-zattrs": (B.ome["0.4"], ".zattrs"),
        "v2-zgroup": (B.ome["0.4"], ".zgroup"),
        "v3-array": (B.v3["gzip"], "zarr.json"),
        "v3-group": (B.ome["0.5"], "zarr.json"),
        "n5-dataset": (B.n5 / "s0", "attributes.json"),
        "n5-group": (B.n5v, "attributes.json"),
    }
    for fname, (base, rel) in files.items():
        for jname, content in _bad_json_docs().items():
            b.raw_case(
                f"{fname}/{jname}",
                base,
                rel,
                content,
                match=rf"{rel.replace('.', '[.]')}|not valid JSON|JSON object",
            )
    big = 2**63
    # zarr v2 .zarray fields: wrong types and absurd values
    v2_fields: list[tuple[str, Any, str]] = [
        ("shape", "8,8", "shape"),
        ("shape", [8.5, 8], "shape"),
        ("shape", [-8, 8], "shape"),
        ("shape", [big, 8], "shape|2\\*\\*63|too large|int64"),
        ("shape", [8], "rank|shape"),
        ("shape", None, "shape"),
        ("chunks", [0, 4], "chunks"),
        ("chunks", [4.0, 4], "chunks"),
        ("chunks", [-4, 4], "chunks"),
        ("chunks", [big, 4], "chunks|too large|int64"),
        ("dtype", "<q9", "dtype|data type"),
        ("dtype", 7, "dtype|data type"),
        ("dtype", [["a", "<u2", [big]]], "dtype|data type|shape"),
        ("compressor", {"id": "no-such-codec"}, "no-such-codec"),
        ("compressor", "gzip", "codec|compressor"),
        ("compressor", {"id": 5}, "codec|id"),
        ("filters", "delta", "filters|codec"),
        ("filters", [{"id": "no-such-filter"}], "no-such"),
        ("order", "Z", "order"),
        ("zarr_format", 7, "zarr_format|format"),
        ("dimension_separator", "x", "separator"),
        ("fill_value", {"a": 1}, "fill"),
        ("fill_value", "abc", "fill"),
    ]
    for key, value, match in v2_fields:
        label = json.dumps(value)[:24].replace("/", "")
        b.json_case(
            f"v2/{key}={label}",
            B.v2,
            ".zarray",
            lambda d, k=key, v=value: _set(d, k, v),
            match=match,
        )
    # zarr v3 zarr.json fields
    v3_fields: list[tuple[str, Any, str]] = [
        ("node_type", "banana", "node_type"),
        ("shape", [8.5, 8], "shape"),
        ("shape", [-1, 8], "shape"),
        ("shape", [big, big], "shape|int64|too large"),
        ("data_type", "uint3", "data_type|data type|uint3"),
        ("data_type", 3, "data"),
        ("chunk_grid", "regular", "chunk_grid|grid"),
        ("chunk_grid.configuration.chunk_shape", [0, 4], "chunk"),
        ("chunk_grid.configuration.chunk_shape", [4], "chunk|rank|dimension"),
        ("codecs", "gzip", "codec"),
        ("codecs", [{"name": "no-such-codec"}], "no-such-codec"),
        ("codecs", [], "codec|bytes|ArrayBytes"),
        ("fill_value", "abc", "fill"),
        ("chunk_key_encoding", {"name": "weird"}, "chunk_key|encoding|weird"),
        ("dimension_names", ["y"], "dimension_names|dimension"),
        ("attributes", [1, 2], "attributes"),
    ]
    for key, value, match in v3_fields:
        label = key.rsplit(".", 1)[-1] + "=" + json.dumps(value)[:24].replace("/", "")
        b.json_case(
            f"v3/{label}",
            B.v3["gzip"],
            "zarr.json",
            lambda d, k=key, v=value: _set(d, k, v),
            match=match,
        )

    # sharding: inner chunk not dividing the shard, unknown inner codec, bad index codecs
    def shard_conf(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda d: _set(d, f"codecs.0.configuration.{path}", value)

    for label, path, value, match in [
        ("inner-3", "chunk_shape", [3, 3], "shard|chunk|divis"),
        ("inner-0", "chunk_shape", [0, 2], "chunk|shard"),
        ("inner-codec", "codecs", [{"name": "bytes"}, {"name": "no-such-codec"}], "no-such"),
        ("index-location", "index_location", "middle", "index_location|middle"),
    ]:
        b.json_case(
            f"v3-sharded/{label}", B.sharded, "zarr.json", shard_conf(path, value), match=match
        )
    # N5 attributes.json
    n5_fields: list[tuple[str, Any, str]] = [
        ("dimensions", [-8, 8], "dimensions"),
        ("dimensions", [8.5, 8], "dimensions"),
        ("dimensions", "8,8", "dimensions"),
        ("dimensions", [big, big], "dimensions|too large"),
        ("dimensions", [8], "rank|blockSize"),
        ("blockSize", [0, 4], "blockSize"),
        ("blockSize", [2**20, 2**20], "blockSize|2 GB"),
        ("blockSize", [4.0, 4], "blockSize"),
        ("dataType", "uint3", "dataType"),
        ("dataType", 16, "dataType"),
        ("dataType", "object", "object"),
        ("compression", {"type": "snappy"}, "snappy"),
        ("compression", "gzip", "compression"),
        ("compression", {"level": 1}, "compression"),
        ("compression", None, "compression"),
        ("shardSize", [8, 8], "shard"),
    ]
    for key, value, match in n5_fields:
        label = f"{key}={json.dumps(value)[:24]}".replace("/", "")
        b.json_case(
            f"n5/{label}",
            B.n5,
            "s0/attributes.json",
            lambda d, k=key, v=value: _set(d, k, v),
            match=match,
            open_at="s0",
        )


def _convention_cases(b: _Builder) -> None:
    B = b.bases

    def ome_edit(version: str, fn: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
        def edit(doc: dict[str, Any]) -> Any:
            ms = (
                doc["multiscales"][0]
                if version == "0.4"
                else doc["attributes"]["ome"]["multiscales"][0]
            )
            return fn(ms)

        return edit

    for version in ("0.4", "0.5"):
        base = B.ome[version]
        rel = ".zattrs" if version == "0.4" else "zarr.json"
        v = version.replace(".", "")
        ds = "datasets.0.path"
        for label, key, value, expect, match, kind in [
            ("path-dotdot", ds, "../v2.zarr", "error", "outside", "path"),
            ("path-dotdot-deep", ds, "0/../../x", "error", "outside", "path"),
            ("path-absolute", ds, "/etc", "error", "outside", "path"),
            ("path-http", ds, "http://127.0.0.1:9/x", "error", "outside", "path"),
            ("path-s3", ds, "s3://bucket/x", "error", "outside", "path"),
            ("path-file-url", ds, "file:///etc", "error", "outside", "path"),
            ("path-backslash", ds, "..\\..\\x", "error", "outside", "path"),
            ("path-home", ds, "~/x", "error", "outside", "path"),
            ("path-nul", ds, "0\x00", "error", "outside", "path"),
            ("path-int", ds, 0, "error", "path|string", "path"),
            ("path-missing", ds, "nope", "error", "nope", "metadata"),
            ("datasets-empty", "datasets", [], "error", "datasets|level", "metadata"),
            ("datasets-string", "datasets", "0", "error", "datasets", "metadata"),
            (
                "axes-too-few",
                "axes",
                [{"name": "x", "type": "space"}],
                "error",
                "axes|dimension|ndim",
                "metadata",
            ),
            ("axes-string", "axes", "yx", "error", "axes", "metadata"),
            (
                "scale-wrong-length",
                "datasets.0.coordinateTransformations.0.scale",
                [1.0],
                "error",
                "scale",
                "metadata",
            ),
            (
                "scale-string",
                "datasets.0.coordinateTransformations.0.scale",
                ["a", "b"],
                "error",
                "scale",
                "metadata",
            ),
            (
                "scale-zero",
                "datasets.0.coordinateTransformations.0.scale",
                [0, 0],
                "error",
                "non-zero",
                "metadata",
            ),
            (
                "transform-unknown",
                "datasets.0.coordinateTransformations.0.type",
                "banana",
                "error",
                "banana|transform",
                "metadata",
            ),
        ]:

            def fn(ms: dict[str, Any], k: str = key, val: Any = value) -> None:
                _set(ms, k, val)

            b.json_case(f"ome{v}/{label}", base, rel, ome_edit(version, fn), expect, match, kind)
        # mismatched level shapes: level 1 declared larger than level 0
        b.json_case(
            f"ome{v}/levels-reversed",
            base,
            rel,
            ome_edit(version, lambda ms: ms["datasets"].reverse()),
            "opens",
            "",
            "metadata",
        )

        # multiscales of the wrong type
        def ms_type(doc: dict[str, Any], version: str = version) -> None:
            if version == "0.4":
                doc["multiscales"] = {"datasets": []}
            else:
                doc["attributes"]["ome"]["multiscales"] = "0"

        # 0.4: an object is n5-universe's canonical form, whose datasets are empty here;
        # 0.5: not an OME multiscale, so the group opens as plain levels "0", "1"
        b.json_case(
            f"ome{v}/multiscales-object",
            base,
            rel,
            ms_type,
            "error" if version == "0.4" else "opens",
            "datasets",
        )

        # omero of the wrong shape: the image still opens (a warning)
        def omero_bad(doc: dict[str, Any], version: str = version) -> None:
            target = doc if version == "0.4" else doc["attributes"]["ome"]
            target["omero"] = {"channels": [{"window": "wide", "color": 12}, "x"]}

        b.json_case(f"ome{v}/omero-broken", base, rel, omero_bad, "opens")

        # labels pointing outside the image
        def labels_out(doc: dict[str, Any], version: str = version) -> None:
            target = doc if version == "0.4" else doc["attributes"]["ome"]
            target["labels"] = ["../../v2.zarr", "http://127.0.0.1:9/x"]

        b.json_case(f"ome{v}/labels-escape", base, rel, labels_out, "opens", kind="path")

    # n5-viewer
    n5v: list[tuple[str, str, Any, Expect, str]] = [
        ("scales-string", "scales", "abc", "opens", ""),
        ("scales-ragged", "scales", [[1], [2, 2, 2]], "error", "scales"),
        ("scales-negative", "scales", [[-1, 1], [0, 0]], "error", "scales"),
        ("res-string", "pixelResolution", "4nm", "error", "pixelResolution"),
        ("res-short", "pixelResolution", {"unit": 5, "dimensions": [1.0]}, "opens", ""),
    ]
    for label, key, value, expect, match in n5v:
        b.json_case(
            f"n5-viewer/{label}",
            B.n5v,
            "attributes.json",
            lambda d, k=key, v=value: _set(d, k, v),
            expect,
            match,
        )
    b.json_case(
        "n5-viewer/level-factors-wrong",
        B.n5v,
        "s1/attributes.json",
        lambda d: _set(d, "downsamplingFactors", ["a", None, 3]),
        "opens",
    )
    # BigDataViewer
    bdv: list[tuple[str, Any, Expect, str]] = [
        ("factors-string", "2,2", "error", "no image"),  # no longer BDV: nothing to show
        ("factors-ragged", [[1], [2, 2, 2, 2]], "error", "downsamplingFactors"),
        ("factors-huge", [[1, 1], [2**63, 2**63]], "opens", ""),
    ]
    for label, value, expect, match in bdv:
        b.json_case(
            f"bdv/{label}",
            B.bdv,
            "setup0/attributes.json",
            lambda d, v=value: _set(d, "downsamplingFactors", v),
            expect,
            match,
        )
    # COSEM
    for label, key, value, expect in [
        ("axes-short", "multiscales.0.datasets.0.transform.axes", ["x"], "error"),
        ("scale-string", "multiscales.0.datasets.0.transform.scale", "big", "error"),
        ("path-escape", "multiscales.0.datasets.0.path", "../plain.n5/s0", "error"),
        ("datasets-not-list", "multiscales.0.datasets", {"s0": 1}, "error"),
    ]:
        b.json_case(
            f"cosem/{label}",
            B.cosem,
            "attributes.json",
            lambda d, k=key, v=value: _set(d, k, v),
            expect,
            "outside" if "escape" in label else "transform|datasets",
            "path" if "escape" in label else "metadata",
        )


def _chunk_cases(b: _Builder) -> None:
    B = b.bases
    raw = BASE[4:, 4:].astype("<u2").tobytes()
    v2_bad = {
        "garbage": (b"\x00garbage" * 3, "gzip|decode"),
        "truncated": (numcodecs.GZip(1).encode(raw)[:20], "truncated|decode"),
        "empty": (b"", "decode|truncated|bytes"),
        "bomb": (_gzip_bomb(64 << 20), "more than 32 bytes"),
        "too-short": (numcodecs.GZip(1).encode(raw[:16]), "expected 32|16"),
    }
    for label, (content, match) in v2_bad.items():
        b.chunk_case(f"v2-chunk/{label}", B.v2, "1.1", content, match=match)
    # zarr v3 compressors: garbage and bombs (a small chunk that inflates far beyond 32 B)
    bombs = {
        "gzip": _gzip_bomb(64 << 20),
        "zstd": numcodecs.Zstd(1).encode(bytes(64 << 20)),
        "blosc": numcodecs.Blosc("lz4", 5, 0).encode(bytes(64 << 20)),
        "lz4": numcodecs.LZ4().encode(bytes(64 << 20)),
    }
    for name, path in B.v3.items():
        b.chunk_case(f"v3-{name}/garbage", path, "c/1/1", b"\x28\xb5\x2f\xfd" + b"\x07" * 40)
        b.chunk_case(f"v3-{name}/empty", path, "c/1/1", b"")
        good = (path / "c" / "1" / "1").read_bytes()
        b.chunk_case(f"v3-{name}/truncated", path, "c/1/1", good[: max(1, len(good) // 2)])
        b.chunk_case(
            f"v3-{name}/bomb",
            path,
            "c/1/1",
            bombs[name],
            match="more than 32|declares \\d+ decompressed bytes",
        )
    # sharded: inner chunks (2, 2)..(3, 3) live in shard c/1/1; the index is at the end
    # (16 bytes per inner chunk, 4 inner chunks, + crc32c)
    shard = (B.sharded / "c" / "1" / "1").read_bytes()
    index = np.frombuffer(shard[-(16 * 4 + 4) : -4], dtype="<u8").reshape(4, 2).copy()

    def with_index(entries: np.ndarray, body: bytes = shard[: -(16 * 4 + 4)]) -> bytes:
        raw_index = entries.astype("<u8").tobytes()
        return body + bytes(numcodecs.CRC32C().encode(raw_index))

    inner = ((2, 2), (2, 3), (3, 2), (3, 3))
    for label, row, value, chunks, match in [
        ("offset-past-end", 0, [2**40, 10], ((2, 2),), "past the end"),
        ("nbytes-huge", 1, [0, 2**63], ((2, 3),), "out of bounds"),
        ("both-2-63", 2, [2**63, 2**63], ((3, 2),), "out of bounds"),
        ("overlap-index", 3, [len(shard) - 20, 20], ((3, 3),), "decode|zstd|bytes"),
    ]:
        ent = index.copy()
        ent[row] = value
        b.chunk_case(
            f"v3-sharded/{label}", B.sharded, "c/1/1", with_index(ent), chunks=chunks, match=match
        )
    b.chunk_case(
        "v3-sharded/index-crc-wrong",
        B.sharded,
        "c/1/1",
        shard[:-4] + b"\x00\x00\x00\x00",
        chunks=inner,
        match="crc32c|checksum",
    )
    b.chunk_case(
        "v3-sharded/truncated", B.sharded, "c/1/1", shard[:30], chunks=inner, match="shard index"
    )
    b.chunk_case("v3-sharded/empty", B.sharded, "c/1/1", b"", chunks=inner, match="shard index")
    # N5 blocks (gzip base; block 1/1 is the C-order chunk (1, 1))
    gz = numcodecs.GZip(1)
    payload = BASE[4:, 4:].astype(">u2").tobytes()
    for label, content, match in [
        ("header-dims-exceed", _n5_block([8, 4], gz.encode(payload)), "exceeds blockSize"),
        ("header-ndim", _n5_block([4, 4, 1], gz.encode(payload)), "dimensions"),
        ("header-short", b"\x00\x00", "shorter than its header"),
        ("empty", b"", "shorter than its header"),
        ("mode-varlength", _n5_block([4, 4], gz.encode(payload), mode=1), "varlength"),
        ("mode-unknown", _n5_block([4, 4], gz.encode(payload), mode=9), "mode"),
        ("payload-garbage", _n5_block([4, 4], b"garbage!"), "does not decode"),
        ("payload-truncated", _n5_block([4, 4], gz.encode(payload)[:10]), "decode|bytes"),
        ("payload-short", _n5_block([4, 4], gz.encode(payload[:8])), "bytes"),
        ("bomb", _n5_block([4, 4], _gzip_bomb(64 << 20)), "more than 32 bytes"),
        ("header-huge", _n5_block([2**32 - 1, 2**32 - 1], b""), "exceeds blockSize"),
    ]:
        b.chunk_case(f"n5-block/{label}", B.n5, "s0/1/1", content, match=match)
    b.chunk_case(
        "n5-block/raw-truncated", B.n5_raw, "s0/1/1", _n5_block([4, 4], b"\x00" * 7), match="bytes"
    )
    # N5 block headers that disagree with the block's place (the array is 6 x 6, blocks 4)
    small = BASE[:6, :6]

    def block(c_shape: tuple[int, int], values: np.ndarray | None = None) -> bytes:
        data = np.zeros(c_shape, ">u2") if values is None else values.astype(">u2")
        return _n5_block(list(c_shape[::-1]), bytes(gz.encode(data.tobytes())))

    padded = np.zeros((4, 4), "uint16")
    padded[:2, :2] = small[4:, 4:]
    for label, key, content, chunks in [
        ("interior-short", "s0/0/0", block((2, 2)), ((0, 0),)),
        ("edge-wrong", "s0/1/1", block((3, 3)), ((1, 1),)),
        ("edge-other-axis", "s0/0/1", block((4, 2)), ((1, 0),)),  # C index (1, 0): 2 x 4
        ("edge-padded", "s0/1/1", block((4, 4), padded), ()),  # zarr-python 2 N5Store pads
        ("edge-exact", "s0/1/1", block((2, 2), small[4:, 4:]), ()),  # n5-java truncates
    ]:
        b.chunk_case(
            f"n5-edge/{label}",
            B.n5_edge,
            key,
            content,
            chunks=chunks,
            match="neither blockSize .* nor the edge",
            data=small,
        )
    # huge declared shapes: open lazily, read a few chunks, never allocate the shape
    for label, rel, key, value in [
        ("v2-shape-2-62", ".zarray", "shape", [2**62, 2**62]),
        ("v2-chunks-2-40", ".zarray", "chunks", [2**40, 2**40]),
    ]:
        b.json_case(
            f"huge/{label}",
            B.v2,
            rel,
            lambda d, k=key, v=value: _set(d, k, v),
            "opens",
            kind="metadata",
        )
    b.json_case(
        "huge/n5-dimensions-2-62",
        B.n5 / "s0",
        "attributes.json",
        lambda d: _set(d, "dimensions", [2**62, 2**62]),
        "opens",
    )
    b.json_case(
        "huge/v3-shape-2-62",
        B.v3["zstd"],
        "zarr.json",
        lambda d: _set(d, "shape", [2**62, 2**62]),
        "opens",
    )
    b.json_case(
        "huge/sharded-shape-2-62",
        B.sharded,
        "zarr.json",
        lambda d: _set(d, "shape", [2**62, 2**62]),
        "opens",
    )


def _path_cases(b: _Builder) -> None:
    B = b.bases
    outside = b.root / "_outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.bin"
    secret.write_bytes(numcodecs.GZip(1).encode(BASE[4:, 4:].astype("<u2").tobytes()))
    (outside / "zarray.json").write_text((B.v2 / ".zarray").read_text())
    (outside / "level").mkdir(exist_ok=True)
    shutil.copytree(B.ome["0.4"] / "0", outside / "level", dirs_exist_ok=True)
    try:
        # a chunk that is a symlink to a file outside the root: flagged, never read
        p = b.copy("symlink/chunk-outside", B.v2)
        (p / "1.1").unlink()
        os.symlink(secret, p / "1.1")
        b.add("symlink/chunk-outside", p, "path", "flagged", "outside", chunks=((1, 1),), data=BASE)
        # a chunk symlinked inside the root reads (same bytes as chunk 0.0)
        p = b.copy("symlink/chunk-inside", B.v2)
        (p / "1.1").unlink()
        os.symlink(p / "0.0", p / "1.1")
        inside = BASE.copy()
        inside[4:, 4:] = BASE[:4, :4]
        b.add("symlink/chunk-inside", p, "path", "flagged", "", chunks=(), data=inside)
        # metadata symlinked outside
        p = b.copy("symlink/zarray-outside", B.v2)
        (p / ".zarray").unlink()
        os.symlink(outside / "zarray.json", p / ".zarray")
        b.add("symlink/zarray-outside", p, "path", "error", "outside")
        # a level folder that is a symlink leaving the root
        p = b.copy("symlink/level-dir-outside", B.ome["0.4"])
        shutil.rmtree(p / "0")
        os.symlink(outside / "level", p / "0")
        b.add("symlink/level-dir-outside", p, "path", "error", "outside")
        # a shard symlinked to a file outside
        p = b.copy("symlink/shard-outside", B.sharded)
        (p / "c" / "1" / "1").unlink()
        os.symlink(secret, p / "c" / "1" / "1")
        b.add(
            "symlink/shard-outside",
            p,
            "path",
            "flagged",
            "outside",
            chunks=((2, 2), (2, 3), (3, 2), (3, 3)),
            data=BASE,
        )
    except (OSError, NotImplementedError):  # no symlinks on this platform / filesystem
        pass


def _tree_cases(b: _Builder) -> None:
    B = b.bases
    # a deep chain of empty groups: nothing to show, a clear error, quickly
    p = b.root / "tree__deep-v2"
    d = p
    for _ in range(64):
        _write_json(d / ".zgroup", {"zarr_format": 2})
        d = d / "g"
    b.add("tree/deep-v2", p, "tree", "error", "no image")
    p = b.root / "tree__deep-n5.n5"
    d = p
    for _ in range(64):
        _write_json(d / "attributes.json", {"n5": "2.0.0"} if d == p else {})
        d = d / "g"
    b.add("tree/deep-n5", p, "tree", "error", "no image")
    # many sibling levels: s0..s199 (only listing + metadata, never chunks)
    p = b.copy("tree/many-levels", B.n5)
    for i in range(1, 200):
        shutil.copytree(p / "s0", p / f"s{i}", ignore=shutil.ignore_patterns("[0-9]*"))
    b.add("tree/many-levels", p, "tree", "opens")
    try:
        # cyclic-looking: a group containing a symlink to itself / its parent
        p = b.copy("tree/cycle-n5", B.n5)
        os.symlink(p, p / "loop")
        os.symlink(p / "s0", p / "s1")
        b.add("tree/cycle-n5", p, "tree", "opens")
        p = b.copy("tree/cycle-ome", B.ome["0.4"])
        os.symlink(p, p / "labels")
        b.add("tree/cycle-ome", p, "tree", "opens")
    except (OSError, NotImplementedError):
        pass
    # non-UTF-8 names: a child folder whose name is not valid UTF-8
    try:
        p = b.copy("tree/non-utf8-child", B.n5)
        os.rename(os.fsencode(p / "s0"), os.fsencode(p) + b"/s\xff0")
        b.add("tree/non-utf8-child", p, "tree", "error", "no image")
        p = b.copy("tree/non-utf8-level", B.ome["0.4"])
        os.rename(os.fsencode(p / "1"), os.fsencode(p) + b"/\xfe1")
        b.json_case(
            "tree/non-utf8-path",
            B.ome["0.4"],
            ".zattrs",
            lambda d: _set(d, "multiscales.0.datasets.1.path", "\udcfe1"),
            "error",
            "",
            "tree",
        )
        b.add("tree/non-utf8-level", p, "tree", "error", "")
    except (OSError, UnicodeError):  # filesystems that refuse such names
        pass


def build_hostile_corpus(root: Path) -> list[HostileCase]:
    """Write every hostile case under ``root`` (an empty or new folder) and describe them."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    b = _Builder(root)
    _metadata_cases(b)
    _convention_cases(b)
    _chunk_cases(b)
    _path_cases(b)
    _tree_cases(b)
    return b.cases

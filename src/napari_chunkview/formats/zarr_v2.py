"""Zarr v2 (``.zarray`` / ``.zgroup`` / ``.zattrs``), read through zarr-python 3.

Real files written by zarr-python 2, z5py and others trip zarr-python 3 in known ways
(``shared/FORMATS.md`` §2); each is mended here on the parsed metadata, never in the store:

* legacy nested arrays with no ``dimension_separator`` (chunks at ``0/0``): probed once;
* ``"fill_value": 0`` on ``S``/``U`` arrays: read as the empty string;
* z5py's ``gzip`` that is really zlib: decoded by ``chunkview.gzip_or_zlib``;
* object dtypes zarr-python 3 has no data type for (``json2``, ``msgpack2``, ...): read by
  ``ManualV2Source`` on numcodecs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numcodecs
import numpy as np
from numcodecs.errors import UnknownCodecError as NumcodecsUnknownCodec
from zarr.core.metadata.v2 import ArrayV2Metadata
from zarr.errors import UnknownCodecError as ZarrUnknownCodec

from ..model import ChunkGrid, CodecInfo, GridSource, MetadataError
from . import _extra_codecs  # noqa: F401  (registers chunkview.* codecs)
from ._base import ArrayInfo, Node
from ._errors import check_extents, parse_with, refuse_unsafe_codecs, translate
from ._store import Refused, StoreRoot, join_path
from ._zarr_source import ZarrSource, zarr_array


def codec_infos(doc: Mapping[str, Any]) -> tuple[CodecInfo, ...]:
    """Filters then compressor, in encode order (like a v3 chain)."""
    out = []
    filters = doc.get("filters")
    if filters is not None and not isinstance(filters, list):
        raise MetadataError(f"filters {filters!r} is not a list of codecs")
    for conf in [*(filters or ()), doc.get("compressor")]:
        if conf is None:
            continue
        if not isinstance(conf, Mapping) or not isinstance(conf.get("id"), str):
            raise MetadataError(f"codec {conf!r} is not an object with an id")
        out.append(CodecInfo(conf["id"], {k: v for k, v in conf.items() if k != "id"}))
    return tuple(out)


def _check_array_doc(doc: Mapping[str, Any], where: str) -> None:
    for key in ("shape", "chunks", "dtype"):
        if key not in doc:
            raise MetadataError(f"{where}: missing {key!r}")
    for key in ("shape", "chunks"):
        v = doc[key]
        if not isinstance(v, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in v
        ):
            raise MetadataError(f"{where}: {key} must be a list of integers, got {v!r}")
    if len(doc["shape"]) != len(doc["chunks"]):
        raise MetadataError(
            f"{where}: shape {doc['shape']} and chunks {doc['chunks']} differ in rank"
        )
    if any(s < 0 for s in doc["shape"]) or any(c <= 0 for c in doc["chunks"]):
        raise MetadataError(f"{where}: negative shape or non-positive chunks")
    check_extents(where, shape=doc["shape"], chunks=doc["chunks"])
    # fields zarr-python 3 accepts unchecked and only trips over when reading chunks
    if doc.get("zarr_format", 2) != 2:
        raise MetadataError(f"{where}: zarr_format {doc['zarr_format']!r} in a .zarray")
    if doc.get("order", "C") not in ("C", "F"):
        raise MetadataError(f"{where}: order {doc['order']!r} is neither 'C' nor 'F'")
    if doc.get("dimension_separator", ".") not in (".", "/", None):
        raise MetadataError(
            f"{where}: dimension_separator {doc['dimension_separator']!r} is neither '.' nor '/'"
        )
    fill, dtype = doc.get("fill_value"), doc["dtype"]
    if isinstance(dtype, str) and dtype[1:2] in ("b", "i", "u", "f") and not _numeric_fill(fill):
        raise MetadataError(f"{where}: fill_value {fill!r} does not fit dtype {dtype!r}")


def _numeric_fill(fill: Any) -> bool:
    """A fill value zarr-python reads for a numeric dtype: a number, null, or a string of
    one (n5-zarr writes ``"0"``) or of ``NaN`` / ``Infinity`` / ``-Infinity``."""
    if fill is None or isinstance(fill, int | float):
        return True
    if not isinstance(fill, str):
        return False
    try:
        float(fill)
    except ValueError:
        return False
    return True


class ZarrV2:
    name = "zarr v2"

    def sniff(self, root: StoreRoot, path: str) -> bool:
        return any(root.exists(join_path(path, k)) for k in (".zarray", ".zgroup", ".zattrs"))

    def open_node(self, root: StoreRoot, path: str) -> Node | None:
        zarray = root.get_json(join_path(path, ".zarray"))
        zattrs = root.get_json(join_path(path, ".zattrs"))
        if zarray is not None:
            return Node(root, path, "array", self, zattrs or {}, zarray)
        zgroup = root.get_json(join_path(path, ".zgroup"))
        if zgroup is None and zattrs is None:
            return None
        return Node(root, path, "group", self, zattrs or {}, zgroup or {})

    def list_children(self, node: Node) -> list[str]:
        out = []
        for n in node.root.list_dir(node.path):
            if n.startswith("."):
                continue
            sub = join_path(node.path, n)
            if any(node.root.exists(f"{sub}/{k}") for k in (".zarray", ".zgroup", ".zattrs")):
                out.append(n)
        return out

    def open_array(self, node: Node) -> ArrayInfo:
        where = f"{node.root.describe(node.path)}/.zarray"
        doc = dict(node.metadata)
        _check_array_doc(doc, where)
        doc, notes = _mend(node.root, node.path, doc)
        sep = doc.get("dimension_separator") or "."
        prefix = f"{node.path}/" if node.path else ""
        ndim = len(doc["shape"])

        def key_fn(index: Sequence[int]) -> str:
            return prefix + (sep.join(map(str, index)) if index else "0")

        codecs = codec_infos(doc)
        refuse_unsafe_codecs(where, codecs)
        info: dict[str, Any] = {
            "codecs": codecs,
            "key_encoding": f"v2 '{sep}'",
            "key_template": prefix + (sep.join(f"{{{i}}}" for i in range(ndim)) or "0"),
            "dimension_names": _array_dimensions(node.attrs, ndim),
            "format_details": "; ".join(notes),
        }
        try:
            meta = ArrayV2Metadata.from_dict(doc)
        except (ValueError, TypeError, KeyError, NotImplementedError) as e:
            if isinstance(e, NumcodecsUnknownCodec | ZarrUnknownCodec | NotImplementedError):
                raise translate(where, e) from None
            # zarr-python 3 has no data type for some real arrays (object dtypes with
            # json2/msgpack2 codecs); numcodecs still decodes them.
            source = parse_with(where, lambda: ManualV2Source(node.root, doc, key_fn))
            info["format_details"] = "; ".join([*notes, f"read by numcodecs directly ({e})"])
            return ArrayInfo(source=source, **info)
        return ArrayInfo(source=ZarrSource(zarr_array(node.root, node.path, meta), key_fn), **info)


def _array_dimensions(attrs: Mapping[str, Any], ndim: int) -> tuple[str | None, ...] | None:
    dims = attrs.get("_ARRAY_DIMENSIONS")
    if isinstance(dims, list) and len(dims) == ndim and all(isinstance(d, str) for d in dims):
        return tuple(dims)
    return None


def _mend(root: StoreRoot, path: str, doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Fix the known writer quirks on a copy of ``.zarray``; say what was done."""
    notes: list[str] = []
    ndim = len(doc["shape"])
    if "dimension_separator" not in doc and ndim > 1:
        # Legacy NestedDirectoryStore arrays: chunks at 0/0 but no separator recorded.
        zero_flat = join_path(path, ".".join(["0"] * ndim))
        zero_nested = join_path(path, "/".join(["0"] * ndim))
        if not root.exists(zero_flat) and root.exists(zero_nested):
            doc["dimension_separator"] = "/"
            notes.append("legacy nested chunk keys (no dimension_separator)")
    dtype = doc.get("dtype")
    if isinstance(dtype, str) and dtype[1:2] in ("S", "U") and doc.get("fill_value") == 0:
        doc["fill_value"] = "" if dtype[1] == "U" else None
        notes.append("fill_value 0 on a string dtype read as empty")
    if doc.get("filters") == []:
        doc["filters"] = None  # zarr-python 3 warns on an empty list; same meaning
    comp = doc.get("compressor")
    if isinstance(comp, Mapping) and comp.get("id") == "gzip":
        doc["compressor"] = {"id": "chunkview.gzip_or_zlib", "level": comp.get("level", -1)}
    return doc, notes


def _parse_fill(value: Any, dtype: np.dtype[Any]) -> Any:
    if value is None:
        return None
    if dtype.kind == "f" and isinstance(value, str):
        return {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}.get(value, np.nan)
    return value


class ManualV2Source(GridSource):
    """Reads a zarr v2 array chunk by chunk with numcodecs, for arrays zarr-python 3 refuses.

    Written by hand because no maintained library reads these (zarr-python 3 has no
    data type for ``|O`` with ``json2``; tensorstore refuses ``|O`` altogether).
    """

    def __init__(self, root: StoreRoot, doc: Mapping[str, Any], key_fn: Any) -> None:
        self._root = root
        self._key_fn = key_fn
        dtype = doc["dtype"]
        self._dtype = np.dtype([tuple(f) for f in dtype] if isinstance(dtype, list) else dtype)
        self._grid = ChunkGrid(tuple(doc["shape"]), tuple(doc["chunks"]))
        self._order = doc.get("order", "C")
        self._fill = _parse_fill(doc.get("fill_value"), self._dtype)
        comp = doc.get("compressor")
        self._compressor = numcodecs.get_codec(dict(comp)) if comp else None
        self._filters = [numcodecs.get_codec(dict(f)) for f in doc.get("filters") or ()]
        if self._dtype.kind == "O" and not self._filters:
            raise ValueError("an object array needs an object codec among its filters")

    def chunk_key(self, index: Sequence[int]) -> str:
        return self._key_fn(tuple(index))

    has_fast_path = True

    def fetch(self, indices: Sequence[tuple[int, ...]]) -> list[bytes | None]:
        return self._root.fetch([(self._key_fn(tuple(i)), None) for i in indices])

    def decode(self, index: tuple[int, ...], raw: bytes) -> np.ndarray:
        if isinstance(raw, Refused):
            raise ValueError(raw.reason)
        return self._decode(raw)

    def _decode(self, raw: bytes) -> np.ndarray:
        data: Any = self._compressor.decode(raw) if self._compressor else raw
        for f in reversed(self._filters):
            data = f.decode(data)
        chunks = self._grid.chunk_shape
        if isinstance(data, np.ndarray) and data.dtype == object:
            arr = data
        else:
            arr = np.frombuffer(memoryview(data), dtype=self._dtype)
        if arr.size != math.prod(chunks):
            raise ValueError(f"decoded chunk has {arr.size} elements, expected {math.prod(chunks)}")
        return arr.reshape(chunks, order=self._order)

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        shape = tuple(b - a for a, b in box)
        out = np.empty(shape, dtype=self._dtype)
        if self._fill is not None:
            out[...] = self._fill
        elif self._dtype.kind == "O":
            out[...] = 0
        for idx in self._grid.chunks_in_box(box):
            raw = self._root.get_bytes(self._key_fn(idx))
            if raw is None:
                continue
            dst, src = self._grid.overlap(box, idx)
            out[dst] = self._decode(raw)[src]
        return out

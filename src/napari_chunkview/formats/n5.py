"""N5 (``attributes.json`` + big-endian blocks), read through zarr-python.

The dataset becomes zarr v2 metadata in C order (``dimensions`` and ``blockSize``
reversed, big-endian dtype, fill 0) whose compressor is the ``chunkview.n5`` block codec
(``_n5_codec.py``); a key map on the root sends zarr-python's ``iz/iy/ix`` to the N5 block
file ``ix/iy/iz``. See ``shared/FORMATS.md`` §1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from zarr.core.metadata.v2 import ArrayV2Metadata

from ..model import CodecInfo, MetadataError, UnsupportedError
from . import _n5_codec  # noqa: F401  (registers chunkview.n5)
from ._base import ArrayInfo, Node, NodeKind
from ._errors import check_extents
from ._n5_codec import COMPRESSIONS, edge_check
from ._store import StoreRoot, join_path
from ._zarr_source import ZarrSource, zarr_array

ATTRIBUTES = "attributes.json"
DATA_TYPES = frozenset(
    {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"}
)
_ZARR_KEYS = ("zarr.json", ".zarray", ".zgroup")
#: "Chunks cannot be larger than 2GB (2<sup>31</sup>Bytes)" (N5 README).
MAX_BLOCK_BYTES = 2**31
#: Name of the virtual folder, below each dataset, where its zarr (C-order) view lives.
VIEW = "@c-order"


def is_dataset(doc: Mapping[str, Any]) -> bool:
    """A dataset's attributes carry ``dimensions`` and ``dataType`` (n5-java reads a node as a
    dataset from these; missing ``blockSize``/``compression`` is then a metadata error)."""
    return "dimensions" in doc and "dataType" in doc


def _int_list(value: Any, what: str, where: str, minimum: int) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)
    ):
        raise MetadataError(
            f"{where}: {what} must be a non-empty list of integers ≥ {minimum}, got {value!r}"
        )
    check_extents(where, **{what: value})
    return value


def compression_of(doc: Mapping[str, Any], where: str) -> tuple[dict[str, Any], str]:
    """The normalised ``compression`` object and a note (legacy ``compressionType``)."""
    comp = doc.get("compression")
    if comp is not None:
        if not isinstance(comp, Mapping) or not isinstance(comp.get("type"), str):
            raise MetadataError(f"{where}: compression {comp!r} is not an object with a type")
        out, note = dict(comp), ""
    elif "compressionType" in doc:
        legacy = doc["compressionType"]
        if not isinstance(legacy, str):
            raise MetadataError(f"{where}: compressionType {legacy!r} is not a string")
        out, note = {"type": legacy}, f"legacy compressionType {legacy!r} (N5 < 2.0)"
    else:
        raise MetadataError(f"{where}: missing 'compression'")
    if out["type"] not in COMPRESSIONS:
        raise UnsupportedError(f"{where}: N5 compression {out['type']!r} is not supported")
    return out, note


class N5:
    """N5 containers: every directory is a group; ``attributes.json`` is optional for groups."""

    name = "N5"

    def sniff(self, root: StoreRoot, path: str) -> bool:
        if any(root.exists(join_path(path, k)) for k in _ZARR_KEYS):
            return False
        if root.exists(join_path(path, ATTRIBUTES)):
            return True
        name = path.rsplit("/", 1)[-1] if path else root.uri.rstrip("/").rsplit("/", 1)[-1]
        return name.lower().endswith(".n5")

    def open_node(self, root: StoreRoot, path: str) -> Node | None:
        doc = root.get_json(join_path(path, ATTRIBUTES))
        if doc is None:
            # Implicit group: any existing directory. The root itself exists once opened;
            # below it, a directory shows up in a listing (stores that cannot list have no
            # way to tell, and get None).
            if path and not root.list_dir(path):
                return None
            return Node(root, path, "group", self, {}, {}, axes_reversed=True)
        kind: NodeKind = "array" if is_dataset(doc) else "group"
        return Node(root, path, kind, self, doc, doc, axes_reversed=True)

    def list_children(self, node: Node) -> list[str]:
        if node.kind == "array":
            return []  # a dataset's subdirectories are block directories
        out = []
        for n in node.root.list_dir(node.path):
            if n.startswith(".") or n == ATTRIBUTES:
                continue
            sub = join_path(node.path, n)
            if node.root.exists(f"{sub}/{ATTRIBUTES}") or node.root.list_dir(sub):
                out.append(n)
        return out

    def open_array(self, node: Node) -> ArrayInfo:
        where = f"{node.root.describe(node.path)}/{ATTRIBUTES}"
        doc = node.metadata
        dims = _int_list(doc.get("dimensions"), "dimensions", where, 0)
        if "blockSize" not in doc:
            raise MetadataError(f"{where}: missing 'blockSize'")
        block = _int_list(doc.get("blockSize"), "blockSize", where, 1)
        if len(dims) != len(block):
            raise MetadataError(f"{where}: dimensions {dims} and blockSize {block} differ in rank")
        dtype_name = doc.get("dataType")
        if dtype_name == "object":
            raise UnsupportedError(f"{where}: N5 dataType 'object' (serialised objects)")
        if not isinstance(dtype_name, str) or dtype_name.lower() not in DATA_TYPES:
            raise MetadataError(f"{where}: dataType {dtype_name!r} is not an N5 data type")
        if "shardSize" in doc or isinstance(doc.get("codecs"), list):
            raise UnsupportedError(f"{where}: N5 sharding ('shardSize'/'codecs') is not supported")
        compression, note = compression_of(doc, where)
        np_dtype = np.dtype(dtype_name.lower()).newbyteorder(">")
        dtype = np_dtype.str  # ">u2", "|u1"
        if math.prod(block) * np_dtype.itemsize > MAX_BLOCK_BYTES:
            raise MetadataError(f"{where}: blockSize {block} exceeds the 2 GB N5 block limit")
        shape, chunks = dims[::-1], block[::-1]
        meta_doc = {
            "zarr_format": 2,
            "shape": shape,
            "chunks": chunks,
            "dtype": dtype,
            "order": "C",
            "fill_value": 0,
            "filters": None,
            "dimension_separator": "/",
            "compressor": {
                "id": "chunkview.n5",
                "compression": compression,
                "block_shape": chunks,
                "dtype": dtype,
            },
        }
        try:
            meta = ArrayV2Metadata.from_dict(meta_doc)
        except (ValueError, TypeError, KeyError) as e:
            raise MetadataError(f"{where}: {e}") from None
        ndim = len(shape)
        prefix = f"{node.path}/" if node.path else ""

        # The zarr array lives at a virtual path below the dataset, where zarr-python asks
        # for "iz/iy/ix" (C order); the key map sends that to the N5 block "ix/iy/iz".
        # Real block keys (``key_fn``) are not under the virtual path, so mapping them
        # again leaves them unchanged.
        virtual = join_path(node.path, VIEW)

        def to_n5(rel: str) -> str:
            parts = rel.split("/")
            return prefix + ("/".join(reversed(parts)) if len(parts) == ndim else rel)

        node.root.register_key_map(virtual, to_n5)

        def key_fn(index: Sequence[int]) -> str:
            return prefix + "/".join(str(i) for i in reversed(index))

        params = {k: v for k, v in compression.items() if k != "type"}
        return ArrayInfo(
            source=ZarrSource(
                zarr_array(node.root, virtual, meta), key_fn, edge_check(shape, chunks)
            ),
            codecs=(
                CodecInfo("n5-block", {"mode": "default", "endian": "big"}),
                CodecInfo(compression["type"], params),
            ),
            key_encoding="N5 '/' (axes reversed)",
            key_template=prefix + "/".join(f"{{{i}}}" for i in reversed(range(ndim))),
            dimension_names=None,
            format_details=note,
        )

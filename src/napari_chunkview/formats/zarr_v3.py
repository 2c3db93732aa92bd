"""Zarr v3 (``zarr.json``), read through zarr-python 3: sharding, transpose, both chunk key
encodings, crc32c, big-endian ``bytes``, ``numcodecs.*`` codecs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zarr.core.metadata.v3 import ArrayV3Metadata

from ..model import CodecInfo, MetadataError
from ._base import ArrayInfo, Node
from ._errors import check_extents, parse_with, refuse_unsafe_codecs
from ._store import StoreRoot, join_path
from ._zarr_source import ZarrSource, zarr_array


def codec_infos(codecs: Any) -> tuple[CodecInfo, ...]:
    """zarr v3 ``codecs`` JSON → ``CodecInfo`` chain (sharding recursively)."""
    out = []
    if codecs is not None and not isinstance(codecs, list | tuple):
        raise MetadataError(f"codecs {codecs!r} is not a list of codecs")
    for c in codecs or ():
        if isinstance(c, str):
            c = {"name": c}
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            raise MetadataError(f"codec entry {c!r} is not an object with a name")
        conf = dict(c.get("configuration") or {})
        inner: tuple[CodecInfo, ...] = ()
        index: tuple[CodecInfo, ...] = ()
        if c["name"] == "sharding_indexed":
            inner = codec_infos(conf.pop("codecs", ()))
            index = codec_infos(conf.pop("index_codecs", ()))
            conf.setdefault("index_location", "end")
        out.append(CodecInfo(c["name"], conf, inner, index))
    return tuple(out)


def key_encoding(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(name, separator) of the chunk key encoding."""
    cke = doc.get("chunk_key_encoding") or {"name": "default"}
    if isinstance(cke, str):
        cke = {"name": cke}
    name = cke.get("name", "default")
    sep = (cke.get("configuration") or {}).get("separator", "/" if name == "default" else ".")
    return name, sep


class ZarrV3:
    name = "zarr v3"

    def sniff(self, root: StoreRoot, path: str) -> bool:
        doc = root.get_json(join_path(path, "zarr.json"))
        return doc is not None and doc.get("zarr_format") == 3

    def open_node(self, root: StoreRoot, path: str) -> Node | None:
        doc = root.get_json(join_path(path, "zarr.json"))
        if doc is None or doc.get("zarr_format") != 3:
            return None
        kind = doc.get("node_type")
        if kind not in ("array", "group"):
            raise MetadataError(f"{root.describe(path)}/zarr.json: node_type {kind!r}")
        attrs = doc.get("attributes") or {}
        if not isinstance(attrs, Mapping):
            raise MetadataError(f"{root.describe(path)}/zarr.json: attributes is not an object")
        return Node(root, path, kind, self, attrs, doc)

    def list_children(self, node: Node) -> list[str]:
        return [
            n
            for n in node.root.list_dir(node.path)
            if not n.startswith(".") and n != "zarr.json" and n != "c"
            and node.root.exists(join_path(node.path, f"{n}/zarr.json"))
        ]

    def open_array(self, node: Node) -> ArrayInfo:
        doc = dict(node.metadata)
        where = f"{node.root.describe(node.path)}/zarr.json"
        codecs = codec_infos(doc.get("codecs"))
        refuse_unsafe_codecs(where, codecs)
        # zarr-python reads a stored chunk edge of 0 as 1 (with a warning): refuse it
        grid = doc.get("chunk_grid")
        conf = grid.get("configuration") if isinstance(grid, Mapping) else None
        stored = conf.get("chunk_shape") if isinstance(conf, Mapping) else None
        if isinstance(stored, list) and any(isinstance(c, int) and c < 1 for c in stored):
            raise MetadataError(f"{where}: chunk_shape {stored} has an edge below 1")
        meta = parse_with(where, lambda: ArrayV3Metadata.from_dict(doc))
        chunks = tuple(getattr(meta.chunk_grid, "chunk_shape", ()))
        check_extents(where, shape=meta.shape, chunk_shape=chunks)
        arr = zarr_array(node.root, node.path, meta)
        name, sep = key_encoding(doc)
        ndim = len(meta.shape)
        prefix = f"{node.path}/" if node.path else ""

        def key_fn(index: Sequence[int]) -> str:
            return prefix + meta.encode_chunk_key(tuple(index))

        if name == "default":
            template = "c" + "".join(f"{sep}{{{i}}}" for i in range(ndim))
        else:
            template = sep.join(f"{{{i}}}" for i in range(ndim)) or "0"
        dims = doc.get("dimension_names")
        return ArrayInfo(
            source=ZarrSource(arr, key_fn),
            codecs=codecs,
            key_encoding=f"{name} '{sep}'",
            key_template=prefix + template,
            dimension_names=tuple(dims) if isinstance(dims, list) else None,
        )

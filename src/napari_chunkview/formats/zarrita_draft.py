"""The pre-final zarr v3 draft layout (zarrita, 2020–21), read through zarr-python.

A root ``zarr.json`` with ``"zarr_format": "https://purl.org/zarr/spec/protocol/core/3.0"``;
array metadata at ``meta/root/<path>.array.json``, group metadata (optional: groups may be
implicit) at ``meta/root/<path>.group.json`` (``meta/root.group.json`` for the root), chunks
at ``data/root/<path>/c<i><sep><j>…``. zarr-python 3 cannot open it (``FORMATS.md`` §3); each
array becomes zarr v2 metadata plus a key map from zarr v2 keys to the draft chunk keys.

Node paths are the logical paths (``"gzip"``, ``"blosc/lz4"``; ``""`` is the root group).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from zarr.core.metadata.v2 import ArrayV2Metadata

from ..model import CodecInfo, MetadataError, UnsupportedError
from . import _extra_codecs  # noqa: F401  (registers chunkview.gzip_or_zlib)
from ._base import ArrayInfo, Node
from ._store import StoreRoot, join_path
from ._zarr_source import ZarrSource, zarr_array

PROTOCOL = "https://purl.org/zarr/spec/protocol/core/3"
#: Name of the virtual folder, below each array's data folder, where its zarr v2 view lives.
VIEW = "@v2"
_CODEC_URL = re.compile(r"^https?://purl\.org/zarr/spec/codec/([A-Za-z0-9_-]+)/")


_SUFFIXES: weakref.WeakKeyDictionary[StoreRoot, str] = weakref.WeakKeyDictionary()


def _suffix(root: StoreRoot) -> str:
    """The container's ``metadata_key_suffix`` (read once per root)."""
    suffix = _SUFFIXES.get(root)
    if suffix is None:
        doc = root.get_json("zarr.json") or {}
        suffix = doc.get("metadata_key_suffix", ".json")
        if not isinstance(suffix, str) or "/" in suffix:
            suffix = ".json"
        _SUFFIXES[root] = suffix
    return suffix


def meta_key(path: str, kind: str, suffix: str) -> str:
    """``meta/root/<path>.<kind><suffix>`` (``meta/root.<kind><suffix>`` for the root)."""
    return f"meta/root/{path}.{kind}{suffix}" if path else f"meta/root.{kind}{suffix}"


def _dtype(name: Any, where: str) -> str:
    """Draft ``data_type`` → zarr v2 dtype string (``"u1"`` → ``"|u1"``, ``"<u2"`` kept)."""
    if name == "bool":
        return "|b1"
    if not isinstance(name, str) or not re.fullmatch(r"[<>|]?[iufc]\d+", name):
        raise UnsupportedError(f"{where}: data_type {name!r} is not supported")
    dt = np.dtype(name if name[0] in "<>|" else f"|{name}" if name[1:] == "1" else name)
    if dt.itemsize > 1 and name[0] not in "<>":
        raise MetadataError(f"{where}: data_type {name!r} has no byte order")
    return dt.str


def _compressor(conf: Any, where: str) -> tuple[dict[str, Any] | None, tuple[CodecInfo, ...]]:
    """Draft ``compressor`` (codec URL + configuration) → numcodecs config and description."""
    if conf is None:
        return None, ()
    url = conf.get("codec") if isinstance(conf, Mapping) else None
    m = _CODEC_URL.match(url) if isinstance(url, str) else None
    params = (conf.get("configuration") or {}) if isinstance(conf, Mapping) else {}
    if m is None or not isinstance(params, Mapping):
        raise MetadataError(f"{where}: compressor {conf!r} is not a codec URL + configuration")
    name = m.group(1)
    if name == "gzip":
        out: dict[str, Any] = {"id": "chunkview.gzip_or_zlib", "level": params.get("level", -1)}
    elif name == "zlib":
        out = {"id": "zlib", "level": params.get("level", -1)}
    elif name == "blosc":
        keys = ("cname", "clevel", "shuffle", "blocksize")
        out = {"id": "blosc", **{k: params[k] for k in keys if k in params}}
    else:
        raise UnsupportedError(f"{where}: zarr v3 draft codec {url!r} is not supported")
    return out, (CodecInfo(name, dict(params)),)


class ZarritaDraft:
    """zarr v3 draft containers. The only ``zarr.json`` is the one at the container root,
    so ``sniff`` looks there whatever ``path`` is (a logical node path, such as the inner
    part of ``…/zarrita.zr3/blosc/lz4``, which ``open_root`` splits off)."""

    name = "zarr v3 draft"

    def sniff(self, root: StoreRoot, path: str) -> bool:
        doc = root.get_json("zarr.json")
        fmt = doc.get("zarr_format") if doc is not None else None
        return isinstance(fmt, str) and fmt.startswith(PROTOCOL)

    def open_node(self, root: StoreRoot, path: str) -> Node | None:
        path = path.strip("/")
        suffix = _suffix(root)
        doc = root.get_json(meta_key(path, "array", suffix))
        if doc is not None:
            return Node(root, path, "array", self, self._attrs(doc, root, path), doc)
        doc = root.get_json(meta_key(path, "group", suffix))
        if doc is None:
            # Groups may be implicit: a folder of metadata documents under meta/root.
            if path and not root.list_dir(f"meta/root/{path}"):
                return None
            doc = {}
        return Node(root, path, "group", self, self._attrs(doc, root, path), doc)

    @staticmethod
    def _attrs(doc: Mapping[str, Any], root: StoreRoot, path: str) -> Mapping[str, Any]:
        attrs = doc.get("attributes") or {}
        if not isinstance(attrs, Mapping):
            raise MetadataError(f"{root.describe(path)}: attributes is not an object")
        return attrs

    def list_children(self, node: Node) -> list[str]:
        if node.kind == "array":
            return []
        suffix = _suffix(node.root)
        folder = f"meta/root/{node.path}" if node.path else "meta/root"
        out: list[str] = []
        for n in node.root.list_dir(folder):
            for kind in ("array", "group"):
                if n.endswith(f".{kind}{suffix}"):
                    n = n[: -len(f".{kind}{suffix}")]
                    break
            if n and not n.startswith(".") and n not in out:
                out.append(n)
        return out

    def open_array(self, node: Node) -> ArrayInfo:
        where = node.root.describe(meta_key(node.path, "array", _suffix(node.root)))
        doc = node.metadata
        for ext in [*(doc.get("extensions") or ()), *(doc.get("storage_transformers") or ())]:
            if not isinstance(ext, Mapping) or ext.get("must_understand", True):
                raise UnsupportedError(f"{where}: extension {ext!r} is not supported")
        grid = doc.get("chunk_grid")
        if not isinstance(grid, Mapping) or grid.get("type", "regular") != "regular":
            raise UnsupportedError(f"{where}: chunk_grid {grid!r} is not a regular grid")
        sep = grid.get("separator", "/")
        if sep not in ("/", "."):
            raise MetadataError(f"{where}: chunk separator {sep!r}")
        order = doc.get("chunk_memory_layout", "C")
        if order not in ("C", "F"):
            raise MetadataError(f"{where}: chunk_memory_layout {order!r}")
        compressor, codecs = _compressor(doc.get("compressor"), where)
        meta_doc = {
            "zarr_format": 2,
            "shape": doc.get("shape"),
            "chunks": grid.get("chunk_shape"),
            "dtype": _dtype(doc.get("data_type"), where),
            "order": order,
            "fill_value": doc.get("fill_value"),
            "filters": None,
            "dimension_separator": sep,
            "compressor": compressor,
        }
        for key in ("shape", "chunks"):
            v = meta_doc[key]
            if not isinstance(v, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v
            ):
                raise MetadataError(f"{where}: {key} must be a list of integers, got {v!r}")
        try:
            meta = ArrayV2Metadata.from_dict(meta_doc)
        except (ValueError, TypeError, KeyError) as e:
            raise MetadataError(f"{where}: {e}") from None
        ndim = len(meta.shape)
        data = join_path("data/root", node.path)

        # The zarr array lives at a virtual folder below the data folder, where zarr-python
        # asks for "1/2/3" (or "1.2.3"); the draft stores "<data>/c1/2/3" (same separator,
        # "c" prefix). Real chunk keys are not under the virtual folder, so mapping them
        # again leaves them unchanged.
        virtual = f"{data}/{VIEW}"

        def to_draft(rel: str) -> str:
            return f"{data}/c{rel}" if ndim else f"{data}/c"

        node.root.register_key_map(virtual, to_draft)

        def key_fn(index: Sequence[int]) -> str:
            return f"{data}/c" + sep.join(str(i) for i in index)

        dims = doc.get("dimension_names")
        return ArrayInfo(
            source=ZarrSource(zarr_array(node.root, virtual, meta), key_fn),
            codecs=codecs,
            key_encoding=f"v3 draft 'c' + '{sep}'",
            key_template=f"{data}/c" + sep.join(f"{{{i}}}" for i in range(ndim)),
            dimension_names=tuple(dims) if isinstance(dims, list) and len(dims) == ndim else None,
            format_details="pre-final zarr v3 draft layout (zarrita 2020–21)",
        )

"""Sniff the format of a path and build its ``Pyramid`` (levels without dask arrays yet:
the loading layer attaches those)."""

from __future__ import annotations

import os
from typing import Any

from ..model import MetadataError, NotRecognisedError, Pyramid
from ._base import FormatAdapter, Node
from ._store import StoreRoot, open_root
from .conventions import CONVENTIONS
from .n5 import N5
from .zarr_v2 import ZarrV2
from .zarr_v3 import ZarrV3
from .zarrita_draft import ZarritaDraft

#: Tried in order; the first whose ``sniff`` says yes opens the root node.
ADAPTERS: tuple[FormatAdapter, ...] = (ZarrV3(), ZarritaDraft(), ZarrV2(), N5())


def sniff(root: StoreRoot, path: str = "") -> FormatAdapter | None:
    for adapter in ADAPTERS:
        if adapter.sniff(root, path):
            return adapter
    return None


def open_node(uri: str | os.PathLike[str] | StoreRoot, **storage_options: Any) -> Node:
    """The root node of ``uri`` (a group or an array), read-only. ``uri`` may be an
    already opened ``StoreRoot`` (to listen to its reads)."""
    if isinstance(uri, StoreRoot):
        root, inner = uri, ""
    else:
        root, inner = open_root(uri, **storage_options)
    adapter = sniff(root, inner)
    if adapter is None:
        raise NotRecognisedError(f"{root.describe(inner)}: not an N5 or Zarr dataset")
    node = adapter.open_node(root, inner)
    if node is None:
        raise NotRecognisedError(f"{root.describe(inner)}: no {adapter.name} metadata")
    return node


def pyramid_from_node(node: Node) -> Pyramid:
    """Apply the first convention that recognises ``node``."""
    for conv in CONVENTIONS:
        reason = conv.match(node)
        if reason is not None:
            return conv.build(node, reason)
    raise MetadataError(
        f"{node.root.describe(node.path)}: a {node.format} {node.kind} with no image in it "
        "(no multiscale metadata, no level arrays)"
    )


def read_pyramid(uri: str | os.PathLike[str] | StoreRoot, **storage_options: Any) -> Pyramid:
    return pyramid_from_node(open_node(uri, **storage_options))

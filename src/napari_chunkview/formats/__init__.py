"""Storage formats (zarr v2, zarr v3, N5) and multiscale conventions → ``Pyramid``."""

from ._base import ArrayInfo, FormatAdapter, Node
from ._open import ADAPTERS, open_node, pyramid_from_node, read_pyramid, sniff
from ._store import ReadEvent, StoreRoot, join_path, open_root
from .conventions._ngff_validate import deferred as validation_deferred
from .conventions._ngff_validate import pyramid_validation

__all__ = [
    "ADAPTERS",
    "ArrayInfo",
    "FormatAdapter",
    "Node",
    "ReadEvent",
    "StoreRoot",
    "join_path",
    "open_node",
    "open_root",
    "pyramid_from_node",
    "pyramid_validation",
    "read_pyramid",
    "sniff",
    "validation_deferred",
]

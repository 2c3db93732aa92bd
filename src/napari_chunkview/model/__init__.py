"""The neutral pyramid model (numpy only; no format, napari or Qt imports)."""

from ._chunks import ChunkGrid, full_box
from ._codecs import CodecInfo, describe_chain
from ._errors import (
    ChunkviewError,
    MetadataError,
    NotRecognisedError,
    UnsafePathError,
    UnsupportedError,
)
from ._pyramid import Axis, AxisType, Channel, Level, Provenance, Pyramid
from ._source import ChunkSource, GridSource

__all__ = [
    "Axis",
    "AxisType",
    "Channel",
    "ChunkGrid",
    "ChunkSource",
    "ChunkviewError",
    "CodecInfo",
    "GridSource",
    "Level",
    "MetadataError",
    "NotRecognisedError",
    "Provenance",
    "Pyramid",
    "UnsafePathError",
    "UnsupportedError",
    "describe_chain",
    "full_box",
]

"""The neutral pyramid model (numpy only; no format, napari or Qt imports)."""

from ._chunks import ChunkGrid, full_box
from ._codecs import CodecInfo, describe_chain
from ._errors import (
    ChunkviewError,
    MetadataError,
    NotRecognisedError,
    RemoteError,
    UnsafePathError,
    UnsupportedError,
    error_reason,
)
from ._findings import SEVERITIES, Finding, Location, Severity, ranked
from ._pyramid import Axis, AxisType, Channel, Level, Provenance, Pyramid
from ._source import ChunkSource, GridSource

__all__ = [
    "SEVERITIES",
    "Axis",
    "AxisType",
    "Channel",
    "ChunkGrid",
    "ChunkSource",
    "ChunkviewError",
    "CodecInfo",
    "Finding",
    "GridSource",
    "Level",
    "Location",
    "MetadataError",
    "NotRecognisedError",
    "Provenance",
    "Pyramid",
    "RemoteError",
    "Severity",
    "UnsafePathError",
    "UnsupportedError",
    "describe_chain",
    "error_reason",
    "full_box",
    "ranked",
]

"""napari-chunkview: open any N5 / Zarr pyramid lazily and see how it is stored."""

from ._api import open_pyramid
from .model import (
    Axis,
    Channel,
    ChunkGrid,
    ChunkviewError,
    CodecInfo,
    Level,
    MetadataError,
    NotRecognisedError,
    Provenance,
    Pyramid,
    UnsafePathError,
    UnsupportedError,
)

__version__ = "0.1.0"

__all__ = [
    "Axis",
    "Channel",
    "ChunkGrid",
    "ChunkviewError",
    "CodecInfo",
    "Level",
    "MetadataError",
    "NotRecognisedError",
    "Provenance",
    "Pyramid",
    "UnsafePathError",
    "UnsupportedError",
    "__version__",
    "open_pyramid",
]

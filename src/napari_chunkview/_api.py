"""The public entry point."""

from __future__ import annotations

import os
from typing import Any

from .formats import StoreRoot, read_pyramid
from .loading import attach
from .model import Pyramid


def open_pyramid(uri: str | os.PathLike[str] | StoreRoot, **storage_options: Any) -> Pyramid:
    """Open an N5 / Zarr / OME-Zarr path or URL as a lazy ``Pyramid`` (read-only).

    Reads metadata only. Raises ``ChunkviewError`` subclasses for data it cannot read
    (``NotRecognisedError``, ``MetadataError``, ``UnsupportedError``) and
    ``FileNotFoundError`` for a local path that does not exist.
    """
    return attach(read_pyramid(uri, **storage_options))

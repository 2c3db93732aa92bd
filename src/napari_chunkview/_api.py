"""The public entry point."""

from __future__ import annotations

import os
from typing import Any

from .formats import StoreRoot, read_pyramid, validation_deferred
from .loading import attach
from .model import Pyramid


def open_pyramid(
    uri: str | os.PathLike[str] | StoreRoot, *, validate: bool = True, **storage_options: Any
) -> Pyramid:
    """Open an N5 / Zarr / OME-Zarr path or URL as a lazy ``Pyramid`` (read-only).

    Reads metadata only. Raises ``ChunkviewError`` subclasses for data it cannot read
    (``NotRecognisedError``, ``MetadataError``, ``UnsupportedError``) and
    ``FileNotFoundError`` for a local path that does not exist.

    ``validate=False`` skips the OME-NGFF schema validation by ome-zarr-models (its
    import costs 0.2–1 s on a first open; the napari reader skips it and the inspector
    and QC run it later): ``formats.pyramid_validation(pyramid)`` gives its warnings.
    Problems that make the metadata unusable are errors either way.
    """
    if validate:
        return attach(read_pyramid(uri, **storage_options))
    with validation_deferred():
        return attach(read_pyramid(uri, **storage_options))

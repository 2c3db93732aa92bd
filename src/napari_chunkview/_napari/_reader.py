"""The napari reader contribution.

``get_reader`` is cheap and never raises: it sniffs each path with the formats layer
(a metadata document or two, no chunk) and returns ``None`` for anything no adapter
recognises. The reader it returns opens the pyramids; its errors are ``ChunkviewError``s
whose one-line message napari shows ("Original error from plugin …").
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from .._api import open_pyramid
from ..formats import open_root, sniff
from ..model import ChunkviewError, NotRecognisedError
from ._layers import LayerData, pyramid_to_layer_data

log = logging.getLogger(__name__)

PathOrPaths = str | Sequence[str]
ReaderFunction = Callable[[PathOrPaths], list[LayerData]]

#: A dropped metadata document stands for the folder that holds it.
METADATA_FILES = frozenset({"zarr.json", ".zattrs", ".zgroup", ".zarray", "attributes.json"})
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def dataset_uri(path: str | os.PathLike[str]) -> str:
    """The dataset ``path`` names: the parent of a dropped metadata file, else ``path``
    (local paths made absolute, ``file://`` stripped)."""
    path = os.fspath(path)
    if path.startswith("file://"):
        path = path[len("file://") :]
    if _URL.match(path):
        head, _, base = path.rstrip("/").rpartition("/")
        return head if base in METADATA_FILES else path
    local = os.path.abspath(os.path.expanduser(path))
    if os.path.basename(local) in METADATA_FILES and os.path.isfile(local):
        return os.path.dirname(local)
    return local


def _as_list(path: Any) -> list[str] | None:
    if isinstance(path, str | os.PathLike):
        return [os.fspath(path)]
    if isinstance(path, Sequence) and path and all(isinstance(p, str | os.PathLike) for p in path):
        return [os.fspath(p) for p in path]
    return None


def recognise(path: str | os.PathLike[str]) -> bool:
    """Does a format adapter recognise ``path``? Reads at most a few metadata documents.

    Raises ``ChunkviewError`` when metadata is there but broken, ``OSError`` (or a store's
    own error) when the path cannot be opened.
    """
    root, inner = open_root(dataset_uri(path))
    try:
        return sniff(root, inner) is not None
    finally:
        root.close()


def get_reader(path: PathOrPaths) -> ReaderFunction | None:
    """npe2 reader getter: ``read_pyramids`` when every path is an N5 / Zarr dataset we
    recognise (or one whose metadata we recognise but cannot parse: opening it then
    reports why), else ``None``. Never raises."""
    try:
        paths = _as_list(path)
        if paths is None:
            return None
        for p in paths:
            try:
                if not recognise(p):
                    return None
            except ChunkviewError as e:  # ours, but broken: let the reader say why
                log.debug("get_reader(%r): %s", p, e)
    except Exception as e:
        log.debug("get_reader(%r) declined: %s: %s", path, type(e).__name__, e)
        return None
    return read_pyramids


def _open(path: str) -> list[LayerData]:
    uri = dataset_uri(path)
    try:
        return pyramid_to_layer_data(open_pyramid(uri))
    except ChunkviewError:
        raise
    except FileNotFoundError as e:
        raise NotRecognisedError(f"{uri}: {e.strerror or e}") from None
    except Exception as e:  # a bug or a store error: still one clear line for napari
        raise ChunkviewError(f"{uri}: could not be opened ({type(e).__name__}: {e})") from e


def read_pyramids(path: PathOrPaths) -> list[LayerData]:
    """Reader function: the layers of each dataset in ``path`` (a path or a list)."""
    paths = _as_list(path)
    if paths is None:
        raise NotRecognisedError(f"{path!r} is not a path")
    return [layer for p in paths for layer in _open(p)]

"""The napari reader contribution.

``get_reader`` is cheap and never raises: it sniffs each path with the formats layer
(a metadata document or two, no chunk) and returns ``None`` for anything no adapter
recognises. The reader it returns opens the pyramids.

Inside a napari session the reader never raises either: a dataset it cannot open
(``ChunkviewError``, one line naming the path and the problem) becomes one error
notification, and the reader returns napari's "read, no layers" value. Raising would make
napari 0.9.2 pop its modal "Choose reader" dialog on a drop (offering its builtin reader,
which cannot read N5 / Zarr either), or an error with a traceback for File ▸ Open with a
chosen plugin. Outside napari (``npe2.read``, scripts without a viewer) and inside
``raising_errors()`` the ``ChunkviewError`` is raised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._api import open_pyramid
from ..formats import open_root, sniff
from ..model import ChunkviewError, NotRecognisedError, RemoteError, error_reason
from ._layers import LayerData, pyramid_to_layer_data
from ._preferences import _in_napari_session

log = logging.getLogger(__name__)

PathOrPaths = str | Sequence[str]
ReaderFunction = Callable[[PathOrPaths], list[LayerData]]

#: What an npe2 reader returns when it read the path but has no layer for napari.
NO_LAYERS: list[Any] = [(None,)]
_RAISING = threading.local()

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
            except RemoteError as e:  # unreachable: nothing says it is ours
                log.debug("get_reader(%r) declined: %s", p, e)
                return None
            except ChunkviewError as e:  # ours, but broken: let the reader say why
                log.debug("get_reader(%r): %s", p, e)
    except Exception as e:
        log.debug("get_reader(%r) declined: %s: %s", path, type(e).__name__, e)
        return None
    return read_in_napari


def _open(path: str) -> list[LayerData]:
    uri = dataset_uri(path)
    try:
        # schema validation (ome-zarr-models: 0.2–1 s to import) is left to the inspector
        # and QC, which run it in the background: the layer appears sooner
        return pyramid_to_layer_data(open_pyramid(uri, validate=False))
    except ChunkviewError:
        raise
    except FileNotFoundError as e:
        raise NotRecognisedError(f"{uri}: {e.strerror or e}") from None
    except Exception as e:  # a bug or a store error: still one clear line for napari
        raise ChunkviewError(f"{uri}: could not be opened ({error_reason(e)})") from e


def read_pyramids(path: PathOrPaths) -> list[LayerData]:
    """The layers of each dataset in ``path`` (a path or a list); ``ChunkviewError``
    for one that cannot be opened."""
    paths = _as_list(path)
    if paths is None:
        raise NotRecognisedError(f"{path!r} is not a path")
    return [layer for p in paths for layer in _open(p)]


@contextlib.contextmanager
def raising_errors() -> Iterator[None]:
    """Within this block (this thread), the reader raises ``ChunkviewError`` even in a
    napari session: for callers that handle errors themselves (``chunkview view``)."""
    before = getattr(_RAISING, "on", False)
    _RAISING.on = True
    try:
        yield
    finally:
        _RAISING.on = before


def notify_error(message: str) -> None:
    """One error notification in napari (the toast a user sees), one line."""
    from napari.utils.notifications import show_error  # type: ignore[import-untyped]

    show_error(" ".join(message.split()))


def read_in_napari(path: PathOrPaths) -> list[LayerData]:
    """The reader function napari calls: ``read_pyramids``, except that in a napari
    session each dataset that cannot be opened is reported as an error notification
    (the others still open) instead of raising."""
    if getattr(_RAISING, "on", False) or not _in_napari_session():
        return read_pyramids(path)
    paths = _as_list(path)
    if paths is None:
        notify_error(f"napari-chunkview: {path!r} is not a path")
        return NO_LAYERS
    layers: list[LayerData] = []
    for p in paths:
        try:
            layers.extend(_open(p))
        except ChunkviewError as e:
            log.warning("%s", e)
            text = str(e)
            uri = dataset_uri(p)
            where = "" if uri in text else f"{uri}: "
            notify_error(f"napari-chunkview could not open {where}{text}")
    return layers or NO_LAYERS

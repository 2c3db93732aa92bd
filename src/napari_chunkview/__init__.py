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
    RemoteError,
    UnsafePathError,
    UnsupportedError,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # ``view`` needs anywidget (the ``jupyter`` extra): import it on first use only, so
    # ``import napari_chunkview`` stays light
    if name == "view":
        from .notebook import view

        return view
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "view"])


# ``view`` is not in ``__all__``: a star import must not need the optional extra
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
    "RemoteError",
    "UnsafePathError",
    "UnsupportedError",
    "__version__",
    "open_pyramid",
]

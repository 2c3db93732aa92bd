"""The notebook front end: ``view(uri_or_pyramid)`` → an anywidget viewer (2D canvas with
tiles on demand, sliders, contrast, and the chunk inspector's panels). Needs the
``jupyter`` extra (anywidget)."""

from ._inspector import InspectorModel, JupyterChunkView
from ._widget import ChunkViewer, view

__all__ = ["ChunkViewer", "InspectorModel", "JupyterChunkView", "view"]

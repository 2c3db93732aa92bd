"""The ``chunkview`` command line (``python -m napari_chunkview``)."""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]

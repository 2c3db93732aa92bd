"""The napari front end (the only package that imports napari, and only lazily):
the reader contribution, Pyramid → layer data, the sample data and reader preferences."""

from ._layers import pyramid_to_layer_data
from ._reader import get_reader, read_pyramids

__all__ = ["get_reader", "pyramid_to_layer_data", "read_pyramids"]

"""The sample-data contribution: the synthetic pyramid, written to a temporary folder
once per process and read back through our own reader."""

from __future__ import annotations

from .._sample import temporary_sample
from ._layers import LayerData
from ._reader import read_pyramids


def make_sample_pyramid() -> list[LayerData]:
    """Layer data of the synthetic OME-NGFF 0.5 pyramid (2 channels, 3 levels)."""
    return read_pyramids(str(temporary_sample()))

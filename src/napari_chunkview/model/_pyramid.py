"""The neutral pyramid model every format produces and every front end reads."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from ._chunks import ChunkGrid
from ._codecs import CodecInfo
from ._source import ChunkSource

AxisType = Literal["space", "time", "channel", "custom"]


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    type: AxisType = "space"
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel's display hints: name, colour (``#RRGGBB``), window (contrast)."""

    name: str
    color: str | None = None
    window: tuple[float, float] | None = None
    visible: bool = True


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which format and convention recognised the data, and why."""

    format: str  # "zarr v2", "zarr v3", "N5", ...
    convention: str  # "OME-NGFF 0.4", "n5-viewer", "BigDataViewer N5", "COSEM", "plain", "array"
    reason: str  # human text: which keys / files were decisive
    format_details: str = ""


@dataclass(frozen=True, slots=True)
class Level:
    """One resolution level: a lazy array in C order plus how it is stored."""

    path: str  # store path of the array, relative to the store root
    source: ChunkSource
    codecs: tuple[CodecInfo, ...]
    key_encoding: str  # e.g. "v2 '.'", "default '/'", "N5 '/' (axes reversed)"
    key_template: str  # e.g. "s0/{2}/{1}/{0}": {i} is the chunk index along C-order axis i
    scale: tuple[float, ...]
    translation: tuple[float, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: non-empty for a level computed on the fly (not stored): says how it is derived
    virtual: str = ""
    #: the array-like napari reads (slices exactly the chunks in view), set by loading
    array: Any = None

    @property
    def data(self) -> Any:
        """A dask array over ``array`` (``None`` before the loading layer attached one),
        chunked along storage boundaries. Built on first use: napari reads ``array``, so
        opening a dataset in napari never imports dask.array."""
        return None if self.array is None else self.array.dask

    @property
    def grid(self) -> ChunkGrid:
        return self.source.grid

    @property
    def shape(self) -> tuple[int, ...]:
        return self.source.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.source.dtype

    @property
    def fill_value(self) -> Any:
        return self.source.fill_value

    @property
    def logical_nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def chunk_key(self, index: tuple[int, ...]) -> str:
        return self.source.chunk_key(index)


@dataclass(frozen=True, slots=True)
class Pyramid:
    """A multiscale image (or labels image): levels largest first, all in C order."""

    uri: str
    name: str
    levels: tuple[Level, ...]
    axes: tuple[Axis, ...]
    provenance: Provenance
    channels: tuple[Channel, ...] = ()
    labels: tuple[Pyramid, ...] = ()
    kind: Literal["image", "labels"] = "image"
    attributes: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""  # group path of this pyramid inside the store
    label_colors: Mapping[int, tuple[float, float, float, float]] = field(default_factory=dict)
    #: Problems found in the metadata that did not stop the pyramid from opening
    #: (e.g. an OME-NGFF document that breaks the spec but is unambiguous).
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("a pyramid needs at least one level")
        ndim = self.levels[0].source.grid.ndim
        if len(self.axes) != ndim:
            raise ValueError(f"{len(self.axes)} axes for a {ndim}-d array")
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.levels[0].shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.levels[0].dtype

    @property
    def channel_axis(self) -> int | None:
        for i, a in enumerate(self.axes):
            if a.type == "channel":
                return i
        return None

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def units(self) -> tuple[str | None, ...]:
        return tuple(a.unit for a in self.axes)

    def with_levels(self, levels: tuple[Level, ...]) -> Pyramid:
        return replace(self, levels=levels)

    @property
    def stored_levels(self) -> tuple[Level, ...]:
        """The levels that exist in the store (without virtual ones)."""
        return tuple(lv for lv in self.levels if not lv.virtual)

    def walk(self) -> tuple[Pyramid, ...]:
        """This pyramid and its labels, depth first."""
        out: list[Pyramid] = [self]
        for lab in self.labels:
            out.extend(lab.walk())
        return tuple(out)

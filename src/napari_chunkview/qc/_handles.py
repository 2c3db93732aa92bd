"""Levels that travel to dask workers.

A ``ChunkSource`` cannot be pickled: a ``ZarrSource`` holds a zarr ``Array`` and a
``StoreRoot`` with locks, listeners and an event loop behind it. What travels instead is
an ``OpenSpec`` (root URI, group path, storage options) plus the level's position in
``Pyramid.walk()``; a worker reopens the pyramid from metadata once (cached per worker
process) and reads chunks through its own sources. In the process that built the graph
(the local scheduler) a ``LevelRef`` carries the live level and nothing is reopened.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..model import Level, Pyramid


@dataclass(frozen=True, slots=True)
class OpenSpec:
    """How a worker reopens a pyramid: ``root`` as ``open_root`` takes it, ``path`` the
    group (or array) inside it, ``options`` the storage options (JSON-able; credentials
    should come from the worker's environment rather than from here)."""

    root: str
    path: str = ""
    options_json: str = "{}"

    @classmethod
    def of(cls, pyramid: Pyramid, storage_options: dict[str, Any] | None = None) -> OpenSpec:
        return cls(pyramid.uri, pyramid.path, json.dumps(storage_options or {}, sort_keys=True))

    @property
    def options(self) -> dict[str, Any]:
        return dict(json.loads(self.options_json))


_OPENED: OrderedDict[OpenSpec, Pyramid] = OrderedDict()
_OPEN_LOCK = threading.Lock()
_MAX_OPENED = 16


def reopen(spec: OpenSpec) -> Pyramid:
    """The pyramid of ``spec``, opened once per process (metadata only)."""
    with _OPEN_LOCK:
        if spec in _OPENED:
            _OPENED.move_to_end(spec)
            return _OPENED[spec]
    from ..formats import open_root, pyramid_from_node, sniff

    root, _inner = open_root(spec.root, **spec.options)
    adapter = sniff(root, spec.path)
    node = adapter.open_node(root, spec.path) if adapter is not None else None
    if node is None:
        raise FileNotFoundError(f"{root.describe(spec.path)}: cannot reopen on this worker")
    pyramid = pyramid_from_node(node)
    with _OPEN_LOCK:
        _OPENED[spec] = pyramid
        while len(_OPENED) > _MAX_OPENED:
            _OPENED.popitem(last=False)
    return pyramid


class LevelRef:
    """Level ``level`` of image ``image`` (its index in ``Pyramid.walk()``).

    Pickles without the live level; ``get()`` then reopens it from ``spec``. A plain
    class on purpose: ``dask.delayed`` looks inside dataclass arguments for dask
    collections, and the live level carries its dask array (the whole level would be
    computed as a dependency of the task).
    """

    __slots__ = ("image", "level", "live", "path", "shape", "spec")

    def __init__(
        self,
        spec: OpenSpec,
        image: int,
        level: int,
        path: str,
        shape: tuple[int, ...],
        live: Level | None = None,
    ) -> None:
        self.spec = spec
        self.image = image
        self.level = level
        self.path = path
        self.shape = tuple(shape)
        self.live = live

    def __repr__(self) -> str:
        return f"LevelRef({self.spec.root!r}, image={self.image}, level={self.level})"

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("spec", "image", "level", "path", "shape")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self.live = None

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.spec, self.image, self.level, self.path, self.shape)

    def get(self) -> Level:
        if self.live is not None:
            return self.live
        images = reopen(self.spec).walk()
        if self.image >= len(images) or self.level >= len(images[self.image].levels):
            raise LookupError(f"{self.spec.root}: level {self.path!r} not found on reopening")
        lv = images[self.image].levels[self.level]
        if lv.path != self.path or tuple(lv.shape) != tuple(self.shape):
            raise LookupError(
                f"{self.spec.root}: reopened level {self.level} is {lv.path!r} {lv.shape}, "
                f"expected {self.path!r} {self.shape}"
            )
        return lv

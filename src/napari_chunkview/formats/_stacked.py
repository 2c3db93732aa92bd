"""A ``ChunkSource`` that stacks equally shaped sources along new leading axes.

BigDataViewer N5 keeps each (timepoint, setup) view in its own array, and n5-viewer keeps
each channel in its own pyramid; ``StackedSource`` presents them as one array
``(*lead_shape, *inner_shape)`` with chunk size 1 along the new axes, so every stored
chunk of every view stays one chunk of the stack (and keeps its own store key).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model import ChunkGrid, ChunkSource, GridSource, Level


class StackedSource(GridSource):
    """``sources`` (flattened in C order over ``lead_shape``) stacked as one array."""

    def __init__(self, sources: Sequence[ChunkSource], lead_shape: Sequence[int]) -> None:
        lead = tuple(int(n) for n in lead_shape)
        if not sources or math.prod(lead) != len(sources):
            raise ValueError(f"{len(sources)} sources cannot fill a stack of shape {lead}")
        first = sources[0]
        for s in sources[1:]:
            if s.shape != first.shape or s.dtype != first.dtype:
                raise ValueError(
                    f"cannot stack a {s.shape} {s.dtype} array on a {first.shape} {first.dtype} one"
                )
            if (
                s.grid.chunk_shape != first.grid.chunk_shape
                or s.grid.shard_shape != first.grid.shard_shape
            ):
                raise ValueError(
                    f"cannot stack arrays chunked {s.grid.chunk_shape} and {first.grid.chunk_shape}"
                )
        self._sources = tuple(sources)
        self._lead = lead
        inner = first.grid
        ones = (1,) * len(lead)
        self._grid = ChunkGrid(
            lead + inner.shape,
            ones + inner.chunk_shape,
            None if inner.shard_shape is None else ones + inner.shard_shape,
        )

    @property
    def sources(self) -> tuple[ChunkSource, ...]:
        return self._sources

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._sources[0].dtype

    @property
    def fill_value(self) -> Any:
        return self._sources[0].fill_value

    @property
    def has_fast_path(self) -> bool:
        return all(getattr(s, "has_fast_path", False) for s in self._sources)

    def fetch(self, indices: Sequence[tuple[int, ...]]) -> list[bytes | None]:
        """Stored bytes of each chunk, fetched from each stacked array in one call."""
        k = len(self._lead)
        groups: dict[tuple[int, ...], list[int]] = {}
        for n, idx in enumerate(indices):
            groups.setdefault(tuple(idx[:k]), []).append(n)
        out: list[bytes | None] = [None] * len(indices)
        for lead, ns in groups.items():
            src: Any = self.source_at(lead)
            for n, raw in zip(ns, src.fetch([tuple(indices[n][k:]) for n in ns]), strict=True):
                out[n] = raw
        return out

    def decode(self, index: tuple[int, ...], raw: bytes) -> np.ndarray:
        k = len(self._lead)
        src: Any = self.source_at(index[:k])
        return src.decode(tuple(index[k:]), raw).reshape((1,) * k + self._grid.chunk_shape[k:])

    def source_at(self, lead_index: Sequence[int]) -> ChunkSource:
        """The source at ``lead_index`` (one index per leading axis)."""
        return self._sources[int(np.ravel_multi_index(tuple(lead_index), self._lead))]

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        k = len(self._lead)
        lead_box, inner_box = list(box[:k]), list(box[k:])
        out = np.empty(tuple(b - a for a, b in box), dtype=self.dtype)
        for idx in itertools.product(*(range(a, b) for a, b in lead_box)):
            dst = tuple(i - a for i, (a, _) in zip(idx, lead_box, strict=True))
            out[dst] = self.source_at(idx).read(inner_box)
        return out

    def chunk_key(self, index: Sequence[int]) -> str:
        k = len(self._lead)
        return self.source_at(index[:k]).chunk_key(index[k:])

    def __repr__(self) -> str:
        return f"StackedSource({len(self._sources)} arrays, shape={self.shape}, dtype={self.dtype})"


_PLACEHOLDER = re.compile(r"\{(\d+)\}")


def shift_template(template: str, k: int) -> str:
    """``"s0/{2}/{1}/{0}"`` → ``"s0/{3}/{2}/{1}"`` for ``k = 1`` (``{i}`` is the chunk
    index along C-order axis ``i``; ``k`` new axes come first)."""
    return _PLACEHOLDER.sub(lambda m: f"{{{int(m.group(1)) + k}}}", template)


def stack_levels(levels: Sequence[Level], lead_shape: Sequence[int], path_pattern: str) -> Level:
    """One level made of equally shaped ``levels`` (flattened in C order over
    ``lead_shape``): scale 1 and translation 0 along the new axes.

    ``path_pattern`` is the store path with ``{i}`` standing for the index along new
    axis ``i`` (e.g. ``"setup{1}/timepoint{0}/s0"``); it replaces the first level's
    path in the key template.
    """
    first = levels[0]
    k = len(lead_shape)
    suffix = (
        first.key_template[len(first.path) :] if first.key_template.startswith(first.path) else ""
    )
    template = (
        path_pattern + shift_template(suffix, k)
        if suffix
        else shift_template(first.key_template, k)
    )
    return Level(
        path=first.path,
        source=StackedSource([lv.source for lv in levels], lead_shape),
        codecs=first.codecs,
        key_encoding=first.key_encoding,
        key_template=template,
        scale=(1.0,) * k + tuple(first.scale),
        translation=(0.0,) * k + tuple(first.translation),
        attributes={**dict(first.attributes), "stacked_paths": [lv.path for lv in levels]},
    )

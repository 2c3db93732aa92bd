"""Fixtures for the kernel-side tests of the notebook viewer (no browser): the bundled
sample written once, and small pyramids built in memory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview.loading import attach
from napari_chunkview.model import (
    Axis,
    Channel,
    ChunkGrid,
    CodecInfo,
    GridSource,
    Level,
    Provenance,
    Pyramid,
)

pytest.importorskip("anywidget")

#: (c, z, y, x): levels 256², 128², 64²; z 8, 4, 2.
SAMPLE_SHAPE = (2, 8, 256, 256)


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from napari_chunkview._sample import write_sample_pyramid

    return write_sample_pyramid(
        tmp_path_factory.mktemp("nb") / "sample.ome.zarr", shape=SAMPLE_SHAPE
    )


@pytest.fixture(scope="session")
def sample(sample_path: Path) -> Pyramid:
    from napari_chunkview import open_pyramid

    return open_pyramid(sample_path)


class ArraySource(GridSource):
    """A level held in memory (optionally slow, or failing on every read)."""

    def __init__(self, data: np.ndarray, chunks: Sequence[int], fill: Any = 0) -> None:
        self.data = data
        self._grid = ChunkGrid(tuple(data.shape), tuple(chunks))
        self._dtype = data.dtype
        self._fill = fill
        self.fail: BaseException | None = None

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        if self.fail is not None:
            raise self.fail
        return self.data[tuple(slice(a, b) for a, b in box)].copy()

    def chunk_key(self, index: Sequence[int]) -> str:
        return "/".join(map(str, index))


def make_pyramid(
    levels: Sequence[np.ndarray],
    axes: Sequence[tuple[str, str]],
    *,
    scales: Sequence[Sequence[float]] | None = None,
    translations: Sequence[Sequence[float]] | None = None,
    channels: Sequence[Channel] = (),
    chunks: Sequence[int] | None = None,
    name: str = "mem",
) -> Pyramid:
    """An attached in-memory pyramid (``axes``: (name, type) per axis)."""
    out = []
    for k, data in enumerate(levels):
        ch = tuple(chunks) if chunks is not None else tuple(min(32, s) for s in data.shape)
        scale = (
            tuple(scales[k])
            if scales
            else tuple(float(levels[0].shape[i] / data.shape[i]) for i in range(data.ndim))
        )
        trans = tuple(translations[k]) if translations else (0.0,) * data.ndim
        out.append(
            Level(
                path=str(k),
                source=ArraySource(data, ch),
                codecs=(CodecInfo("raw"),),
                key_encoding="test",
                key_template=f"{k}/" + "/".join(f"{{{i}}}" for i in range(data.ndim)),
                scale=scale,
                translation=trans,
            )
        )
    return attach(
        Pyramid(
            uri=f"memory://{name}",
            name=name,
            levels=tuple(out),
            axes=tuple(Axis(n, t) for n, t in axes),  # type: ignore[arg-type]
            provenance=Provenance("memory", "plain", "built by the tests"),
            channels=tuple(channels),
        )
    )

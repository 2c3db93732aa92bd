"""Datasets written by real writers for the inspector's tests (see ``_datasets.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._datasets import Dataset, write_n5_viewer, write_ngff05_sharded, write_zarr_v2_nested


@pytest.fixture
def ngff_sharded(tmp_path: Path) -> Dataset:
    return write_ngff05_sharded(tmp_path / "sharded.ome.zarr")


@pytest.fixture
def n5_viewer(tmp_path: Path) -> Dataset:
    pytest.importorskip("tensorstore")
    return write_n5_viewer(tmp_path / "pyramid.n5")


@pytest.fixture
def v2_nested(tmp_path: Path) -> Dataset:
    return write_zarr_v2_nested(tmp_path / "nested.zarr")

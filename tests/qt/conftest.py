"""Fixtures for tests with a real napari viewer (run them under ``xvfb-run -a``: an image
layer needs OpenGL, which ``QT_QPA_PLATFORM=offscreen`` does not give)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._support import Written, use_temporary_napari_settings, write_ome_zarr

PLUGIN = "napari-chunkview"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.qt)


@pytest.fixture(autouse=True)
def napari_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Every test gets fresh napari settings in ``tmp_path`` (reader preferences too)."""
    return use_temporary_napari_settings(monkeypatch, tmp_path)


@pytest.fixture
def ome_v05(tmp_path: Path) -> Written:
    return write_ome_zarr(tmp_path / "multichannel.ome.zarr", version="0.5")


@pytest.fixture
def ome_v04_labels(tmp_path: Path) -> Written:
    return write_ome_zarr(tmp_path / "with_labels.ome.zarr", version="0.4", labels=True)


@pytest.fixture
def fresh_activation() -> Any:
    """The plugin not activated, as in a new napari session (npe2 activates it again
    when one of its commands next runs)."""
    import npe2

    pm = npe2.PluginManager.instance()
    pm.deactivate(PLUGIN)
    return pm

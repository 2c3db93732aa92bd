"""Drag and drop reaches our reader without the user naming it.

In napari 0.9.2 a drop (and ``napari PATH``) calls ``viewer.open(paths, plugin=None)``;
for a local folder npe2 offers every reader that accepts folders (napari's builtin one and
ours), so napari opens the folder only if a reader preference matches it, and otherwise
asks. The plugin's ``on_activate`` adds ``*.zarr/`` and ``*.n5/`` preferences (see
``napari_chunkview._napari._preferences``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from napari_chunkview._napari._preferences import FOLDER_PATTERNS, register_reader_preferences

from ._support import Written, write_n5, write_zarr_plain

PLUGIN = "napari-chunkview"


def drop(viewer: Any, path: Path) -> None:
    """What Qt delivers when a file manager drops ``path`` on the canvas."""
    from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
    from qtpy.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    viewer.window._qt_viewer.dropEvent(event)


@pytest.fixture
def reader_dialog(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """napari's "Choose reader" dialog, answered "Chunk View" (and recorded) instead of
    blocking the test."""
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog

    asked: list[str] = []

    def choose(self: Any) -> tuple[str, bool]:
        asked.append(self._current_file)
        return "Chunk View", False

    monkeypatch.setattr(QtReaderDialog, "get_user_choices", choose)
    return asked


@pytest.fixture(params=["zarr", "n5"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Written:
    if request.param == "zarr":
        return write_zarr_plain(tmp_path / "dropped.zarr")
    return write_n5(tmp_path / "dropped.n5")


def test_without_a_preference_napari_cannot_choose(make_napari_viewer, folder: Written) -> None:  # type: ignore[no-untyped-def]
    from napari.errors import MultipleReaderError

    viewer = make_napari_viewer()  # fresh settings: no reader preferences
    with pytest.raises(MultipleReaderError) as info:
        viewer.open(str(folder.path), plugin=None)
    assert {"napari", PLUGIN} <= set(info.value.available_plugins)


def test_activation_registers_folder_preferences(  # type: ignore[no-untyped-def]
    make_napari_viewer,
    fresh_activation: Any,
    napari_settings: Any,
    folder: Written,
    reader_dialog: list[str],
) -> None:
    viewer = make_napari_viewer()
    assert PLUGIN not in napari_settings.plugins.extension2reader.values()
    fresh_activation.activate(PLUGIN)  # what npe2 does when a command of ours first runs
    prefs = napari_settings.plugins.extension2reader
    assert {p: prefs[p] for p in FOLDER_PATTERNS} == dict.fromkeys(FOLDER_PATTERNS, PLUGIN)
    # the drag-and-drop path, at model level and through Qt's drop handler
    [layer] = viewer.open(str(folder.path), plugin=None)
    assert layer.source.reader_plugin == PLUGIN
    drop(viewer, folder.path)
    assert [lyr.source.reader_plugin for lyr in viewer.layers] == [PLUGIN, PLUGIN]
    assert [d.shape for d in viewer.layers[-1].data] == [lv.shape for lv in folder.levels]
    assert reader_dialog == [], "napari asked which reader to use"


def test_first_drop_asks_once_then_folders_come_to_us(  # type: ignore[no-untyped-def]
    make_napari_viewer, fresh_activation: Any, tmp_path: Path, reader_dialog: list[str]
) -> None:
    first = write_zarr_plain(tmp_path / "first.zarr")
    second = write_zarr_plain(tmp_path / "second.zarr", zarr_format=2)
    viewer = make_napari_viewer()
    drop(viewer, first.path)  # a new session: napari asks; the user picks Chunk View once
    assert reader_dialog == [str(first.path)]
    drop(viewer, second.path)  # ... and is not asked again for any other .zarr folder
    assert reader_dialog == [str(first.path)]
    assert [lyr.source.reader_plugin for lyr in viewer.layers] == [PLUGIN, PLUGIN]


def test_a_users_own_preference_is_kept(napari_settings: Any) -> None:
    napari_settings.plugins.extension2reader = {"*.zarr/": "napari", "/data/x.n5/": "other"}
    assert register_reader_preferences(napari_settings) == ["*.n5/"]
    assert napari_settings.plugins.extension2reader == {
        "*.zarr/": "napari",
        "/data/x.n5/": "other",
        "*.n5/": PLUGIN,
    }
    assert register_reader_preferences(napari_settings) == []  # idempotent


def test_nothing_is_registered_outside_a_napari_session(
    fresh_activation: Any, napari_settings: Any
) -> None:
    fresh_activation.activate(PLUGIN)  # e.g. a script calling npe2.read: no viewer
    assert PLUGIN not in napari_settings.plugins.extension2reader.values()

"""napari survives every hostile dataset.

Each case of the hostile corpus is dropped on a real viewer's canvas (Qt's drop handler,
as from a file manager, with a reader preference sending the folders to us, as the plugin
sets up for ``*.zarr`` / ``*.n5``) and opened as File ▸ Open with the plugin chosen does
(``viewer.open(path, plugin=...)``). Whatever the case: no exception escapes, napari's
"Choose reader" dialog never appears, and no traceback notification (an uncaught error)
is raised; a dataset that cannot be opened gives one error notification naming its path
and the problem; a dataset with broken chunks opens, those chunks are flagged ``failed``
(events and ``LevelArray.failures``) and the rest renders. Afterwards the viewer still
opens a good dataset, steps through it and takes a screenshot.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview._napari._layers import MAX_AXIS_LENGTH
from napari_chunkview._napari._preferences import register_reader_preferences
from napari_chunkview.loading import EVENTS, ChunkEvent

from ..qt._support import use_temporary_napari_settings, write_zarr_plain
from ..qt.test_drop import drop
from .hostile import HostileCase, build_hostile_corpus
from .test_read_only import pickle_cases, snapshot

pytestmark = pytest.mark.qt
PLUGIN = "napari-chunkview"


@pytest.fixture(autouse=True)
def napari_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    return use_temporary_napari_settings(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[HostileCase]]:
    root = tmp_path_factory.mktemp("hostile-napari")
    return root, [*build_hostile_corpus(root / "shared"), *pickle_cases(root / "pickle")]


@pytest.fixture(autouse=True)
def reader_dialog(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """napari's modal "Choose reader" dialog, recorded and cancelled instead of blocking."""
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog

    asked: list[str] = []

    def cancel(self: Any) -> tuple[str, bool]:
        asked.append(self._current_file)
        return "", False

    monkeypatch.setattr(QtReaderDialog, "get_user_choices", cancel)
    return asked


class Notes:
    """napari's notifications since the last ``take()``."""

    def __init__(self) -> None:
        from napari.utils.notifications import notification_manager

        self._manager = notification_manager
        self._seen = len(notification_manager.records)

    def take(self) -> list[Any]:
        new = self._manager.records[self._seen :]
        self._seen = len(self._manager.records)
        return list(new)


def _is_traceback(note: Any) -> bool:
    """An uncaught exception (napari shows it with a "View Traceback" button)."""
    return getattr(note, "exception", None) is not None


def napari_can_show(case: HostileCase) -> bool:
    """napari's dims sliders are int32: longer axes are refused by our reader."""
    if case.expect == "error":
        return True
    return max(open_pyramid(case.path).shape) <= MAX_AXIS_LENGTH


def check_case(
    case: HostileCase, layers: list[Any], notes: list[Any], failed: list[ChunkEvent]
) -> str:
    """What is wrong after opening ``case`` (``layers``: those it added); "" if nothing."""
    errors = [n for n in notes if str(getattr(n, "severity", "")) == "error"]
    if any(_is_traceback(n) for n in notes):
        return f"a traceback notification: {[n.message for n in notes]}"
    if case.expect == "error" or not napari_can_show(case):
        if layers:
            return f"layers {[ly.name for ly in layers]} for a dataset that cannot be opened"
        if len(errors) != 1:
            return f"{len(errors)} error notifications: {[n.message for n in notes]}"
        message = errors[0].message
        if str(case.path) not in message or "\n" in message:
            return f"the notification does not name the path on one line: {message!r}"
        if case.match and not re.search(case.match, message):
            return f"the notification does not say why ({case.match!r}): {message!r}"
        return ""
    if not layers or errors:
        return f"did not open: {[n.message for n in notes]}"
    if case.expect == "flagged":
        (layer,) = layers
        level = layer.data[case.level] if layer.multiscale else layer.data
        flagged = set(level.failures)
        if flagged != set(case.chunks):
            return f"failed chunks {sorted(flagged)}, expected {sorted(case.chunks)}"
        evented = {e.index for e in failed if e.source == level.name}
        if evented != flagged:
            return f"failed events for {sorted(evented)}, failures {sorted(flagged)}"
        if case.data is not None and not layer.multiscale:
            shown = np.asarray(layer._slice.image.raw)
            good = np.ones(case.data.shape, dtype=bool)
            whole = [(0, n) for n in level.shape]
            for idx in case.chunks:
                good[level.source.grid.overlap(whole, idx)[0]] = False
            if shown.shape != case.data.shape or not np.array_equal(shown[good], case.data[good]):
                return "the chunks that read are not what napari shows"
    return ""


def open_each(viewer: Any, cases: list[HostileCase], how: Any) -> dict[str, str]:
    """Open each case with ``how(viewer, path)``; what went wrong, by case name."""
    notes = Notes()
    problems = {}
    before = len(viewer.layers)
    for case in cases:
        failed: list[ChunkEvent] = []
        unsubscribe = EVENTS.subscribe(
            lambda e, f=failed: f.append(e) if e.kind == "failed" else None
        )
        try:
            how(viewer, case.path)
            problem = check_case(case, list(viewer.layers[before:]), notes.take(), failed)
        except Exception as e:  # an escaped exception is what this test is about
            problem = f"raised {type(e).__name__}: {e}"
        finally:
            unsubscribe()
        if problem:
            problems[case.name] = problem
        # napari removes each layer with a gc.collect() (0.2-0.4 s), and many layers slow
        # every addition down: hide them, and remove them ten at a time
        for layer in viewer.layers[before:]:
            layer.visible = False
        if len(viewer.layers) >= 10:
            viewer.layers.clear()
        before = len(viewer.layers)
    viewer.layers.clear()
    return problems


def dropped(cases: list[HostileCase]) -> list[HostileCase]:
    """Every case that cannot be opened (a notification each: ~15 ms), and of those that
    open, one per group of the corpus ("v3-sharded/…", "n5-block/…", …) and every huge,
    path and tree case: a layer costs napari ~0.3 s, all 65 would take ~25 s and meet
    the same layer shapes again (test_hostile reads every one of them)."""
    groups: set[str] = set()
    out = []
    for case in cases:
        group = f"{case.name.split('/')[0]} {case.expect}"
        every = case.expect == "error" or case.kind in ("path", "tree") or group[:5] == "huge "
        if every or group not in groups:
            groups.add(group)
            out.append(case)
    return out


def _drop(viewer: Any, path: Path) -> None:
    drop(viewer, path)


def _open_with_plugin(viewer: Any, path: Path) -> None:
    viewer.open(str(path), plugin=PLUGIN)


def test_every_hostile_dataset_dropped_on_napari(  # type: ignore[no-untyped-def]
    make_napari_viewer,
    napari_settings: Any,
    hostile: tuple[Path, list[HostileCase]],
    reader_dialog: list[str],
    tmp_path: Path,
) -> None:
    root, cases = hostile
    # what the plugin's *.zarr/ and *.n5/ preferences do, for these folder names
    register_reader_preferences(napari_settings)
    napari_settings.plugins.extension2reader = {
        **napari_settings.plugins.extension2reader,
        f"{root}/*/": PLUGIN,
    }
    before = snapshot(root)
    viewer = make_napari_viewer()
    problems = open_each(viewer, dropped(cases), _drop)
    assert problems == {}
    assert reader_dialog == [], "napari asked which reader to use"
    assert_usable(viewer, tmp_path)
    assert snapshot(root) == before


def test_hostile_datasets_opened_with_the_plugin_chosen(  # type: ignore[no-untyped-def]
    make_napari_viewer,
    napari_settings: Any,
    hostile: tuple[Path, list[HostileCase]],
    reader_dialog: list[str],
    tmp_path: Path,
) -> None:
    _root, cases = hostile
    # one case of each kind and expectation, and every path and tree case
    chosen: dict[Any, HostileCase] = {}
    for case in cases:
        key = case.name if case.kind in ("path", "tree") else (case.kind, case.expect)
        chosen.setdefault(key, case)
    viewer = make_napari_viewer()
    problems = open_each(viewer, list(chosen.values()), _open_with_plugin)
    assert problems == {}
    assert reader_dialog == []
    register_reader_preferences(napari_settings)  # what the plugin does on activation
    assert_usable(viewer, tmp_path)


def assert_usable(viewer: Any, tmp_path: Path) -> None:
    """The viewer opens a good dataset, steps through it and renders it."""
    good = write_zarr_plain(tmp_path / "good.zarr")
    drop(viewer, good.path)
    (layer,) = viewer.layers
    assert [d.shape for d in layer.data] == [lv.shape for lv in good.levels]
    viewer.dims.set_current_step(0, 5)
    viewer.screenshot(canvas_only=False, flash=False)  # a hidden window paints only then
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and shot[..., :3].std() > 0, "the canvas shows nothing"
    viewer.dims.set_current_step(0, 11)
    shown = good.levels[layer.data_level][11]
    np.testing.assert_array_equal(np.asarray(layer._slice.image.raw), shown)

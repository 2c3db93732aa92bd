"""Make napari hand local ``*.zarr`` / ``*.n5`` folders to this plugin without asking.

Why this is needed (napari 0.9.2): a dropped folder (and ``napari PATH``) goes through
``ViewerModel.open(plugin=None)`` → ``_open_or_raise_error``. npe2 ignores filename
patterns for local folders and lists every reader with ``accepts_directories`` — napari's
builtin reader and ours — so, unless ``settings.plugins.extension2reader`` has a pattern
matching ``realpath(folder) + "/"``, napari raises ``MultipleReaderError`` and the GUI
asks which reader to use. (Its "remember" box then stores that one folder's path only.)

What we do: when the plugin is activated inside a napari session, add ``*.zarr/`` and
``*.n5/`` → ``napari-chunkview`` to those preferences, each only if no preference of the
user's already matches such folders. The user's choices always win and stay editable in
Preferences ▸ Plugins. Activation is napari's own hook for a plugin's first use (npe2
activates a plugin when one of its commands first runs), so nothing runs at napari start
and nothing is written outside napari (a script calling ``npe2.read`` has no viewer).
"""

from __future__ import annotations

import logging
import sys
from fnmatch import fnmatch
from typing import Any

log = logging.getLogger(__name__)

PLUGIN_NAME = "napari-chunkview"
#: Folder patterns in napari's form: a folder is matched as ``realpath + os.sep``.
FOLDER_PATTERNS = ("*.zarr/", "*.n5/")


def register_reader_preferences(settings: Any = None) -> list[str]:
    """Add each of ``FOLDER_PATTERNS`` that no existing preference matches; return the
    patterns added."""
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    current = dict(settings.plugins.extension2reader)
    added = []
    for pattern in FOLDER_PATTERNS:
        probe = "/data/example" + pattern[1:]  # e.g. "/data/example.zarr/"
        if any(fnmatch(probe, existing) for existing in current):
            continue
        current[pattern] = PLUGIN_NAME
        added.append(pattern)
    if added:
        settings.plugins.extension2reader = current
        log.info("napari will open %s folders with %s", ", ".join(added), PLUGIN_NAME)
    return added


def _in_napari_session() -> bool:
    viewer = sys.modules.get("napari.viewer")
    return viewer is not None and viewer.current_viewer() is not None


def on_activate(context: Any = None) -> None:
    """npe2 ``on_activate`` hook (see the module docstring). Never raises."""
    try:
        if _in_napari_session():
            register_reader_preferences()
    except Exception as e:  # preferences are a convenience; never break activation
        log.debug("reader preferences not registered: %s", e)

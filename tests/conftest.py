"""Fixtures for the whole suite. Keep this small: each room's fixtures live in its own
folder's ``conftest.py`` (``tests/qt/conftest.py`` for the napari viewer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .corpus import CORPUS, SKIP_REASON


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``shared/corpus`` beside the repository root (read-only); skips when absent."""
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(SKIP_REASON)
    return CORPUS

"""Real-browser tests of the notebook widget: JupyterLab on 127.0.0.1 (started here) and
Debian's chromium (headless, Playwright). Marked ``browser``; skipped with the reason when
chromium or the Python packages are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._lab import missing

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    why = missing()
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if why:
                item.add_marker(pytest.mark.skip(reason=why))

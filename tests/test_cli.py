"""The ``chunkview`` command line: ``main([...])`` in process, and the console scripts."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview import __version__
from napari_chunkview.cli import main

from .qt._support import use_temporary_napari_settings, write_zarr_plain


@pytest.fixture
def napari_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    return use_temporary_napari_settings(monkeypatch, tmp_path)


def _read_png(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))


@pytest.mark.qt
def test_view_screenshot_of_the_sample(qapp, napari_settings: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "shots" / "sample.png"

    def window_settings() -> dict[str, Any]:
        app = napari_settings.application.model_dump()
        return {k: v for k, v in app.items() if k.startswith("window_")}

    window_before = window_settings()
    assert main(["view", "--screenshot", str(png), "--size", "400", "300"]) == 0
    gc.collect()
    assert window_settings() == window_before  # the hidden window's geometry is not saved
    image = _read_png(png)
    assert image.shape[:2] == (300, 400)
    rgb = image[..., :3].reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 10, "the screenshot is one colour"
    assert rgb.max() > 50


@pytest.mark.qt
def test_view_screenshot_of_a_path_in_3d(qapp, napari_settings: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    written = write_zarr_plain(tmp_path / "plain.zarr")
    png = tmp_path / "plain.png"
    assert main(["view", str(written.path), "--ndisplay", "3", "--screenshot", str(png)]) == 0
    gc.collect()
    assert _read_png(png)[..., :3].std() > 1


def test_view_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["view", str(tmp_path), "--screenshot", str(tmp_path / "x.png")]) == 1
    assert "not an N5 / Zarr dataset" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "view" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "napari_chunkview"], [str(Path(sys.executable).parent / "chunkview")]],
    ids=["python-m", "console-script"],
)
def test_entry_points(command: list[str]) -> None:
    result = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"chunkview {__version__}"

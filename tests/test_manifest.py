"""The npe2 manifest: valid, importable, discovered from the installed distribution, and
packaged into the wheel as the very file at the repository's top level."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

npe2 = pytest.importorskip("npe2")
from npe2 import PluginManifest  # noqa: E402
from npe2.manifest.utils import import_python_name  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "napari.yaml"
NAME = "napari-chunkview"


def test_npe2_validate_with_imports() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", str(MANIFEST), "--imports"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_manifest_from_file() -> None:
    mf = PluginManifest.from_file(MANIFEST)
    assert mf.name == NAME
    # npe2's --imports check stops at the first nested model: resolve every name here
    names = [c.python_name for c in mf.contributions.commands or []]
    for python_name in [*names, mf.on_activate]:
        assert python_name and callable(import_python_name(python_name)), python_name
    [reader] = mf.contributions.readers or []
    assert reader.accepts_directories is True
    assert {"*.zarr", "*.n5", "zarr.json", ".zattrs", "attributes.json", "*.zarr.zip"} <= set(
        reader.filename_patterns
    )
    assert [s.key for s in mf.contributions.sample_data or []] == ["synthetic_pyramid"]


def test_the_package_holds_the_top_level_manifest() -> None:
    """What npe2 loads (``napari_chunkview:napari.yaml`` → the file beside the package's
    ``__init__``) is the top-level ``napari.yaml``, editable install or not."""
    [ep] = [e for e in metadata.distribution(NAME).entry_points if e.group == "napari.manifest"]
    assert ep.value == "napari_chunkview:napari.yaml"
    spec = importlib.util.find_spec("napari_chunkview")
    assert spec is not None and spec.submodule_search_locations
    packaged = Path(next(iter(spec.submodule_search_locations))) / "napari.yaml"
    assert packaged.read_bytes() == MANIFEST.read_bytes()
    assert PluginManifest.from_distribution(NAME) == PluginManifest.from_file(MANIFEST).model_copy(
        update={"package_metadata": PluginManifest.from_distribution(NAME).package_metadata}
    )


def test_plugin_manager_discovers_reader_and_sample(tmp_path: Path) -> None:
    pm = npe2.PluginManager()
    pm.discover()
    mf = pm.get_manifest(NAME)
    assert mf.package_metadata is not None and mf.package_metadata.name == NAME
    folder = tmp_path / "x.zarr"
    folder.mkdir()
    for path in (str(folder), "https://example.org/a.zarr", str(tmp_path / "zarr.json")):
        readers = {r.command for r in pm.iter_compatible_readers([path])}
        assert f"{NAME}.get_reader" in readers, path
    samples = dict(pm.iter_sample_data())
    assert [s.key for s in samples[NAME]] == ["synthetic_pyramid"]


def test_the_wheel_contains_the_manifest(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = tmp_path.glob("napari_chunkview-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("napari_chunkview/napari.yaml") == MANIFEST.read_bytes()
        [entry_points] = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = zf.read(entry_points).decode()
    assert "[napari.manifest]" in text
    assert "napari-chunkview = napari_chunkview:napari.yaml" in text
    assert "chunkview = napari_chunkview.cli:main" in text

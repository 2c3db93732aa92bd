"""``chunkview info`` and ``chunkview qc``: output, exit status, JSON / HTML reports and
Ctrl-C, on datasets written in ``tmp_path`` (``main([...])`` in process, plus one run of
``python -m napari_chunkview``)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from napari_chunkview.cli import _qc as cli_qc
from napari_chunkview.cli import main

from .qc.conftest import Written, chunk_file, garbage, write_n5_viewer, write_ngff, write_sharded

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def ngff(tmp_path: Path) -> Written:
    return write_ngff(tmp_path / "image.ome.zarr")


def run(argv: list[str], capsys: Capture) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- info -------------------------------------------------------------------------------------
def test_info_tree(ngff: Written, capsys: Capture) -> None:
    code, out, _ = run(["info", str(ngff.path)], capsys)
    assert code == 0
    for text in ("format zarr v3", "convention OME-NGFF 0.5", "why: an OME-NGFF multiscale",
                 "axes z (space), y (space), x (space)", "levels (3)", "0 s0  4 × 100 × 90  uint16",
                 "chunks (2, 32, 32)", "codecs bytes(le) → zstd(0)", "e.g. s0/c/0/0/0",
                 "stored 24/24 chunks", "(exact: listing)"):
        assert text in out, text


def test_info_json_sharded_and_n5(tmp_path: Path, capsys: Capture) -> None:
    sharded = write_sharded(tmp_path / "s.zarr")
    code, out, _ = run(["info", str(sharded.path), "--json"], capsys)
    [level] = json.loads(out)["levels"]
    assert code == 0 and level["shards"] == [32, 32] and level["chunks"] == [8, 8]
    assert level["storage"]["method"] == "listing + shard indexes" and level["storage"]["exact"]
    assert level["codec_chain"][0]["name"] == "sharding_indexed"
    n5 = write_n5_viewer(tmp_path / "d.n5")
    info = json.loads(run(["info", str(n5.path), "--json"], capsys)[1])
    assert (info["format"], info["convention"]) == ("N5", "n5-viewer")
    assert info["levels"][1]["first_key"] == "s1/0/0/0"
    assert info["axes"][2] == {"name": "x", "type": "space", "unit": "micrometer"}
    no_storage = json.loads(run(["info", str(n5.path), "--json", "--no-storage"], capsys)[1])
    assert no_storage["levels"][0]["storage"] is None


# -- qc ---------------------------------------------------------------------------------------
def test_qc_clean_exits_0(ngff: Written, capsys: Capture) -> None:
    code, out, _ = run(["qc", str(ngff.path)], capsys)
    assert code == 0
    assert "0 errors, 0 warnings, 0 notes — nothing wrong" in out


def test_qc_reports_defects_ranked_and_exits_1(ngff: Written, capsys: Capture) -> None:
    chunk_file(ngff, 0, (1, 2, 1))[0].unlink()
    _, key = chunk_file(ngff, 1, (0, 1, 0))
    garbage(ngff.path / key)
    code, out, _ = run(["qc", str(ngff.path)], capsys)
    assert code == 1
    lines = [ln for ln in out.splitlines() if ln.startswith(("ERROR", "WARNING", "INFO"))]
    assert [ln.split()[0] for ln in lines] == ["ERROR", "ERROR", "INFO"]  # ranked
    assert f"level 1 (s1), chunk (0, 1, 0), key {key}" in out
    assert "why: " in out and "fix: " in out
    assert "2 errors, 0 warnings, 1 note — problems found" in out


def test_qc_json_and_html(ngff: Written, tmp_path: Path, capsys: Capture) -> None:
    garbage(chunk_file(ngff, 2, (0, 0, 0))[0])
    code, out, _ = run(["qc", str(ngff.path), "--json", "--level", "2"], capsys)
    data = json.loads(out)
    assert code == 1 and data["options"] == {"level": 2, "sample": None}
    [f] = data["findings"]
    assert (f["code"], f["where"]["level"], f["where"]["key"]) == (
        "chunk.undecodable", 2, "s2/c/0/0/0",
    )
    page = tmp_path / "out" / "report.html"
    code, out, _ = run(["qc", str(ngff.path), "--html", str(page), "--sample", "1"], capsys)
    assert code == 1 and page.is_file() and f"report written to {page}" in out
    assert "data:image/png;base64," in page.read_text(encoding="utf-8")


def test_qc_strict_fails_on_warnings(tmp_path: Path, capsys: Capture) -> None:
    import numpy as np
    import zarr

    arr = zarr.create_array(
        str(tmp_path / "sat.zarr"), shape=(64, 64), chunks=(32, 32), dtype="uint8"
    )
    data = np.full((64, 64), 100, dtype="uint8")
    data[:4] = 255
    arr[...] = data
    assert run(["qc", str(tmp_path / "sat.zarr")], capsys)[0] == 0
    code, out, _ = run(["qc", str(tmp_path / "sat.zarr"), "--strict"], capsys)
    assert code == 1 and "WARNING stats.saturated" in out


def test_qc_usage_and_open_errors(ngff: Written, tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run(["qc", str(ngff.path), "--level", "7"], capsys)
    assert code == 2 and "level 7 does not exist" in err
    with pytest.raises(SystemExit) as e:
        main(["qc", str(ngff.path), "--sample", "2"])
    assert e.value.code == 2
    capsys.readouterr()
    bad = tmp_path / "bad.zarr"
    bad.mkdir()
    (bad / ".zgroup").write_text('{"zarr_format": 2}')
    (bad / ".zattrs").write_text('{"multiscales": [{"version": "0.4", "datasets": []}]}')
    code, out, err = run(["qc", str(bad), "--json"], capsys)
    assert code == 1 and "datasets" in err
    assert [f["code"] for f in json.loads(out)["findings"]] == ["open.failed"]


def test_ctrl_c_prints_the_partial_report(
    ngff: Written, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of the scan (KeyboardInterrupt in the main thread, where the
    progress callback runs): exit 130 with what was found so far."""
    garbage(chunk_file(ngff, 0, (0, 0, 0))[0])

    @contextlib.contextmanager
    def interrupting() -> Iterator[Any]:
        def progress(phase: str, done: int, total: int) -> None:
            if phase == "scanning chunks" and done > 0:
                raise KeyboardInterrupt

        yield progress

    monkeypatch.setattr(cli_qc, "progress_bars", interrupting)
    code, out, _ = run(["qc", str(ngff.path), "--json", "--workers", "1"], capsys)
    data = json.loads(out)
    assert code == 130 and data["complete"] is False
    scanned = sum(lv["scan"]["counts"].get("scanned", 0) for lv in data["levels"])
    assert 0 < scanned < sum(lv["n_chunks"] for lv in data["levels"])


def test_first_sigint_cancels_second_aborts() -> None:
    cancel = threading.Event()
    with cli_qc.ctrl_c_cancels(cancel):
        signal.raise_signal(signal.SIGINT)
        assert cancel.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_python_m_qc(ngff: Written) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "napari_chunkview", "qc", str(ngff.path), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"] == {"error": 0, "warning": 0, "info": 0}

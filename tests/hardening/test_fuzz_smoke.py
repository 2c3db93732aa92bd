"""A short smoke run of every atheris fuzz target (``fuzz/run.py``; the long run is
``python fuzz/run.py --seconds 180``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
TARGETS = ("n5_block", "inflate", "zarr_chunk", "shard")
RUNS = 2000  # inputs per target (each target starts from valid seeds)


def test_fuzz_targets_smoke() -> None:
    pytest.importorskip("atheris", reason="atheris (the `test` extra, Linux cp312) is missing")
    proc = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), "--runs", str(RUNS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "fuzz: all targets clean" in proc.stdout, log[-4000:]
    for name in TARGETS:
        assert f"== {name}:" in proc.stdout
    assert log.count(f"Done {RUNS} runs") == len(TARGETS), log[-4000:]


def test_every_target_is_smoked() -> None:
    sys.path.insert(0, str(FUZZ))
    try:
        import targets
    finally:
        sys.path.remove(str(FUZZ))
    assert sorted(targets.TARGETS) == sorted(TARGETS)

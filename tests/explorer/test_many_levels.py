"""A pyramid of 200 levels (the hardening corpus's "tree/many-levels" case, built the same
way: an N5 group whose ``s0`` tensorstore wrote, and 199 metadata-only copies of it) through
the GUI-free controller: the listed tree and the levels table are complete and correct,
and the per-level scan statuses reach the view in batches, not one call per status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.explorer import ChunkController, ChunkView, LevelRow

N_LEVELS = 200
TIMES = "\N{MULTIPLICATION SIGN}"
BASE = np.arange(64, dtype="uint16").reshape(8, 8) + 1  # 2x2 blocks of 4x4, all stored


@pytest.fixture(scope="module")
def many_levels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ts = pytest.importorskip("tensorstore")
    root = tmp_path_factory.mktemp("deep") / "many-levels.n5"
    root.mkdir()
    (root / "attributes.json").write_text(json.dumps({"n5": "2.0.0"}))
    spec = {
        "driver": "n5",
        "kvstore": {"driver": "file", "path": str(root / "s0")},
        "metadata": {
            "dimensions": [8, 8],
            "blockSize": [4, 4],
            "dataType": "uint16",
            "compression": {"type": "gzip"},
        },
    }
    ts.open(spec, create=True).result().write(BASE.T).result()
    for i in range(1, N_LEVELS):
        shutil.copytree(root / "s0", root / f"s{i}", ignore=shutil.ignore_patterns("[0-9]*"))
    return root


def check_table(rows: list[LevelRow], pyr: Any) -> None:
    assert [r.path for r in rows] == [lv.path for lv in pyr.levels]
    assert sorted(r.path for r in rows) == sorted(f"s{i}" for i in range(N_LEVELS))
    for r in rows:
        stored, missing = (4, 0) if r.path == "s0" else (0, 4)
        assert (r.n_chunks, r.stored, r.missing, r.exact) == (4, stored, missing, True), r
        assert r.scan == "listing (exact)" and r.cells["shape"] == f"8{TIMES}8"


def check_tree(ctl: ChunkController, pyr: Any) -> None:
    tree = ctl.tree
    assert tree is not None and ctl.tree_status == f"listed {N_LEVELS + 1} nodes"
    assert tree.kind == "group" and tree.role.startswith("image ")
    assert [c.path for c in tree.children] == sorted(f"s{i}" for i in range(N_LEVELS))
    level_of = {lv.path: i for i, lv in enumerate(pyr.levels)}
    for child in tree.children:
        assert child.kind == "array" and child.children == []
        assert child.summary == f"8{TIMES}8 uint16 · N5"
        assert child.role == f"level {level_of[child.path]} of {pyr.name!r}"
        assert child.metadata["blockSize"] == [4, 4]


def test_deep_tree_complete(many_levels: Path) -> None:
    view = MagicMock(spec=ChunkView)
    view.call_in_main.side_effect = lambda fn: fn()
    ctl = ChunkController(view)
    try:
        pyr = open_pyramid(many_levels)
        assert len(pyr.levels) == N_LEVELS
        ctl.show(pyr, title="deep")
        assert ctl.wait(60)
        check_tree(ctl, pyr)
        tree, status = view.set_tree.call_args.args
        assert tree is ctl.tree and status == ctl.tree_status
        check_table(view.set_levels.call_args.args[0], pyr)
        assert ctl.rows == view.set_levels.call_args.args[0]
        ctl.select_node("s1")
        title, _items = view.set_attributes.call_args.args
        index = [lv.path for lv in pyr.levels].index("s1")
        assert title == f"s1 (array) — level {index} of {pyr.name!r}"
    finally:
        ctl.close()


def test_scan_statuses_arrive_in_one_batch(many_levels: Path) -> None:
    """The view's thread held back until the workers finish (as a busy GUI would): the
    400 statuses of 200 scans reach it as one table refresh, and nothing is lost."""
    view = MagicMock(spec=ChunkView)
    posted: list[Callable[[], None]] = []
    view.call_in_main.side_effect = posted.append
    ctl = ChunkController(view)
    try:
        pyr = open_pyramid(many_levels)
        ctl.show(pyr, title="deep")
        before = view.set_levels.call_count  # the rows, then "waiting to scan…"
        assert [r.scan for r in view.set_levels.call_args.args[0]] == ["waiting to scan…"] * 200
        assert ctl.wait(60)
        assert len(posted) <= 3  # one batch of scan statuses, the listing, the validation
        for fn in posted:
            fn()
        assert view.set_levels.call_count == before + 1
        check_table(view.set_levels.call_args.args[0], pyr)
        check_tree(ctl, pyr)
    finally:
        ctl.close()

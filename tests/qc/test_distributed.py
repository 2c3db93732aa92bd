"""The scan on a real dask.distributed cluster (two worker processes) gives exactly the
findings and statistics of the local run. Sources do not pickle (a zarr array, a store
with locks): tasks carry a ``LevelRef`` and workers reopen the dataset."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.qc import QCReport, run_qc
from napari_chunkview.qc._handles import LevelRef, OpenSpec

from .conftest import (
    Written,
    chunk_file,
    garbage,
    n5_block,
    rewrite_shard_index,
    set_n5_header_dims,
    truncate,
    write_n5_viewer,
    write_ngff,
    write_sharded,
)

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=":0",
    ) as c:
        yield c


def comparable(report: QCReport) -> dict[str, Any]:
    d = report.to_dict()
    d.pop("run")  # scheduler, start time and duration differ by design
    return d


def damaged(tmp_path: Path) -> list[Written]:
    ngff = write_ngff(tmp_path / "image.ome.zarr")
    chunk_file(ngff, 0, (1, 2, 1))[0].unlink()
    truncate(chunk_file(ngff, 0, (0, 0, 2))[0])
    garbage(chunk_file(ngff, 1, (1, 1, 0))[0])
    n5 = write_n5_viewer(tmp_path / "data.n5")
    set_n5_header_dims(n5_block(n5, 0, (0, 1, 1))[0], [8, 16, 3])
    truncate(n5_block(n5, 0, (1, 0, 1))[0])
    sharded = write_sharded(tmp_path / "sharded.zarr")

    def outside(index: np.ndarray) -> None:
        index[0, 0, 0] = 10**7

    rewrite_shard_index(sharded.path / "c/1/0", outside)
    return [ngff, n5, sharded]


def test_levels_travel_as_references(tmp_path: Path) -> None:
    written = write_ngff(tmp_path / "image.ome.zarr")
    pyramid = open_pyramid(written.path)
    with pytest.raises(TypeError):
        pickle.dumps(pyramid.levels[1].source)  # why the reference exists
    ref = LevelRef(OpenSpec.of(pyramid), 0, 1, "s1", pyramid.levels[1].shape,
                   live=pyramid.levels[1])
    copy = pickle.loads(pickle.dumps(ref))
    assert copy.live is None
    level = copy.get()  # reopened from the URI
    assert level is not pyramid.levels[1] and level.path == "s1"
    box = [(0, 2), (0, 8), (0, 8)]
    assert np.array_equal(level.source.read(box), written.levels[1][:2, :8, :8])


def test_distributed_run_equals_local_run(tmp_path: Path, cluster: Any) -> None:
    client = distributed.Client(cluster, set_as_default=False)
    try:
        for written in damaged(tmp_path):
            local = run_qc(written.path)
            remote = run_qc(written.path, scheduler=client)
            assert remote.scheduler.startswith("dask.distributed at tcp://127.0.0.1:")
            assert [f.severity for f in local.findings].count("error") >= 1
            assert comparable(remote) == comparable(local)
            for a, b in zip(local.levels, remote.levels, strict=True):
                assert a.states is not None and np.array_equal(a.states, b.states)
    finally:
        client.close()


def test_scheduler_address_and_sample(tmp_path: Path, cluster: Any) -> None:
    written = damaged(tmp_path)[0]
    local = run_qc(written.path, sample=0.5)
    remote = run_qc(written.path, sample=0.5, scheduler=cluster.scheduler_address)
    assert comparable(remote) == comparable(local)

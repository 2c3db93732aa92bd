"""Fixtures for failing remote servers: a faulty HTTP server over a dataset on disk, and
a fault-injecting proxy in front of moto's S3 server (both real, on 127.0.0.1).

The servers and the dataset live for the module (starting moto costs seconds); every
test using them starts with no faults scripted and zero counts, and with short timeouts set through
the public knobs (``CHUNKVIEW_HTTP_TIMEOUT`` / ``CHUNKVIEW_RETRIES`` /
``CHUNKVIEW_HTTP_DEADLINE``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from .._s3 import moto_s3, upload_tree
from ._faulty import FaultyServer

#: The knobs for the tests: 0.5 s timeouts, 3 attempts, 8 s per read at most.
TIMEOUT, RETRIES, DEADLINE = 0.5, 2, 8.0


@dataclass
class Served:
    """A dataset on disk, the faulty server in front of it and the URL to open."""

    local: Path
    url: str
    server: FaultyServer
    options: dict[str, object]
    levels: list[np.ndarray]


def write_dataset(folder: Path) -> tuple[Path, list[np.ndarray]]:
    """zarr-python 3: ``p.zarr`` with ``s0`` (zstd chunks, 16 of them) and ``s1``
    (sharded: 4 inner chunks per shard, 2 shards)."""
    import zarr

    path = folder / "p.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=3)
    rng = np.random.default_rng(7)
    s0 = rng.integers(1, 60000, (4, 32, 32), dtype="uint16")
    a = g.create_array("s0", shape=s0.shape, chunks=(1, 16, 16), dtype="uint16", fill_value=0)
    a[:] = s0
    s1 = rng.integers(1, 60000, (2, 16, 16), dtype="uint16")
    b = g.create_array(
        "s1", shape=s1.shape, chunks=(1, 8, 8), shards=(1, 16, 16), dtype="uint16", fill_value=0
    )
    b[:] = s1
    return path, [s0, s1]


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNKVIEW_HTTP_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("CHUNKVIEW_RETRIES", str(RETRIES))
    monkeypatch.setenv("CHUNKVIEW_HTTP_DEADLINE", str(DEADLINE))


@pytest.fixture(scope="module")
def _http_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("www")
    local, levels = write_dataset(folder)
    server = FaultyServer(root=folder)
    try:
        yield Served(local, f"{server.url}/p.zarr", server, {}, levels)
    finally:
        server.stop()


@pytest.fixture
def http_served(_http_module: Served, short_timeouts: None) -> Served:
    _http_module.server.reset()
    return _http_module


@pytest.fixture(scope="module")
def _s3_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pytest.importorskip("s3fs")
    with pytest.MonkeyPatch.context() as mp, moto_s3(mp) as endpoint:
        local, levels = write_dataset(tmp_path_factory.mktemp("s3"))
        upload_tree(endpoint, "bucket", local)
        proxy = FaultyServer(upstream=endpoint)
        try:
            yield Served(
                local,
                "s3://bucket/p.zarr",
                proxy,
                {"client_kwargs": {"endpoint_url": proxy.url}},
                levels,
            )
        finally:
            proxy.stop()


@pytest.fixture
def s3_served(_s3_module: Served, short_timeouts: None) -> Served:
    _s3_module.server.reset()
    return _s3_module


@pytest.fixture(params=["http", "s3"])
def served(request: pytest.FixtureRequest) -> Served:
    """The same dataset over HTTP and over S3 (through the faulty proxy)."""
    return request.getfixturevalue(f"{request.param}_served")  # type: ignore[no-any-return]

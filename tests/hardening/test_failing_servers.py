"""Remote servers that fail: 5xx answers, hangs, dropped connections, slow or wrong-length
answers, 403/404. Reads are retried where that is safe and bounded in time; a chunk that
cannot be read is flagged ``failed`` with the reason while the rest of the view reads
byte-identical data; metadata that cannot be read is a one-line ``RemoteError``.

Real servers on 127.0.0.1 (``_faulty.FaultyServer``, serving files or proxying moto's S3
server), real clients (fsspec's HTTP filesystem over aiohttp, s3fs over aiobotocore)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from napari_chunkview import ChunkviewError, open_pyramid
from napari_chunkview.formats._remote import RemotePolicy
from napari_chunkview.loading import ChunkCache, ChunkEvent, EventStream, LevelArray
from napari_chunkview.model import RemoteError

from ..qt._support import settle
from ._faulty import Fault, wait_until
from .conftest import RETRIES, TIMEOUT, Served

ATTEMPTS = RETRIES + 1
CHUNK = "*/s0/c/1/0/1"  # one chunk of s0: z=1, y 0:16, x 16:32
CHUNK_BOX = (1, slice(0, 16), slice(16, 32))


def read_level(served: Served, level: int = 0) -> tuple[np.ndarray, list[ChunkEvent]]:
    """Open the URL and read a whole level chunk by chunk, as napari does."""
    pyr = open_pyramid(served.url, **served.options)
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = LevelArray(pyr.levels[level].source, f"remote/s{level}", ChunkCache(1 << 24), stream)
    return np.asarray(la), events


def by_kind(events: list[ChunkEvent], kind: str) -> dict[tuple[int, ...], ChunkEvent]:
    return {e.index: e for e in events if e.kind == kind}


def assert_rest_intact(served: Served, data: np.ndarray, failed: set[tuple[int, ...]]) -> None:
    """Failed chunks read as the fill value (0), every other chunk as stored."""
    expected = served.levels[0].copy()
    for z, y, x in failed:
        expected[z, y * 16 : (y + 1) * 16, x * 16 : (x + 1) * 16] = 0
    np.testing.assert_array_equal(data, expected)


# -- chunks ---------------------------------------------------------------------------------
def test_transient_500s_are_retried_and_the_data_is_identical(served: Served) -> None:
    served.server.add(
        Fault(CHUNK, status=503, times=2), Fault("*/s0/zarr.json", status=500, times=1)
    )
    data, events = read_level(served)
    np.testing.assert_array_equal(data, served.levels[0])
    assert not by_kind(events, "failed") and len(by_kind(events, "done")) == 16
    # the server saw the retries: 2 failures + 1 success each time
    assert served.server.count(CHUNK) == 3
    assert served.server.count("*/s0/zarr.json") == 2


def test_a_chunk_failing_for_good_is_flagged_and_the_rest_reads(served: Served) -> None:
    served.server.add(Fault(CHUNK, status=500))
    data, events = read_level(served)
    failed = by_kind(events, "failed")
    assert set(failed) == {(1, 0, 1)}
    reason = failed[(1, 0, 1)].reason or ""
    assert f"HTTP 500 after {ATTEMPTS} attempts" in reason and "s0/c/1/0/1" in reason
    assert len(by_kind(events, "done")) == 15
    assert_rest_intact(served, data, {(1, 0, 1)})
    assert served.server.count(CHUNK) == ATTEMPTS


def test_a_hanging_chunk_fails_within_the_timeout(served: Served) -> None:
    served.server.add(Fault(CHUNK, kind="hang"))  # never answers
    t0 = time.monotonic()
    data, events = read_level(served)
    took = time.monotonic() - t0
    failed = by_kind(events, "failed")
    assert set(failed) == {(1, 0, 1)}
    assert f"timed out after {TIMEOUT:g} s ({ATTEMPTS} attempts)" in (
        failed[(1, 0, 1)].reason or ""
    )
    # attempts times the timeout, plus back-off (< 0.1 + 0.2 s) plus the rest of the reads
    assert took < ATTEMPTS * TIMEOUT + 3.0
    assert_rest_intact(served, data, {(1, 0, 1)})
    assert served.server.count(CHUNK) == ATTEMPTS


def test_a_late_answer_within_the_timeout_is_fine(served: Served) -> None:
    served.server.add(Fault(CHUNK, kind="hang", seconds=TIMEOUT / 4))
    data, _ = read_level(served)
    np.testing.assert_array_equal(data, served.levels[0])
    assert served.server.count(CHUNK) == 1


@pytest.mark.parametrize("kind", ["drop", "short", "corrupt"])
def test_damaged_answers_fail_the_chunk_never_give_wrong_data(served: Served, kind: str) -> None:
    """A connection dropped mid-body, an answer shorter than the object (with a matching
    Content-Length) and flipped bytes: the chunk is failed, not filled with garbage."""
    served.server.add(Fault(CHUNK, kind=kind, keep=40))
    data, events = read_level(served)
    failed = by_kind(events, "failed")
    assert set(failed) == {(1, 0, 1)}, [e.reason for e in failed.values()]
    assert_rest_intact(served, data, {(1, 0, 1)})
    reason = failed[(1, 0, 1)].reason or ""
    if kind == "drop":  # a connection error: retried, then failed
        assert "short read" in reason
        assert served.server.count(CHUNK) == ATTEMPTS
    elif served.url.startswith("s3://"):  # botocore checks the object's checksum
        assert (
            f"checksum mismatch: the bytes received are not the bytes stored ({ATTEMPTS} attempts)"
            in reason
        )
    else:  # plain HTTP has no checksum: zstd refuses the bytes
        assert "zstd" in reason


def test_a_dropped_connection_once_is_retried(served: Served) -> None:
    served.server.add(Fault(CHUNK, kind="drop", keep=10, times=1))
    data, _ = read_level(served)
    np.testing.assert_array_equal(data, served.levels[0])
    assert served.server.count(CHUNK) == 2


SHARD = "*/s1/c/0/0/0"


@pytest.mark.parametrize(("kind", "text"), [("short", "short read: "), ("long", "wrong length")])
def test_range_answers_of_the_wrong_length_fail(served: Served, kind: str, text: str) -> None:
    """The sharded level reads inner chunks with Range requests: an answer whose length
    disagrees with the range asked for is refused (after the retries)."""
    pyr = open_pyramid(served.url, **served.options)
    src = pyr.levels[1].source
    src.shard_index((0, 0, 0))  # the index itself read fine (cached)
    served.server.add(Fault(SHARD, kind=kind, keep=7))
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = LevelArray(src, "remote/s1", ChunkCache(1 << 24), stream)
    data = np.asarray(la)
    failed = by_kind(events, "failed")
    shard = {(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)}  # the inner chunks of shard 0
    if kind == "long":
        # the first inner chunk sits at offset 0: an answer that starts at the range and
        # runs on is what a server ignoring Range sends, and is cut to the range (its
        # bytes are right); the others' answers cannot be the object and are refused
        shard.discard((0, 0, 0))
        np.testing.assert_array_equal(data[0, :8, :8], served.levels[1][0, :8, :8])
    assert set(failed) == shard
    assert all(text in (e.reason or "") for e in failed.values()), failed
    for _, y, x in shard:
        np.testing.assert_array_equal(data[0, y * 8 : y * 8 + 8, x * 8 : x * 8 + 8], 0)
    np.testing.assert_array_equal(data[1], served.levels[1][1])


def test_a_shard_failing_for_good_fails_its_chunks_only(served: Served) -> None:
    served.server.add(Fault(SHARD, status=500))
    pyr = open_pyramid(served.url, **served.options)
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = LevelArray(pyr.levels[1].source, "remote/s1", ChunkCache(1 << 24), stream)
    data = np.asarray(la)
    failed = by_kind(events, "failed")
    assert set(failed) == {(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)}
    assert all(f"HTTP 500 after {ATTEMPTS} attempts" in (e.reason or "") for e in failed.values())
    np.testing.assert_array_equal(data[0], 0)
    np.testing.assert_array_equal(data[1], served.levels[1][1])
    assert served.server.count(SHARD) == ATTEMPTS  # one index read, retried; no data reads


def test_404_on_a_chunk_reads_as_missing(served: Served) -> None:
    served.server.add(Fault(CHUNK, status=404))
    data, events = read_level(served)
    assert set(by_kind(events, "missing")) == {(1, 0, 1)}
    assert not by_kind(events, "failed")
    assert_rest_intact(served, data, {(1, 0, 1)})  # the fill value, as zarr specifies
    assert served.server.count(CHUNK) == 1  # not retried


def test_a_slow_server_that_keeps_sending_reads_correctly(served: Served) -> None:
    """Every chunk (~520 bytes) trickles in 32-byte pieces 0.05 s apart: each takes longer
    than the timeout in all (~0.85 s), but never waits that long for the next bytes."""
    served.server.add(Fault("*/s0/c/*", kind="slow", seconds=0.05, piece=32))
    t0 = time.monotonic()
    data, events = read_level(served)
    np.testing.assert_array_equal(data, served.levels[0])
    assert not by_kind(events, "failed")
    assert time.monotonic() - t0 > TIMEOUT  # it was slow
    assert served.server.count("*/s0/c/*") == 16  # and nothing was retried


def test_a_read_never_outlasts_the_deadline(
    http_served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that trickles forever (a byte every 0.1 s) is cut off by the deadline."""
    monkeypatch.setenv("CHUNKVIEW_HTTP_DEADLINE", "1")
    http_served.server.add(Fault(CHUNK, kind="slow", seconds=0.1, piece=1))
    t0 = time.monotonic()
    data, events = read_level(http_served)
    assert time.monotonic() - t0 < 4
    failed = by_kind(events, "failed")
    assert "not done within 1 s" in (failed[(1, 0, 1)].reason or "")
    assert_rest_intact(http_served, data, {(1, 0, 1)})


# -- metadata -------------------------------------------------------------------------------
def test_metadata_failing_for_good_is_a_clear_error_in_bounded_time(served: Served) -> None:
    served.server.add(Fault("*/p.zarr/zarr.json", status=500))
    t0 = time.monotonic()
    with pytest.raises(RemoteError) as info:
        open_pyramid(served.url, **served.options)
    assert time.monotonic() - t0 < 5
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(served.url.rstrip("/") + "/zarr.json: ")
    assert msg.endswith(f"HTTP 500 after {ATTEMPTS} attempts")
    assert info.value.status == 500 and info.value.attempts == ATTEMPTS
    assert isinstance(info.value, ChunkviewError)
    assert served.server.count("*/p.zarr/zarr.json") == ATTEMPTS


def test_hanging_metadata_is_a_clear_error_in_bounded_time(served: Served) -> None:
    served.server.add(Fault("*/p.zarr/zarr.json", kind="hang"))
    t0 = time.monotonic()
    with pytest.raises(
        RemoteError, match=rf"timed out after {TIMEOUT:g} s \({ATTEMPTS} attempts\)"
    ):
        open_pyramid(served.url, **served.options)
    assert time.monotonic() - t0 < ATTEMPTS * TIMEOUT + 2.0


def test_403_on_metadata_says_access_denied_and_where_credentials_come_from(
    served: Served,
) -> None:
    served.server.add(Fault("*/p.zarr/zarr.json", status=403))
    with pytest.raises(RemoteError, match=r"zarr\.json: access denied \(HTTP 403\)") as info:
        open_pyramid(served.url, **served.options)
    msg = str(info.value)
    if served.url.startswith("s3://"):
        assert "AWS credentials were read from AWS_ACCESS_KEY_ID" in msg
        assert "testing" not in msg  # names where, never the value
    else:
        assert "sends no credentials unless storage_options give headers or auth" in msg
    assert served.server.count("*/p.zarr/zarr.json") == 1  # never retried


def test_unreachable_server_is_a_clear_error(short_timeouts: None) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/p.zarr"
    with pytest.raises(RemoteError, match=r"connection failed .*\(3 attempts\)"):
        open_pyramid(url)


# -- the knobs ------------------------------------------------------------------------------
def test_the_knobs_come_from_the_environment() -> None:
    p = RemotePolicy.from_env(
        {"CHUNKVIEW_HTTP_TIMEOUT": "2.5", "CHUNKVIEW_RETRIES": "0", "CHUNKVIEW_HTTP_DEADLINE": "9"}
    )
    assert (p.timeout, p.attempts, p.deadline) == (2.5, 1, 9.0)
    bad = RemotePolicy.from_env({"CHUNKVIEW_HTTP_TIMEOUT": "soon", "CHUNKVIEW_RETRIES": "-1"})
    assert (bad.timeout, bad.retries) == (RemotePolicy().timeout, RemotePolicy().retries)
    pauses = [p.pause(n) for n in (1, 2, 3) for _ in range(50)]
    assert all(0.05 <= x <= 0.8 for x in pauses) and len(set(pauses)) > 1  # jittered


def test_storage_options_win_over_the_defaults(
    http_served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller's own aiohttp timeout replaces ours: with 3 s to read, a chunk that
    answers after 1 s (twice our 0.5 s timeout) reads fine."""
    import aiohttp

    http_served.server.add(Fault(CHUNK, kind="hang", seconds=1.0))
    timeout = aiohttp.ClientTimeout(total=None, sock_read=3.0)
    http_served.options = {"client_kwargs": {"timeout": timeout}}
    try:
        data, _ = read_level(http_served)
    finally:
        http_served.options = {}
    np.testing.assert_array_equal(data, http_served.levels[0])
    assert http_served.server.count(CHUNK) == 1


def test_one_get_per_chunk_and_no_heads(served: Served) -> None:
    """A plain read is one GET per chunk: no HEAD first (s3fs would send one before every
    whole-object read if it were allowed concurrent range reads), no retries."""
    read_level(served)
    assert wait_until(lambda: served.server.count("*/s0/c/*") == 16)
    assert served.server.count("*/c/*", method="HEAD") == 0


# -- napari ---------------------------------------------------------------------------------
@pytest.mark.qt
def test_napari_shows_the_failed_chunk_in_the_dock_and_reads_the_rest(
    make_napari_viewer: Any,
    qtbot: Any,
    http_served: Served,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A real viewer with the Chunk inspector opens the URL while one chunk of the plane
    in view answers 500 for good: the dock flags that chunk failed (grid, legend, chunk
    panel with the reason), the other chunks are loaded with the right values, and the
    viewer goes on working (another plane reads normally)."""
    from napari_chunkview.explorer import STATE_NAMES

    from ..qt._support import use_temporary_napari_settings

    use_temporary_napari_settings(monkeypatch, tmp_path)
    bad = "*/s0/c/2/0/1"
    http_served.server.add(Fault(bad, status=500))
    viewer = make_napari_viewer(strict_qt=True)
    _, dock = viewer.window.add_plugin_dock_widget("napari-chunkview", "Chunk inspector")
    [layer] = viewer.open(http_served.url, plugin="napari-chunkview")
    assert dock.layer is layer

    def settle_at(z: int) -> dict[tuple[int, ...], str]:
        viewer.dims.set_current_step(0, z)
        settle(qtbot, viewer, dock, layer)
        assert layer.data_level == 0
        cells = dock.controller.cells
        return {
            tuple(i): STATE_NAMES[s]
            for i, s in zip(cells.index.tolist(), cells.states, strict=True)
        }

    t0 = time.monotonic()
    states = settle_at(2)
    assert time.monotonic() - t0 < 10  # 3 attempts with short back-off, not a freeze
    assert states == {
        (2, 0, 0): "loaded",
        (2, 0, 1): "failed",
        (2, 1, 0): "loaded",
        (2, 1, 1): "loaded",
    }
    assert "failed 1" in dock.view.legend.text()
    assert http_served.server.count(bad) == ATTEMPTS
    # the chunk panel says why
    dock._on_mouse_move(layer, SimpleNamespace(position=layer.data_to_world((2, 5, 20))))
    qtbot.waitUntil(lambda: "Failure:" in dock.view.chunk_text.text(), timeout=5000)
    text = dock.view.chunk_text.text()
    assert "Chunk (2, 0, 1) of level 0" in text and "failed" in text
    assert f"HTTP 500 after {ATTEMPTS} attempts" in text
    # what napari shows: the fill value there, the stored values everywhere else
    plane = np.asarray(layer.data[0][2])
    expected = http_served.levels[0][2].copy()
    expected[0:16, 16:32] = 0
    np.testing.assert_array_equal(plane, expected)
    # still usable: another plane reads, all loaded
    assert set(settle_at(0).values()) == {"loaded"}
    np.testing.assert_array_equal(np.asarray(layer.data[0][0]), http_served.levels[0][0])

"""The napari reader contribution without a viewer: ``get_reader`` (cheap, ``None`` for what
it cannot read, never raises) and the layer data it produces."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview import ChunkviewError, UnsupportedError, open_pyramid
from napari_chunkview._napari import _contrast, _reader, get_reader, pyramid_to_layer_data
from napari_chunkview.formats import ReadEvent, open_root
from napari_chunkview.formats._store import is_metadata_key

from .qt._support import (
    CHANNELS,
    SCALE_ZYX,
    Written,
    needs_ome_ngff,
    use_temporary_napari_settings,
    write_ome_zarr,
    write_zarr_array,
    write_zarr_plain,
)

PLUGIN = "napari-chunkview"


@pytest.fixture(autouse=True)
def _napari_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # npe2.read activates the plugin; keep any preference it might write out of ~/.config
    pytest.importorskip("napari")
    use_temporary_napari_settings(monkeypatch, tmp_path)


@pytest.fixture
def zarr3(tmp_path: Path) -> Written:
    return write_zarr_plain(tmp_path / "plain3.zarr", zarr_format=3)


@pytest.fixture
def zarr2(tmp_path: Path) -> Written:
    return write_zarr_plain(tmp_path / "plain2.zarr", zarr_format=2, names=("0", "1"))


@pytest.fixture
def ome05(tmp_path: Path) -> Written:
    return write_ome_zarr(tmp_path / "image.ome.zarr", version="0.5")


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving ``tmp_path / "www"``."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(www))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()


# -- get_reader says no, quietly ---------------------------------------------------------


def test_none_for_a_random_folder(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a dataset")
    (folder / "sub").mkdir()
    assert get_reader(str(folder)) is None


def test_none_for_a_text_file_and_a_missing_path(tmp_path: Path) -> None:
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    assert get_reader(str(text)) is None
    assert get_reader(str(tmp_path / "does-not-exist.zarr")) is None
    assert get_reader(str(tmp_path / "gone" / "zarr.json")) is None


def test_none_for_a_list_with_a_non_dataset(zarr3: Written, tmp_path: Path) -> None:
    assert get_reader([str(zarr3.path), str(tmp_path)]) is None
    assert get_reader([]) is None


@pytest.mark.parametrize("garbage", [None, 42, [1, 2], object()])
def test_none_for_things_that_are_not_paths(garbage: Any) -> None:
    assert get_reader(garbage) is None


def test_none_for_an_unreachable_url() -> None:
    # port 9 (discard) on loopback: connection refused at once
    assert get_reader("http://127.0.0.1:9/nothing.zarr") is None


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("zarr.json", b"{not json"),
        ("zarr.json", b"[1, 2, 3]"),
        ("zarr.json", b'{"zarr_format": 3, "node_type": "array", "shape": "big"}'),
        ("zarr.json", b"\xff\xfe\x00garbage"),
        (".zattrs", b"{{{{"),
        (".zgroup", b'{"zarr_format": "two"}'),
        (".zarray", b'{"shape": [10], "chunks": [0], "dtype": "<u2"}'),
        ("attributes.json", b"not json either"),
        ("attributes.json", b'{"dimensions": [-1], "blockSize": [1], "dataType": "nope"}'),
    ],
)
def test_malformed_metadata_never_raises(tmp_path: Path, name: str, content: bytes) -> None:
    folder = tmp_path / "broken.zarr"
    folder.mkdir()
    (folder / name).write_bytes(content)
    for path in (folder, folder / name, [str(folder)]):
        reader = get_reader(path if isinstance(path, list) else str(path))
        if reader is not None:  # ours but broken: opening says why, in one line
            with pytest.raises(ChunkviewError) as info:
                reader(str(folder))
            assert str(folder) in str(info.value)


# -- get_reader says yes -------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["zarr2", "zarr3"])
def test_reads_zarr_v2_and_v3_folders(fixture: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(fixture)
    reader = get_reader(str(written.path))
    assert reader is not None
    [(data, meta, kind)] = reader(str(written.path))
    assert kind == "image"
    assert meta["multiscale"] is True
    assert [d.shape for d in data] == [lv.shape for lv in written.levels]
    np.testing.assert_array_equal(np.asarray(data[0]), written.levels[0])
    np.testing.assert_array_equal(np.asarray(data[1]), written.levels[1])
    assert meta["name"] == written.path.name
    # napari gets the per-chunk read path of each level
    assert meta["metadata"]["pyramid"].levels[0].array is data[0]


@pytest.mark.parametrize(
    ("fixture", "dropped"),
    [("zarr3", "zarr.json"), ("zarr2", ".zattrs"), ("zarr2", ".zgroup"), ("zarr3", "s0/zarr.json")],
)
def test_a_dropped_metadata_file_opens_its_folder(
    fixture: str, dropped: str, request: pytest.FixtureRequest
) -> None:
    written: Written = request.getfixturevalue(fixture)
    if fixture == "zarr2" and dropped == ".zattrs":
        (written.path / ".zattrs").write_text("{}")
    path = str(written.path / dropped)
    reader = get_reader(path)
    assert reader is not None
    [(data, meta, _)] = reader(path)
    if dropped.startswith("s0/"):  # the level array itself: one level
        assert meta["multiscale"] is False
        assert data.shape == written.levels[0].shape
    else:
        assert [d.shape for d in data] == [lv.shape for lv in written.levels]


def test_a_list_of_datasets_gives_all_their_layers(zarr2: Written, zarr3: Written) -> None:
    paths = [str(zarr2.path), str(zarr3.path)]
    reader = get_reader(paths)
    assert reader is not None
    assert [meta["name"] for _, meta, _ in reader(paths)] == [zarr2.path.name, zarr3.path.name]


def test_a_zipped_zarr(zarr2: Written, tmp_path: Path) -> None:
    archive = tmp_path / "packed.zarr.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(zarr2.path.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(zarr2.path).as_posix())
    reader = get_reader(str(archive))
    assert reader is not None
    [(data, _, _)] = reader(str(archive))
    np.testing.assert_array_equal(np.asarray(data[1]), zarr2.levels[1])


@needs_ome_ngff
def test_an_http_url_and_its_zarr_json(http_root: tuple[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("aiohttp")
    base, www = http_root
    written = write_ome_zarr(www / "remote.ome.zarr", version="0.5")
    for url in (f"{base}/remote.ome.zarr", f"{base}/remote.ome.zarr/zarr.json"):
        reader = get_reader(url)
        assert reader is not None, url
        layers = reader(url)
        assert [m["name"] for _, m, _ in layers] == [[c["label"] for c in CHANNELS]]
    np.testing.assert_array_equal(np.asarray(layers[0][0][-1]), written.levels[-1])


def test_get_reader_reads_metadata_only(zarr3: Written, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[ReadEvent] = []

    def recording_open_root(uri: Any, **kw: Any) -> Any:
        root, inner = open_root(uri, **kw)
        root.add_listener(events.append)
        return root, inner

    monkeypatch.setattr(_reader, "open_root", recording_open_root)
    assert get_reader(str(zarr3.path)) is not None
    assert events, "sniffing read nothing at all?"
    assert all(is_metadata_key(e.key) for e in events), [e.key for e in events]


def test_npe2_read_uses_the_plugin(zarr3: Written) -> None:
    npe2 = pytest.importorskip("npe2")
    npe2.PluginManager.instance().discover()  # what napari does at start-up
    layers = npe2.read([str(zarr3.path)], stack=False, plugin_name=PLUGIN)
    assert len(layers) == 1
    data, _, kind = layers[0]
    assert kind == "image"
    assert [d.shape for d in data] == [lv.shape for lv in zarr3.levels]


def test_opening_errors_are_chunkview_errors(zarr3: Written) -> None:
    shutil.rmtree(zarr3.path / "s0")
    shutil.rmtree(zarr3.path / "s1")
    reader = get_reader(str(zarr3.path))
    assert reader is not None  # a zarr group: ours …
    with pytest.raises(ChunkviewError, match=r"plain3\.zarr"):  # … but with no image in it
        reader(str(zarr3.path))


# -- layer data --------------------------------------------------------------------------


@needs_ome_ngff
def test_layer_data_of_an_ome_zarr_with_channels(ome05: Written) -> None:
    [(data, meta, kind)] = pyramid_to_layer_data(open_pyramid(ome05.path))
    assert kind == "image"
    assert meta["multiscale"] is True and len(data) == 3
    assert [d.shape for d in data] == [lv.shape for lv in ome05.levels]
    assert meta["channel_axis"] == 0
    assert meta["name"] == [c["label"] for c in CHANNELS]
    assert meta["contrast_limits"] == [[c["start"], c["end"]] for c in CHANNELS]
    assert meta["visible"] == [c["active"] for c in CHANNELS]
    zyx = [SCALE_ZYX[a] for a in "zyx"]
    assert meta["scale"] == [zyx, zyx]
    assert meta["translate"] == [[0.0, 0.0, 0.0]] * 2
    assert meta["axis_labels"] == [["z", "y", "x"]] * 2
    assert meta["units"] == [["micrometer"] * 3] * 2
    assert meta["rgb"] is False
    for cmap, c in zip(meta["colormap"], CHANNELS, strict=True):
        rgb = [int(c["color"][i : i + 2], 16) / 255 for i in (0, 2, 4)]
        np.testing.assert_allclose(cmap.colors[-1], [*rgb, 1.0])
        np.testing.assert_allclose(cmap.colors[0], [0, 0, 0, 1])
    assert [m["channel"] for m in meta["metadata"]] == [0, 1]
    assert all(m["pyramid"].uri.endswith("image.ome.zarr") for m in meta["metadata"])


def test_contrast_comes_from_the_coarsest_level_only(tmp_path: Path) -> None:
    written = write_zarr_plain(tmp_path / "spike.zarr")
    spike = written.path / "s0"
    import zarr

    arr = zarr.open_array(str(spike), mode="r+")
    arr[3, 5, 7] = 65000  # odd y/x: not in s1 = s0[:, ::2, ::2]
    [(_, meta, _)] = get_reader(str(written.path))(str(written.path))  # type: ignore[misc]
    coarse = written.levels[1]
    assert meta["contrast_limits"] == (float(coarse.min()), float(coarse.max()))
    assert meta["contrast_limits"][1] < 65000


def test_a_large_coarsest_level_is_sampled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = write_zarr_plain(tmp_path / "big.zarr")
    monkeypatch.setattr(_contrast, "MAX_ELEMENTS", 1000)  # s1 has 16 384 elements
    [(_, meta, _)] = pyramid_to_layer_data(open_pyramid(written.path))
    lo, hi = meta["contrast_limits"]
    coarse = written.levels[1]
    assert coarse.min() <= lo < hi <= coarse.max()
    assert len(_contrast._sample_boxes(coarse.shape, (8, 32, 32))) <= _contrast.SAMPLE_CHUNKS


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[True, False], [False, False]]), (0.0, 1.0)),
        (np.array([[-5, 3], [7, 0]], dtype="i1"), (-5.0, 7.0)),
        (np.array([[np.nan, 1.5], [np.inf, -2.0]], dtype="f4"), (-2.0, 1.5)),
        (np.full((4, 4), np.nan), (0.0, 1.0)),
        (np.full((3, 3), 9, dtype="u1"), (9.0, 10.0)),
    ],
    ids=["bool", "int8", "float-nan-inf", "all-nan", "constant"],
)
def test_contrast_of_each_dtype(
    tmp_path: Path, values: np.ndarray, expected: tuple[float, float]
) -> None:
    written = write_zarr_array(tmp_path / "a.zarr", values)
    [(data, meta, _)] = pyramid_to_layer_data(open_pyramid(written.path))
    assert meta["multiscale"] is False and data.shape == values.shape
    assert meta["contrast_limits"] == expected


def test_strings_cannot_be_shown(tmp_path: Path) -> None:
    import zarr

    arr = zarr.create_array(str(tmp_path / "s.zarr"), shape=(2,), dtype=str)
    arr[...] = np.array(["ab", "c"])
    with pytest.raises(UnsupportedError, match="napari cannot show"):
        pyramid_to_layer_data(open_pyramid(tmp_path / "s.zarr"))

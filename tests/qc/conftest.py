"""Datasets for the QC tests, written by real writers (ome-zarr-py, zarr-python 3,
tensorstore, z5py) into ``tmp_path``, clean or with one planted defect. Each defect helper
damages the files the way a failed copy or a buggy converter would, and returns where the
defect is (level, chunk index in C order, store key), so tests compare against that."""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ..corpus import CORPUS

SEED = 20261124
#: (z, y, x) of level 0 and its chunks for the OME-Zarr fixtures.
SHAPE = (4, 100, 90)
CHUNKS = (2, 32, 32)


@dataclass
class Written:
    path: Path
    levels: list[np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)


def smooth(shape: tuple[int, ...], seed: int = SEED, dtype: str = "uint16") -> np.ndarray:
    """Microscopy-like content: smooth structure around 1000 plus a little noise."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*(np.arange(s, dtype=np.float64) for s in shape), indexing="ij")
    y, x = grids[-2], grids[-1]
    z = grids[0] if len(shape) > 2 else 0.0
    signal = 1000 + 450 * np.sin(y / 9.0 + z / 3.0) * np.cos(x / 7.0)
    return (signal + rng.normal(0, 20, shape)).clip(0, 60000).astype(dtype)


def nearest_pyramid(base: np.ndarray, n: int, spatial: int = 2) -> list[np.ndarray]:
    out = [base]
    for _ in range(1, n):
        sl = (slice(None),) * (base.ndim - spatial) + (slice(None, None, 2),) * spatial
        out.append(np.ascontiguousarray(out[-1][sl]))
    return out


def write_ngff(path: Path, version: str = "0.5", compressor: bool = True) -> Written:
    """ome-zarr-py: a (z, y, x) uint16 image, levels s0-s2 (x2, x4 in y and x),
    OME-NGFF 0.5 on zarr v3 or 0.4 on zarr v2 (``compressor=False``: raw chunks)."""
    pytest.importorskip("ome_zarr")
    import zarr
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image

    fmt = FormatV05() if version == "0.5" else FormatV04()
    group = zarr.open_group(str(path), mode="w", zarr_format=3 if version == "0.5" else 2)
    options: dict[str, Any] = {"chunks": CHUNKS}
    if not compressor:
        options["compressor"] = None
    write_image(smooth(SHAPE), group, axes="zyx", scale_factors=(2, 4), fmt=fmt,
                storage_options=options)
    levels = [np.asarray(zarr.open_array(str(path / f"s{i}"))[...]) for i in range(3)]
    return Written(path, levels, {"version": version})


def chunk_file(written: Written, level: int, idx: tuple[int, ...]) -> tuple[Path, str]:
    """The file of chunk ``idx`` of level ``level`` and its store key."""
    v3 = written.params.get("version", "0.5") == "0.5"
    key = (f"s{level}/c/" if v3 else f"s{level}/") + "/".join(map(str, idx))  # v2: "/" keys
    return written.path / key, key


# -- N5 (n5-viewer: per-level downsamplingFactors) -------------------------------------------
N5_SHAPE = (6, 40, 36)  # z, y, x
N5_BLOCK = (3, 16, 16)


def write_n5_viewer(path: Path, factors: list[list[int]] | None = None) -> Written:
    """z5py: an n5-viewer group with levels s0, s1 (gzip; z5py writes truncated edge
    blocks) carrying ``downsamplingFactors`` (N5 order x, y, z)."""
    z5py = pytest.importorskip("z5py")
    levels = nearest_pyramid(smooth(N5_SHAPE, SEED + 1), 2)
    factors = factors or [[1, 1, 1], [2, 2, 1]]
    f = z5py.File(str(path), mode="w", use_zarr_format=False)
    f.attrs["pixelResolution"] = {"unit": "um", "dimensions": [0.2, 0.2, 1.0]}
    for i, data in enumerate(levels):
        ds = f.create_dataset(f"s{i}", data=data, chunks=N5_BLOCK, compression="gzip")
        ds.attrs["downsamplingFactors"] = factors[i]
    return Written(path, levels, {"factors": factors})


def n5_block(written: Written, level: int, idx: tuple[int, ...]) -> tuple[Path, str]:
    """Block file of C-order chunk ``idx`` (N5 keys list the fastest axis first)."""
    key = f"s{level}/" + "/".join(map(str, reversed(idx)))
    return written.path / key, key


def set_n5_header_dims(block: Path, dims_n5: list[int]) -> None:
    """Rewrite an N5 block header's size fields (N5 order), keeping the payload."""
    raw = bytearray(block.read_bytes())
    _mode, ndim = struct.unpack_from(">HH", raw, 0)
    struct.pack_into(f">{ndim}I", raw, 4, *dims_n5)
    block.write_bytes(bytes(raw))


# -- sharded zarr v3 ------------------------------------------------------------------------
def write_sharded(path: Path) -> Written:
    """zarr-python 3: a (64, 64) uint16 array, chunks 8x8 in shards of 32x32 (index at the
    end with crc32c, zarr-python's default)."""
    import zarr

    data = smooth((64, 64), SEED + 2)
    arr = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, chunks=(8, 8),
                            shards=(32, 32), fill_value=0)
    arr[...] = data
    return Written(path, [data])


def rewrite_shard_index(shard: Path, edit: Any) -> None:
    """Apply ``edit(index)`` to the (4, 4, 2) uint64 index of a 32x32 / 8x8 shard and
    write it back with a valid crc32c (a converter bug, not bit rot)."""
    import numcodecs

    raw = bytearray(shard.read_bytes())
    n = 16 * 16
    index = np.frombuffer(bytes(raw[-(n + 4) : -4]), dtype="<u8").reshape(4, 4, 2).copy()
    edit(index)
    body = index.tobytes()
    raw[-(n + 4) :] = np.asarray(numcodecs.CRC32C().encode(body), dtype=np.uint8).tobytes()
    shard.write_bytes(bytes(raw))


# -- damage -------------------------------------------------------------------------------------
def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])


def garbage(path: Path, seed: int = 7) -> None:
    n = path.stat().st_size
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())


def copy_corpus(rel: str, dst: Path) -> Path:
    """Copy a corpus dataset (read-only) into ``dst``; skip when the corpus is absent."""
    src = CORPUS / rel
    if not src.exists():
        pytest.skip(f"conformance corpus not found at {CORPUS} (needs {rel})")
    out = dst / src.name
    shutil.copytree(src, out)
    for root, dirs, files in os.walk(out):  # copies keep the corpus' read-only modes
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    return out


@pytest.fixture
def ngff(tmp_path: Path) -> Written:
    return write_ngff(tmp_path / "image.ome.zarr")


@pytest.fixture
def ngff04(tmp_path: Path) -> Written:
    return write_ngff(tmp_path / "image04.ome.zarr", version="0.4")


@pytest.fixture
def n5v(tmp_path: Path) -> Written:
    return write_n5_viewer(tmp_path / "data.n5")


@pytest.fixture
def sharded(tmp_path: Path) -> Written:
    return write_sharded(tmp_path / "sharded.zarr")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain HTTP server on 127.0.0.1 over ``tmp_path / "www"`` (no listing)."""
    import functools
    import http.server
    import socketserver
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    root = tmp_path / "www"
    root.mkdir()
    server = socketserver.ThreadingTCPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

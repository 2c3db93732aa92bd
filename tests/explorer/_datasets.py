"""Datasets for the inspector's tests, written by real writers into temporary folders:
OME-NGFF 0.5 sharded (zarr-python 3), n5-viewer N5 (tensorstore), zarr v2 nested
(zarr-python 3, OME-NGFF 0.4 metadata). Each has known stored / missing chunks; the
v2 one also has a corrupt chunk. No napari import here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Dataset:
    path: Path
    levels: list[np.ndarray]
    #: per level: C-order chunk indices that are not stored
    missing: list[set[tuple[int, ...]]] = field(default_factory=list)
    #: per level: C-order chunk indices whose stored bytes are corrupt
    corrupt: list[set[tuple[int, ...]]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


def _volume(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # values ≥ 1: no chunk is all fill value unless we blank it on purpose
    return rng.integers(1, 256, size=shape, dtype=np.uint16)


def _stored_files(folder: Path) -> list[Path]:
    meta = {"zarr.json", ".zarray", ".zattrs", ".zgroup", "attributes.json"}
    return [p for p in folder.rglob("*") if p.is_file() and p.name not in meta]


def write_ngff05_sharded(path: Path) -> Dataset:
    """OME-NGFF 0.5 on zarr v3 (zarr-python): z, y, x in micrometres; levels ``s0``
    (8×128×128) and ``s1`` (8×64×64); inner chunks 2×32×32 in shards 4×64×64, codecs
    transpose(0,2,1) → bytes(le) → zstd(3), shard index at the start. The inner chunk
    (1, 0, 0) of ``s0`` is all fill value, so it is not stored."""
    import zarr
    from zarr.codecs import (
        BytesCodec,
        Crc32cCodec,
        ShardingCodec,
        TransposeCodec,
        ZstdCodec,
    )

    s0 = _volume((8, 128, 128), seed=11)
    s0[2:4, 0:32, 0:32] = 0  # inner chunk (1, 0, 0): all fill → omitted from its shard
    s1 = np.ascontiguousarray(s0[:, ::2, ::2])
    s1[s1 == 0] = 1
    scales = [[2.0, 0.5, 0.5], [2.0, 1.0, 1.0]]
    ms = {
        "name": "sharded",
        "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"],
        "datasets": [
            {"path": f"s{i}", "coordinateTransformations": [{"type": "scale", "scale": s}]}
            for i, s in enumerate(scales)
        ],
    }
    group = zarr.open_group(
        str(path),
        mode="w",
        zarr_format=3,
        attributes={"ome": {"version": "0.5", "multiscales": [ms]}},
    )
    for i, data in enumerate((s0, s1)):
        arr = group.create_array(
            f"s{i}",
            shape=data.shape,
            dtype=data.dtype,
            chunks=(4, 64, 64),
            serializer=ShardingCodec(
                chunk_shape=(2, 32, 32),
                codecs=[TransposeCodec(order=(0, 2, 1)), BytesCodec(), ZstdCodec(level=3)],
                index_codecs=[BytesCodec(), Crc32cCodec()],
                index_location="start",
            ),
            compressors=None,
            fill_value=0,
            dimension_names=["z", "y", "x"],
        )
        arr[...] = data
    return Dataset(
        path,
        [s0, s1],
        missing=[{(1, 0, 0)}, set()],
        corrupt=[set(), set()],
        params={"scales": scales},
    )


def write_n5_viewer(path: Path) -> Dataset:
    """n5-viewer N5 (tensorstore): ``s0`` is 8×48×64 (C order z, y, x), ``s1`` 8×24×32
    with ``downsamplingFactors`` [2, 2, 1] (N5 order x, y, z), ``pixelResolution`` in nm,
    gzip blocks of 16×16×4 (N5 order) = 4×16×16 in C order. Block (1, 0, 0) of ``s0``
    (N5 file ``s0/0/0/1``) is deleted: missing."""
    import tensorstore as ts

    s0 = _volume((8, 48, 64), seed=12)
    s1 = np.ascontiguousarray(s0[:, ::2, ::2])
    path.mkdir(parents=True)
    (path / "attributes.json").write_text(
        json.dumps(
            {"n5": "2.5.1", "pixelResolution": {"unit": "nm", "dimensions": [4.0, 4.0, 40.0]}}
        )
    )
    for i, (data, factors) in enumerate(((s0, [1, 1, 1]), (s1, [2, 2, 1]))):
        t = ts.open(
            {
                "driver": "n5",
                "kvstore": {"driver": "file", "path": str(path / f"s{i}")},
                "metadata": {
                    "dimensions": list(data.shape[::-1]),
                    "blockSize": [16, 16, 4],
                    "dataType": "uint16",
                    "compression": {"type": "gzip", "level": 6},
                },
                "create": True,
            }
        ).result()
        t.write(data.T).result()
        attrs = json.loads((path / f"s{i}" / "attributes.json").read_text())
        attrs["downsamplingFactors"] = factors
        (path / f"s{i}" / "attributes.json").write_text(json.dumps(attrs))
    (path / "s0" / "0" / "0" / "1").unlink()  # N5 block (x=0, y=0, z=1) = C (1, 0, 0)
    s0 = s0.copy()
    s0[4:8, 0:16, 0:16] = 0
    return Dataset(path, [s0, s1], missing=[{(1, 0, 0)}, set()], corrupt=[set(), set()])


def write_ngff04_v2(
    path: Path, name: str, levels: list[np.ndarray], scales: list[list[float]], **array: Any
) -> None:
    """An OME-NGFF 0.4 zarr v2 group (zarr-python 3): ``levels`` as arrays ``0``, ``1``, …
    with those scales, z/y/x axes in micrometres; ``array`` goes to ``create_array``
    (chunks, compressors, chunk_key_encoding…), fill value 0."""
    import zarr

    ms = {
        "version": "0.4",
        "name": name,
        "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"],
        "datasets": [
            {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": s}]}
            for i, s in enumerate(scales)
        ],
    }
    group = zarr.open_group(str(path), mode="w", zarr_format=2, attributes={"multiscales": [ms]})
    for i, data in enumerate(levels):
        arr = group.create_array(
            str(i), shape=data.shape, dtype=data.dtype, fill_value=0, **array
        )
        arr[...] = data


def write_zarr_v2_nested(path: Path) -> Dataset:
    """zarr v2 with ``/``-nested chunk keys (zarr-python 3), OME-NGFF 0.4 metadata: ``0``
    (6×64×64) and ``1`` (6×32×32), chunks 2×16×16, zlib. In ``0``, chunk (1, 0, 0) is
    deleted (missing) and chunk (2, 1, 1) overwritten with garbage (corrupt)."""
    from numcodecs import Zlib

    l0 = _volume((6, 64, 64), seed=13)
    l1 = np.ascontiguousarray(l0[:, ::2, ::2])
    write_ngff04_v2(
        path, "nested", [l0, l1], [[1.0, 0.25, 0.25], [1.0, 0.5, 0.5]],
        chunks=(2, 16, 16), compressors=Zlib(level=5),
        chunk_key_encoding={"name": "v2", "separator": "/"},
    )
    (path / "0" / "1" / "0" / "0").unlink()
    (path / "0" / "2" / "1" / "1").write_bytes(b"\x00 not zlib at all")
    l0 = l0.copy()
    l0[2:4, 0:16, 0:16] = 0
    l0[4:6, 16:32, 16:32] = 0
    return Dataset(path, [l0, l1], missing=[{(1, 0, 0)}, set()], corrupt=[{(2, 1, 1)}, set()])


def stored_bytes(level_dir: Path) -> int:
    return sum(p.stat().st_size for p in _stored_files(level_dir))

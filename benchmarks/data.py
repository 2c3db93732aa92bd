"""Benchmark data: written once into ``benchmarks/_data/`` (gitignored) and reused.

    python benchmarks/data.py [--force] [--only NAME]

Datasets (all uint16, blosc-lz4 + byte shuffle, clevel 5: zarr-python 2's classic default):

- ``big.ome.zarr`` — OME-NGFF 0.4 (zarr v2, "/" keys), 1024×2048×2048 (z, y, x), chunks
  1×64×64, so level 0 has 1,048,576 chunks; 6 levels (×2 in z, y, x each); omero window set.
- ``huge.ome.zarr`` — OME-NGFF 0.4 (zarr v2), one level of 65536×65536, chunks 1024×1024
  (4096 chunks, 8 GiB decoded); no omero window.
- ``small.ome.zarr`` — OME-NGFF 0.4 (zarr v2), 512×1024×1024, chunks 64³, 3 levels (1 GiB
  at level 0): the throughput dataset.
- ``small_v05.ome.zarr`` — the same image as OME-NGFF 0.5 (zarr v3), sharded: shards
  128×256×256 of 64³ inner chunks.

Every chunk is written in full (nothing sparse): values are a smooth pattern plus 6 bits of
coordinate-hashed noise, so a chunk compresses about 2× and no two chunks are alike.
Chunk files of the zarr v2 datasets are encoded with numcodecs and written by two worker
processes (the same bytes zarr-python would write; ``validate`` reads a sample back through
zarr-python and compares); the metadata is written by zarr-python and ome-zarr-py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("CHUNKVIEW_BENCH_DATA", HERE / "_data"))
FORMAT_VERSION = 1  # bump when the generator changes: old data is then rewritten

BLOSC = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}

DATASETS: dict[str, dict[str, Any]] = {
    "big": {
        "path": "big.ome.zarr",
        "shape": (1024, 2048, 2048),
        "chunks": (1, 64, 64),
        "levels": 6,
        "axes": ["z", "y", "x"],
        "omero": True,
        "zarr_format": 2,
    },
    "huge": {
        "path": "huge.ome.zarr",
        "shape": (65536, 65536),
        "chunks": (1024, 1024),
        "levels": 1,
        "axes": ["y", "x"],
        "omero": False,
        "zarr_format": 2,
    },
    "small": {
        "path": "small.ome.zarr",
        "shape": (512, 1024, 1024),
        "chunks": (64, 64, 64),
        "levels": 3,
        "axes": ["z", "y", "x"],
        "omero": True,
        "zarr_format": 2,
    },
    "small_v05": {
        "path": "small_v05.ome.zarr",
        "shape": (512, 1024, 1024),
        "chunks": (64, 64, 64),
        "shards": (128, 256, 256),
        "levels": 3,
        "axes": ["z", "y", "x"],
        "omero": True,
        "zarr_format": 3,
    },
}
WINDOW = (1000.0, 5200.0)


def path(name: str) -> Path:
    return DATA / DATASETS[name]["path"]


def level_shape(name: str, level: int) -> tuple[int, ...]:
    return tuple(max(1, s >> level) for s in DATASETS[name]["shape"])


def spec_hash(name: str) -> str:
    doc = json.dumps({"v": FORMAT_VERSION, "blosc": BLOSC, **DATASETS[name]}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


# -- the image ------------------------------------------------------------------------------
def block(name: str, level: int, box: Sequence[tuple[int, int]]) -> np.ndarray:
    """The values of ``box`` ([start, stop) per axis) of ``level``: deterministic per voxel,
    whatever box it is computed in."""
    f = 1 << level
    nd = len(box)
    if nd == 2:
        box = [(0, 1), *box]
    (z0, z1), (y0, y1), (x0, x1) = box
    # level coordinates → centres in level-0 coordinates
    zc = (np.arange(z0, z1, dtype=np.float64) * f + (f - 1) / 2)[:, None, None]
    yc = (np.arange(y0, y1, dtype=np.float64) * f + (f - 1) / 2)[None, :, None]
    xc = (np.arange(x0, x1, dtype=np.float64) * f + (f - 1) / 2)[None, None, :]
    smooth = (
        3000.0
        + 1200.0 * np.sin(xc / 311.0 + zc / 97.0) * np.cos(yc / 419.0)
        + 500.0 * np.cos(zc / 53.0) * np.sin(yc / 733.0 + 1.0)
        + (xc + yc) * (400.0 / 65536.0 if nd == 2 else 400.0 / 4096.0)
    ).astype(np.float32)
    # 6 bits of noise hashed from the level coordinates (box-independent)
    zi = np.arange(z0, z1, dtype=np.uint32)[:, None, None] * np.uint32(83492791)
    yi = np.arange(y0, y1, dtype=np.uint32)[None, :, None] * np.uint32(19349663)
    xi = np.arange(x0, x1, dtype=np.uint32)[None, None, :] * np.uint32(73856093)
    h = (xi ^ yi ^ zi ^ np.uint32(level * 2654435761 & 0xFFFFFFFF)) * np.uint32(2246822519)
    noise = (h >> np.uint32(26)).astype(np.float32)
    out = (smooth + noise).astype(np.uint16)
    return out[0] if nd == 2 else out


# -- writing ------------------------------------------------------------------------------
def _v2_tasks(name: str) -> Iterator[tuple[str, int, int]]:
    """(name, level, chunk index along axis 0) work items."""
    spec = DATASETS[name]
    for level in range(spec["levels"]):
        shape = level_shape(name, level)
        for i0 in range(math.ceil(shape[0] / spec["chunks"][0])):
            yield name, level, i0


#: Compute a whole band of chunks at once when it is at most this many voxels.
_BAND_VOXELS = 8 << 20


def _write_v2_rows(task: tuple[str, int, int]) -> int:
    """Encode and write every chunk of one band (one chunk index along axis 0)."""
    import numcodecs
    from numcodecs import blosc as _blosc

    _blosc.use_threads = False
    codec = numcodecs.get_codec(dict(BLOSC))
    name, level, i0 = task
    chunks = DATASETS[name]["chunks"]
    shape = level_shape(name, level)
    root = path(name) / str(level)
    ngrid = [math.ceil(s / c) for s, c in zip(shape, chunks, strict=True)]
    box0 = (i0 * chunks[0], min(shape[0], (i0 + 1) * chunks[0]))
    band = None
    if (box0[1] - box0[0]) * math.prod(shape[1:]) <= _BAND_VOXELS:
        band = block(name, level, [box0, *((0, s) for s in shape[1:])])
    nbytes = 0
    for rest in np.ndindex(*ngrid[1:]):
        idx = (i0, *rest)
        box = [(i * c, min(s, (i + 1) * c)) for i, c, s in zip(idx, chunks, shape, strict=True)]
        if band is not None:
            chunk = band[(slice(None), *(slice(a, b) for a, b in box[1:]))]
        else:
            chunk = block(name, level, box)
        if chunk.shape != tuple(chunks):  # edge chunk: zarr v2 stores it padded
            full = np.zeros(chunks, dtype=np.uint16)
            full[tuple(slice(0, s) for s in chunk.shape)] = chunk
            chunk = full
        enc = codec.encode(np.ascontiguousarray(chunk))
        d = root.joinpath(*map(str, idx[:-1]))
        if rest[-1] == 0:
            d.mkdir(parents=True, exist_ok=True)
        with open(d / str(idx[-1]), "wb") as fh:
            fh.write(enc)
        nbytes += len(enc)
    return nbytes


def _write_metadata(name: str) -> None:
    import numcodecs
    import zarr
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_multiscales_metadata

    spec = DATASETS[name]
    fmt = spec["zarr_format"]
    group = zarr.open_group(str(path(name)), mode="w", zarr_format=fmt)
    datasets = []
    for level in range(spec["levels"]):
        kw: dict[str, Any] = {}
        if fmt == 2:
            kw["compressors"] = numcodecs.get_codec(dict(BLOSC))
            kw["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
        else:
            from zarr.codecs import BloscCodec

            kw["compressors"] = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
            kw["shards"] = tuple(
                min(s, c) for s, c in zip(spec["shards"], level_shape(name, level), strict=True)
            )
            kw["dimension_names"] = spec["axes"]
        group.create_array(
            str(level), shape=level_shape(name, level), chunks=spec["chunks"], dtype="uint16",
            fill_value=0, **kw,
        )
        f = float(1 << level)
        datasets.append({
            "path": str(level),
            "coordinateTransformations": [{"type": "scale", "scale": [f] * len(spec["shape"])}],
        })
    meta: dict[str, Any] = {}
    if spec["omero"]:
        meta["omero"] = {
            "channels": [{
                "color": "FFFFFF", "label": name, "active": True,
                "window": {"min": 0.0, "max": 65535.0, "start": WINDOW[0], "end": WINDOW[1]},
            }],
            "rdefs": {"model": "greyscale"},
        }
    write_multiscales_metadata(
        group, datasets, fmt=FormatV04() if fmt == 2 else FormatV05(), axes=spec["axes"],
        name=name, metadata=meta,
    )


def _write_v3(name: str) -> int:
    import zarr

    spec = DATASETS[name]
    group = zarr.open_group(str(path(name)), mode="r+")
    for level in range(spec["levels"]):
        arr = group[str(level)]
        shape = level_shape(name, level)
        step = arr.shards[0] if arr.shards else spec["chunks"][0]
        for z in range(0, shape[0], step):
            box = [(z, min(shape[0], z + step)), (0, shape[1]), (0, shape[2])]
            arr[box[0][0] : box[0][1]] = block(name, level, box)
    return 0


def validate(name: str, samples: int = 12) -> str | None:
    """``None`` when the dataset is there, complete per its manifest, and a sample of its
    chunks (first, last, random) reads back equal to the generator; else why not."""
    p = path(name)
    man = p / "bench_manifest.json"
    if not man.exists():
        return "no manifest (never finished)"
    doc = json.loads(man.read_text())
    if doc.get("spec") != spec_hash(name):
        return "written by another generator version"
    import zarr

    spec = DATASETS[name]
    rng = np.random.default_rng(0)
    try:
        group = zarr.open_group(str(p), mode="r")
        for level in range(spec["levels"]):
            arr = group[str(level)]
            shape = level_shape(name, level)
            if tuple(arr.shape) != shape:
                return f"level {level} has shape {arr.shape}"
            grid = [math.ceil(s / c) for s, c in zip(shape, spec["chunks"], strict=True)]
            picks = [tuple(0 for _ in grid), tuple(g - 1 for g in grid)]
            picks += [tuple(int(rng.integers(g)) for g in grid) for _ in range(samples)]
            for idx in picks:
                box = [(i * c, min(s, (i + 1) * c))
                       for i, c, s in zip(idx, spec["chunks"], shape, strict=True)]
                got = arr[tuple(slice(a, b) for a, b in box)]
                if not np.array_equal(got, block(name, level, box)):
                    return f"level {level} chunk {idx} differs from the generator"
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None


def ensure(name: str, force: bool = False, log: Any = print) -> Path:
    """Write ``name`` unless a valid copy is already there. Returns its path."""
    p = path(name)
    why = "forced" if force else validate(name)
    if why is None:
        return p
    log(f"[data] writing {p.name} ({why}) ...")
    t0 = time.perf_counter()
    if p.exists():
        shutil.rmtree(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    _write_metadata(name)
    spec = DATASETS[name]
    if spec["zarr_format"] == 2:
        tasks = list(_v2_tasks(name))
        # big bands first so both workers stay busy to the end
        tasks.sort(key=lambda t: -math.prod(level_shape(t[0], t[1])[1:]))
        with get_context("fork").Pool(os.cpu_count() or 2) as pool:
            stored = sum(pool.imap_unordered(_write_v2_rows, tasks, chunksize=2))
    else:
        stored = _write_v3(name)
    decoded = sum(math.prod(level_shape(name, lv)) * 2 for lv in range(spec["levels"]))
    secs = time.perf_counter() - t0
    (p / "bench_manifest.json").write_text(json.dumps({
        "spec": spec_hash(name), "written_s": round(secs, 1), "stored_bytes": stored,
        "decoded_bytes": decoded, "sparse": False,
    }, indent=1))
    why = validate(name)
    if why is not None:
        raise RuntimeError(f"{p}: freshly written data does not validate: {why}")
    log(f"[data] {p.name}: {decoded / 2**30:.2f} GiB decoded"
        + (f", {stored / 2**30:.2f} GiB stored" if stored else "") + f", {secs:.0f} s")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true", help="rewrite even if valid")
    ap.add_argument("--only", action="append", choices=sorted(DATASETS))
    args = ap.parse_args(argv)
    for name in args.only or list(DATASETS):
        ensure(name, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

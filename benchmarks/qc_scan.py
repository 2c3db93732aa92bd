"""Throughput of the QC integrity scan (every chunk fetched, checked, decoded and
summarised) against plain zarr-python reading every chunk in a loop, with 1 and 2 local
threads and with 1 and 2 dask.distributed worker processes (default worker settings, and
"tuned": the worker's statistical profiler off and no aggressive malloc trimming).

    python benchmarks/qc_scan.py [--shape 128 1024 1024] [--chunks 32 64 64] [--repeat 3]
                                 [--data PATH] [--json OUT]

Writes a zstd-compressed uint16 zarr v3 array (microscopy-like content) into a temporary
folder unless ``--data`` names an existing zarr array; reads are warm (the page cache
holds the data after a first read). Prints chunks/s, decoded MB/s and stored MB/s
(medians over ``--repeat`` runs). Standalone: the rest of ``benchmarks/`` is not used.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: dask config for the "tuned" clusters (see the table's note).
TUNED = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 128 << 20,
}


def write_data(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...]) -> None:
    import zarr

    arr = zarr.create_array(str(path), shape=shape, chunks=chunks, dtype="uint16",
                            fill_value=0)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : shape[1], 0 : shape[2]].astype(np.float32)
    plane = 1000 + 450 * np.sin(yy / 37.0) * np.cos(xx / 23.0)
    for z0 in range(0, shape[0], chunks[0]):
        z1 = min(shape[0], z0 + chunks[0])
        block = plane[None] + rng.normal(0, 25, (z1 - z0, *shape[1:])).astype(np.float32)
        arr[z0:z1] = block.clip(0, 65535).astype("uint16")


def stored_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name != "zarr.json")


def zarr_loop(path: Path) -> int:
    """zarr-python 3: read every chunk, one ``arr[chunk]`` at a time."""
    import zarr

    arr = zarr.open_array(str(path), mode="r")
    ranges = [range(0, s, c) for s, c in zip(arr.shape, arr.chunks, strict=True)]
    n = 0
    for start in itertools.product(*ranges):
        sel = tuple(slice(a, a + c) for a, c in zip(start, arr.chunks, strict=True))
        np.asarray(arr[sel])
        n += 1
    return n


def qc_scan(path: Path, **kwargs: Any) -> int:
    from napari_chunkview.qc import run_qc

    report = run_qc(path, **kwargs)
    level = report.levels[0]
    assert report.complete and level.counts["ok"] == level.n_chunks, report.findings
    return level.n_chunks


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times = []
    n = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", nargs=3, type=int, default=(128, 1024, 1024))
    p.add_argument("--chunks", nargs=3, type=int, default=(32, 64, 64))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--data", type=Path, help="an existing zarr array to scan instead")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--no-distributed", action="store_true")
    args = p.parse_args(argv)

    tmp = None
    if args.data is None:
        tmp = Path(tempfile.mkdtemp(prefix="chunkview-qc-bench-"))
        path = tmp / "bench.zarr"
        t0 = time.perf_counter()
        write_data(path, tuple(args.shape), tuple(args.chunks))
        print(f"wrote {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    else:
        path = args.data
    try:
        import zarr

        arr = zarr.open_array(str(path), mode="r")
        decoded = math.prod(arr.shape) * arr.dtype.itemsize
        stored = stored_bytes(path)
        n_chunks = math.prod(math.ceil(s / c) for s, c in zip(arr.shape, arr.chunks, strict=True))
        print(f"{path}: shape {arr.shape}, chunks {arr.chunks}, {n_chunks} chunks, "
              f"{decoded / 1e6:.0f} MB decoded, {stored / 1e6:.0f} MB stored, "
              f"{os.cpu_count()} CPUs",
              file=sys.stderr)
        zarr_loop(path)  # warm the page cache

        rows: list[dict[str, Any]] = []

        def measure(name: str, fn: Callable[[], int]) -> None:
            seconds, n = timed(fn, args.repeat)
            rows.append({
                "case": name,
                "seconds": round(seconds, 3),
                "chunks_per_s": round(n / seconds, 1),
                "decoded_mb_per_s": round(decoded / 1e6 / seconds, 1),
                "stored_mb_per_s": round(stored / 1e6 / seconds, 1),
            })
            print(f"  {name}: {seconds:.2f} s", file=sys.stderr)

        measure("zarr-python, chunk by chunk", lambda: zarr_loop(path))
        measure("QC scan, local, 1 thread", lambda: qc_scan(path, workers=1))
        measure("QC scan, local, 2 threads", lambda: qc_scan(path, workers=2))
        if not args.no_distributed:
            import dask
            from distributed import LocalCluster

            for tuned in (False, True):
                for n in (1, 2):
                    # one cluster at a time: idle ones would take CPU from the measurement
                    with dask.config.set(TUNED if tuned else {}), LocalCluster(
                        processes=True, n_workers=n, threads_per_worker=1,
                        host="127.0.0.1", dashboard_address=":0",
                    ) as cluster:
                        address = cluster.scheduler_address
                        qc_scan(path, scheduler=address)  # workers import and open once
                        name = f"QC scan, distributed, {n} worker{'s' if n > 1 else ''}"
                        measure(name + (", tuned" if tuned else ""),
                                lambda a=address: qc_scan(path, scheduler=a))
        width = max(len(r["case"]) for r in rows)
        print(f"{'case':{width}}  {'seconds':>8}  {'chunks/s':>9}  {'MB/s (decoded)':>14}  "
              f"{'MB/s (stored)':>13}")
        for r in rows:
            print(f"{r['case']:{width}}  {r['seconds']:8.2f}  {r['chunks_per_s']:9.0f}  "
                  f"{r['decoded_mb_per_s']:14.0f}  {r['stored_mb_per_s']:13.0f}")
        if not args.no_distributed:
            print("tuned = worker profiler off, MALLOC_TRIM_THRESHOLD_ 128 MiB "
                  "(dask config, see TUNED)")
        if args.json:
            args.json.write_text(json.dumps({
                "shape": list(arr.shape), "chunks": list(arr.chunks), "n_chunks": n_chunks,
                "decoded_bytes": decoded, "stored_bytes": stored, "cpus": os.cpu_count(),
                "repeat": args.repeat, "results": rows,
            }, indent=2))
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""Steady-state reads of small chunks: ours (``Level.array``) against tensorstore, in one
long-running process, as in a viewer that has been open for a while.

    python benchmarks/steady_reads.py [--rounds 21]

``run.py --only throughput`` measures one read per fresh process, after one warm-up read.
On this machine (a VM) that first read of ours pays for fresh memory: the first touch of a
page costs about 7 µs (a 1 GiB array: 1.8 s on first touch, 0.09 s once the process has
recycled its memory), and a read of 256 chunks of 8 KiB retains 2 MiB of new chunk arrays
for the cache besides the 2 MiB answer. Here, every round reads each region with each
engine (interleaved, our chunk cache cleared before each read, the files in the page
cache) and the table gives medians over the rounds. Uses the benchmark data of
``benchmarks/data.py`` (the 10⁶-chunk level: 1×64×64 chunks of uint16, blosc-lz4).
"""

# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import data as D

REGIONS = {
    "512² view (64 chunks)": (512, slice(768, 1280), slice(768, 1280)),
    "1024² view (256 chunks)": (512, slice(512, 1536), slice(512, 1536)),
    "2048² z-plane (1024 chunks)": (512, slice(None), slice(None)),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args(argv)
    D.ensure("big", log=lambda m: print(m, file=sys.stderr, flush=True))
    import tensorstore as ts

    import napari_chunkview as nc
    from napari_chunkview.loading import CACHE

    uri = str(D.path("big"))
    arr = nc.open_pyramid(uri).levels[0].array
    from napari_chunkview.loading import warm_up

    warm_up()
    store = ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": f"{uri}/0/"},
         "context": {"cache_pool": {"total_bytes_limit": 0}}, "open": True},
        read=True,
    ).result()
    engines: dict[str, Any] = {
        "tensorstore": lambda r: store[r].read().result(),
        "ours": lambda r: np.asarray(arr[r]),
    }
    print("| region | ours | tensorstore | ours / tensorstore time |")
    print("|---|---|---|---|")
    for name, region in REGIONS.items():
        ref = engines["tensorstore"](region)
        for f in engines.values():  # page cache, warm engines, and the same values
            CACHE.clear()
            assert np.array_equal(np.asarray(f(region)), ref)
        times: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(args.rounds):
            for k, f in engines.items():
                CACHE.clear()
                t0 = time.perf_counter()
                f(region)
                times[k].append(time.perf_counter() - t0)
        o, t = (statistics.median(times[k]) * 1e3 for k in ("ours", "tensorstore"))
        print(f"| {name} | {o:.2f} ms | {t:.2f} ms | {o / t:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

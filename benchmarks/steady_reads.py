"""Steady-state reads: ours (``Level.array``) against tensorstore, in one long-running
process, as in a viewer that has been open for a while.

    python benchmarks/steady_reads.py [--rounds 21]

``run.py --only throughput`` measures one read per fresh process, after one warm-up read.
On this machine (a VM) that first read of ours pays for fresh memory: a 4 KiB page costs
2-3.5 µs on first touch (128 MiB in 512 KiB arrays: about 73 ms of CPU), and numpy's
transparent huge pages (arrays of 4 MiB and more) are faster but can stall in compaction
(1 GiB: 0.13 s, or 1.3-2.4 s). Our reads keep the chunks they decode for the cache, and
tensorstore reuses its buffers. Here, every round reads each region with each engine
(interleaved, our chunk cache cleared before each read, the files in the page cache) and
the table gives medians over the rounds. A z-plane through 64³ chunks is answered by a
thin read, and its whole chunks (128 MiB) are read into the cache after the answer
(read-ahead): the last column gives how long that goes on, off the clock (each round
waits for it before the next read). Uses the benchmark data of ``benchmarks/data.py``
(``big``: 1×64×64 chunks of uint16; ``small``: 64³; blosc-lz4).
"""

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

#: (dataset, region): the 10⁶-chunk level of 64² chunks, and a z-plane through the 64³
#: chunks of ``small`` (which decodes 128 MiB of whole chunks, kept for the next planes)
REGIONS = {
    "512² view (64 chunks)": ("big", (512, slice(768, 1280), slice(768, 1280))),
    "1024² view (256 chunks)": ("big", (512, slice(512, 1536), slice(512, 1536))),
    "2048² z-plane (1024 chunks)": ("big", (512, slice(None), slice(None))),
    "1024² z-plane through 64³ chunks (256 chunks)": ("small", (256, slice(None), slice(None))),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args(argv)
    for name in ("big", "small"):
        D.ensure(name, log=lambda m: print(m, file=sys.stderr, flush=True))
    import tensorstore as ts

    import napari_chunkview as nc
    from napari_chunkview.loading import CACHE, settle, warm_up

    engines: dict[str, dict[str, Any]] = {}
    for name in ("big", "small"):
        uri = str(D.path(name))
        arr = nc.open_pyramid(uri).levels[0].array
        store = ts.open(
            {"driver": "zarr", "kvstore": {"driver": "file", "path": f"{uri}/0/"},
             "context": {"cache_pool": {"total_bytes_limit": 0}}, "open": True},
            read=True,
        ).result()
        engines[name] = {
            "tensorstore": lambda r, store=store: store[r].read().result(),
            "ours": lambda r, arr=arr: np.asarray(arr[r]),
        }
    warm_up()
    print("| region | ours | tensorstore | ours / tensorstore time | read-ahead after ours |")
    print("|---|---|---|---|---|")
    for title, (name, region) in REGIONS.items():
        ref = engines[name]["tensorstore"](region)
        for f in engines[name].values():  # page cache, warm engines, and the same values
            settle()
            CACHE.clear()
            assert np.array_equal(np.asarray(f(region)), ref)
        times: dict[str, list[float]] = {k: [] for k in engines[name]}
        ahead: list[float] = []
        for _ in range(args.rounds):
            for k, f in engines[name].items():
                settle()
                CACHE.clear()
                t0 = time.perf_counter()
                f(region)
                t1 = time.perf_counter()
                times[k].append(t1 - t0)
                if k == "ours":
                    settle()
                    ahead.append(time.perf_counter() - t1)
        o, t = (statistics.median(times[k]) * 1e3 for k in ("ours", "tensorstore"))
        a = statistics.median(ahead) * 1e3
        print(f"| {title} | {o:.2f} ms | {t:.2f} ms | {o / t:.2f}× | {a:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

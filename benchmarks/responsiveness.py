"""Does napari stay responsive while our chunks load? napari's synchronous slicing vs its
asynchronous slicing (``settings.experimental.async_``), on the benchmark data
(``benchmarks/data.py``). Run headless:

    xvfb-run -a python benchmarks/responsiveness.py [--runs N]

Each run is a fresh process (a viewer, our reader, the chunk cache empty). A 5 ms Qt timer
ticks on the GUI thread during the measurement; the longest gap between two ticks is how
long the window was frozen (no repaint, no input). Measured for:

* ``first``: ``viewer.open`` of a dataset until its first frame is complete (layer
  ``loaded``, canvas painted): time, longest freeze;
* ``zsteps`` (3-D data): 20 z-steps, one every 50 ms, as a user holding the slider;
  then until the last one is shown: time, longest freeze.

Datasets: ``big`` (1024×2048² in 64² chunks, 6 levels) and ``huge`` (one 65536² level:
the first frame needs the coarsest virtual level, i.e. every stored chunk; its files are
read once before the clock, so that it is read from the page cache in every run).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def _wait(app: Any, cond: Any, timeout: float) -> bool:
    t_end = time.perf_counter() + timeout
    while time.perf_counter() < t_end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.002)
    return False


def run_one(dataset: str, mode: str) -> dict[str, Any]:
    import data as D  # benchmarks/data.py
    import napari
    from napari.settings import get_settings
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    get_settings().experimental.async_ = mode == "async"
    viewer = napari.Viewer(show=False)
    viewer.window._qt_viewer.canvas.size = (600, 800)
    app = QApplication.instance()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def freeze(t0: float, t1: float) -> float:
        ts = [t0, *[t for t in ticks if t0 <= t <= t1], t1]
        return max(b - a for a, b in itertools.pairwise(ts))

    out: dict[str, Any] = {"dataset": dataset, "mode": mode}
    if dataset == "huge":  # from the page cache, whichever run came before (see _cases)
        from _cases import prime_page_cache

        prime_page_cache(D.path(dataset))
    timer.start()
    t0 = time.perf_counter()
    layer = viewer.open(str(D.path(dataset)), plugin="napari-chunkview")[0]

    def shown() -> bool:
        viewer.window._qt_viewer.canvas.native.update()
        return bool(getattr(layer, "loaded", True))

    ok = _wait(app, shown, 120)
    viewer.screenshot(canvas_only=True, flash=False)
    t1 = time.perf_counter()
    out.update(first_s=t1 - t0, first_freeze_s=freeze(t0, t1), first_ok=ok,
               level=int(layer.data_level))
    if viewer.dims.ndim > 2 and viewer.dims.nsteps[0] > 40:
        z0 = viewer.dims.current_step[0]
        t0 = time.perf_counter()
        for k in range(1, 21):
            viewer.dims.set_current_step(0, z0 + k)
            _wait(app, lambda: False, 0.05)
        ok = _wait(app, shown, 120)
        viewer.screenshot(canvas_only=True, flash=False)
        t1 = time.perf_counter()
        out.update(zsteps_s=t1 - t0, zsteps_freeze_s=freeze(t0, t1), zsteps_ok=ok)
    timer.stop()
    viewer.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--datasets", nargs="+", default=["big", "huge"])
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # (dataset, mode): child
    a = ap.parse_args()
    if a.one:
        print("RESULT " + json.dumps(run_one(*a.one)))
        return
    from run import compile_plugin  # as an install would: no compiling in the clock

    compile_plugin()
    rows = []
    for ds in a.datasets:
        for mode in ("sync", "async"):
            res = []
            for _ in range(a.runs):
                p = subprocess.run([sys.executable, __file__, "--one", ds, mode],
                                   capture_output=True, text=True, timeout=600,
                                   env={**os.environ, "QT_QPA_PLATFORM": os.environ.get(
                                       "QT_QPA_PLATFORM", "xcb")})
                line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
                if not line:
                    print(f"{ds}/{mode}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
                    continue
                res.append(json.loads(line[0][7:]))
            if not res:
                continue

            def med(k: str, res: list[dict[str, Any]] = res) -> str:
                vals = [r[k] for r in res if k in r]
                return f"{statistics.median(vals) * 1e3:.0f} ms" if vals else "—"

            rows.append((ds, mode, med("first_s"), med("first_freeze_s"),
                         med("zsteps_s"), med("zsteps_freeze_s"), len(res)))
    print("| dataset | slicing | first frame | longest freeze | 20 z-steps shown | "
          "longest freeze | runs |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    print(f"load average at end {os.getloadavg()[0]:.1f}; 2 cores")


if __name__ == "__main__":
    main()

"""The notebook viewer in a real browser: display → first tile, tile round trip, tiles/s
while panning, and tiles while another cell runs; for both transports.

    python benchmarks/notebook_tiles.py [--repeat N] [--pan-seconds S] [--no-subshell-run]

Starts a private JupyterLab on 127.0.0.1 and Debian's chromium (headless, Playwright), as
the browser tests do (tests/jupyter/_lab.py), on a 2-channel 4096² uint16 OME-Zarr pyramid
(256² chunks, zstd) written to a temporary folder. Runs twice: with JupyterLab's default
``commsOverSubshells: perCommTarget`` (widget messages go to a kernel subshell) and with
``disabled`` (what older frontends do: widget messages wait for the main shell). Prints a
table; the raw numbers go to benchmarks/results/notebook_tiles-<time>.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.jupyter._lab import (  # noqa: E402
    EXECUTE,
    EXECUTE_NOWAIT,
    RUN_CELL,
    Lab,
    chromium,
    open_and_run,
    write_notebook,
)

SIZE = 4096
CLEAR_CACHE = "from napari_chunkview.loading import CACHE; CACHE.clear()"
CANVAS = (768, 512)  # width, height (CSS px)


def write_data(path: Path) -> Path:
    """2 × 4096² uint16 (smooth pattern + noise), 5 levels, 256² chunks, zstd, OME-NGFF 0.5."""
    import numpy as np
    import zarr

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    rng = np.random.default_rng(0)
    a = (np.sin(40 * x) * np.cos(33 * y) + 1) * 12000 + rng.integers(0, 800, (SIZE, SIZE))
    b = ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 80000 % 30000 + rng.integers(0, 800, (SIZE, SIZE))
    level = np.stack([a, b]).astype(np.uint16)
    datasets, levels = [], []
    for k in range(5):
        levels.append(level)
        f = 2**k
        datasets.append(
            {
                "path": str(k),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [1.0, 0.1 * f, 0.1 * f]},
                    {"type": "translation", "translation": [0.0, 0.05 * (f - 1), 0.05 * (f - 1)]},
                ],
            }
        )
        level = (
            level.reshape(2, level.shape[1] // 2, 2, level.shape[2] // 2, 2)
            .mean(axis=(2, 4))
            .astype(np.uint16)
        )
    ome = {
        "version": "0.5",
        "multiscales": [
            {
                "name": "bench",
                "datasets": datasets,
                "axes": [
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"},
                ],
            }
        ],
        "omero": {
            "version": "0.5",
            "channels": [
                {
                    "label": "waves",
                    "color": "FF00FF",
                    "window": {"min": 0, "max": 65535, "start": 500, "end": 24000},
                },
                {
                    "label": "rings",
                    "color": "00FF00",
                    "window": {"min": 0, "max": 65535, "start": 500, "end": 30000},
                },
            ],
        },
    }
    group = zarr.create_group(store=str(path), zarr_format=3, attributes={"ome": ome})
    for k, lv in enumerate(levels):
        arr = group.create_array(
            name=str(k),
            shape=lv.shape,
            dtype=lv.dtype,
            chunks=(1, 256, 256),
            dimension_names=("c", "y", "x"),
            compressors=zarr.codecs.ZstdCodec(level=1),
            fill_value=0,
        )
        arr[...] = lv
    return path


def js_root(nth: int) -> str:
    return f"document.querySelectorAll('.cv-root')[{nth}]"


def wait_idle(page: Any, nth: int, timeout_s: float = 60) -> None:
    page.wait_for_function(
        f"() => {{ const r = {js_root(nth)}; return !!r && r.dataset.state === 'idle'; }}",
        polling=20,
        timeout=timeout_s * 1000,
    )


ROUND_TRIPS = """async ([nth, n, size, format]) => {
  const v = document.querySelectorAll('.cv-root')[nth].__chunkview;
  const spec = v.renderSpec();
  const out = [];
  for (let i = 0; i < n + 3; i++) {
    const msg = {type: 'tiles', id: v.nextId++, tile_size: size, format, local: true, render: spec,
                 tiles: [{level: 0, ty: 0, tx: 0}]};
    const t0 = performance.now();
    const r = await v.send(msg);
    if (r.header.tiles[0].error) throw new Error(r.header.tiles[0].error);
    if (format !== 'raw') await v.decode(r.header.tiles[0], r.buffers[0]);
    if (i >= 3) out.push(performance.now() - t0);  // the first ones warm the chunk cache
  }
  return out;
}"""

PAN = """async ([nth, seconds, speed]) => {
  const v = document.querySelectorAll('.cv-root')[nth].__chunkview;
  for (const t of v.cache.values()) t.bitmap.close?.();  // start cold: new tiles only
  v.cache.clear();
  v.lastAt.clear();
  v.zoomTo(1 / v.dpr);
  v.cam = {...v.cam, cx: v.size.w / 2 + 10, cy: v.size.h / 2 + 10};
  v.viewChanged();
  await new Promise(r => setTimeout(r, 50));
  const tiles0 = v.stats.tiles, t0 = performance.now();
  let frames = 0, complete = 0, last = t0;
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now(), dt = (now - last) / 1000;
    last = now;
    v.cam = {...v.cam, cx: v.cam.cx + speed * dt, cy: v.cam.cy + 0.6 * speed * dt};
    v.viewChanged();
    frames++;
    if (v.root.dataset.state === 'idle') complete++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  const tiles = v.stats.tiles - tiles0;
  const tEnd = performance.now();
  while (v.root.dataset.state !== 'idle') await new Promise(r => setTimeout(r, 5));
  return {tiles, elapsed, tiles_per_s: tiles / elapsed, frames, complete_frames: complete / frames,
          settle_ms: performance.now() - tEnd, px: speed * elapsed};
}"""

JUMP = """async ([nth, x, y]) => {
  const v = document.querySelectorAll('.cv-root')[nth].__chunkview;
  v.cam = {...v.cam, cx: x, cy: y};
  v.viewChanged();
  const t0 = performance.now();
  await new Promise(r => setTimeout(r, 0));
  while (v.root.dataset.state !== 'idle' && performance.now() - t0 < 12000) {
    await new Promise(r => setTimeout(r, 5));
  }
  const idle = v.root.dataset.state === 'idle';
  return {ms: performance.now() - t0, idle, busy_done: window._busyDone};
}"""


def measure(page: Any, lab: Lab, data: Path, repeat: int, pan_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    open_and_run(page, lab, "bench.ipynb", cells=[0])
    wait_idle(page, 0)
    out["cell_to_view_complete_s"] = time.monotonic() - t0  # includes page load + kernel start
    for nth, transport in ((0, "http"), (1, "comm")):
        if nth == 1:
            page.evaluate(EXECUTE, CLEAR_CACHE)
            t1 = time.monotonic()
            page.evaluate(RUN_CELL, 1)
            wait_idle(page, 1)
            out.setdefault(transport, {})["cell_to_view_complete_s"] = time.monotonic() - t1
        r: dict[str, Any] = out.setdefault(transport, {})
        st = page.evaluate(f"{js_root(nth)}.__chunkview.stats")
        r["display_to_first_tile_ms"] = st["firstTileMs"]
        r["display_to_view_complete_ms"] = st["firstCompleteMs"]
        assert page.evaluate(f"{js_root(nth)}.dataset.transport") == transport
        for size, fmt in ((64, "raw"), (256, "raw"), (256, "png")):
            rtts = page.evaluate(ROUND_TRIPS, [nth, 30 * repeat, size, fmt])
            r[f"round_trip_ms_{size}_{fmt}"] = statistics.median(rtts)
            r[f"round_trip_ms_{size}_{fmt}_p90"] = sorted(rtts)[int(0.9 * len(rtts))]
        for speed in (900, 5000):  # a steady drag; a fling (what the loader can do)
            pans = []
            for _ in range(repeat):
                page.evaluate(EXECUTE, CLEAR_CACHE)
                seconds = min(pan_s, 3000 / speed)  # stay on the image (4096 px wide)
                pans.append(page.evaluate(PAN, [nth, seconds, float(speed)]))
            r[f"pan_{speed}"] = pans
            r[f"pan_{speed}_tiles_per_s"] = statistics.median(p["tiles_per_s"] for p in pans)
            r[f"pan_{speed}_complete_frames"] = statistics.median(
                p["complete_frames"] for p in pans
            )
            r[f"pan_{speed}_settle_ms"] = statistics.median(p["settle_ms"] for p in pans)
        # another cell runs (sleeping, then busy in pure Python, holding the GIL between
        # switches): jump to regions never shown (far from the panning path, and from the
        # other viewer's jumps: nothing cached) and wait for their tiles
        busy = (
            ("sleep", "import time; time.sleep(8)", 700.0, 3700.0),
            (
                "cpu",
                "import time\nt = time.time()\nwhile time.time() - t < 8: sum(range(1000))",
                700.0,
                2900.0,
            ),
        )
        for kind, code, x, y in busy:
            page.evaluate(EXECUTE, CLEAR_CACHE)
            page.evaluate(EXECUTE_NOWAIT, code)
            time.sleep(0.5)
            r[f"while_busy_{kind}"] = page.evaluate(JUMP, [nth, x + 2600 * nth, y])
            page.wait_for_function("() => window._busyDone", polling=100, timeout=30000)
            wait_idle(page, nth)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pan-seconds", type=float, default=3.0)
    ap.add_argument(
        "--no-subshell-run",
        action="store_true",
        help="skip the run with JupyterLab's commsOverSubshells disabled",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chunkview-bench-nb-"))
    try:
        t = time.monotonic()
        data = write_data(tmp / "bench.ome.zarr")
        print(f"data written in {time.monotonic() - t:.1f} s: {data}", file=sys.stderr)
        results: dict[str, Any] = {}
        modes = ["perCommTarget"] + ([] if args.no_subshell_run else ["disabled"])
        for mode in modes:
            work, private = tmp / f"work-{mode}", tmp / f"private-{mode}"
            work.mkdir()
            settings = private / "settings" / "@jupyterlab" / "apputils-extension"
            settings.mkdir(parents=True)
            (settings / "kernels-settings.jupyterlab-settings").write_text(
                json.dumps({"commsOverSubshells": mode})
            )
            write_notebook(
                work / "bench.ipynb",
                [
                    "from napari_chunkview import view\n"
                    f"w0 = view({str(data)!r}, height={CANVAS[1]}, width={CANVAS[0]}, "
                    "inspector=False)\nw0",
                    f"w1 = view({str(data)!r}, height={CANVAS[1]}, width={CANVAS[0]}, "
                    "transport='comm', inspector=False)\nw1",
                ],
            )
            with Lab(work, private) as lab, chromium((1400, 1400)) as (page, blocked):
                res = measure(page, lab, data, args.repeat, args.pan_seconds)
                res["lab_startup_s"] = lab.startup_s
                assert not blocked, blocked
            results[mode] = res
            print(f"{mode}: done", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    out = HERE / "results" / f"notebook_tiles-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nraw numbers: {out}")
    return 0


def report(results: dict[str, Any]) -> None:
    rows = [
        ("display → first tile (ms)", "display_to_first_tile_ms"),
        ("display → view complete (ms)", "display_to_view_complete_ms"),
        ("round trip, 64² raw tile (ms, median)", "round_trip_ms_64_raw"),
        ("round trip, 256² raw RGB tile (ms, median)", "round_trip_ms_256_raw"),
        ("round trip, 256² PNG tile + decode (ms, median)", "round_trip_ms_256_png"),
        ("tiles/s, panning 1:1 at 900 px/s (cold caches)", "pan_900_tiles_per_s"),
        ("  frames with every tile in view", "pan_900_complete_frames"),
        ("  pan stop → view complete (ms)", "pan_900_settle_ms"),
        ("tiles/s, flinging at 5000 px/s (cold caches)", "pan_5000_tiles_per_s"),
        ("  frames with every tile in view", "pan_5000_complete_frames"),
        ("  pan stop → view complete (ms)", "pan_5000_settle_ms"),
    ]
    cols = [(mode, tr) for mode in results for tr in ("http", "comm")]
    print(
        f"{'':52}"
        + "".join(
            f"{tr + ' / ' + ('subshells' if m != 'disabled' else 'no subshells'):>26}"
            for m, tr in cols
        )
    )
    for label, key in rows:
        vals = []
        for mode, tr in cols:
            v = results[mode][tr].get(key)
            vals.append(f"{v:26.3g}" if isinstance(v, float) else f"{v!s:>26}")
        print(f"{label:52}" + "".join(vals))
    for kind, label in (
        ("sleep", "new view during a time.sleep cell (ms; in time?)"),
        ("cpu", "new view during a pure-Python cell (ms; in time?)"),
    ):
        vals = []
        for mode, tr in cols:
            j = results[mode][tr][f"while_busy_{kind}"]
            ok = "yes" if j["idle"] and not j["busy_done"] else "no"
            vals.append(f"{j['ms']:.0f} ({ok})".rjust(26))
        print(f"{label:52}" + "".join(vals))


if __name__ == "__main__":
    raise SystemExit(main())

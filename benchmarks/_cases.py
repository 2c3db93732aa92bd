"""One measurement per process: ``python benchmarks/_cases.py CASE JSON_ARGS``.

The runner (``run.py``) starts a fresh interpreter for every run of every case; the case
prints ``RESULT {json}`` as its last line. Every result carries ``peak_rss_mb`` (this
process's ``ru_maxrss``). Imports that are not part of what is measured happen before the
clock starts; what is inside the clock is said in each case's docstring.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import data as D  # noqa: E402

PLUGINS = {"ours": "napari-chunkview", "ome-zarr": "napari-ome-zarr", "builtin": "napari",
           "ours-dask": "napari-chunkview"}
METADATA = {".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json", "attributes.json"}


# -- instrumentation ------------------------------------------------------------------------
class FileReads:
    """Counts every file opened for reading under the data folder, by any reader that
    opens files from Python (zarr-python's LocalStore, our local fast path, ...)."""

    def __init__(self, root: Path, ours: bool = True) -> None:
        self.root = str(root.resolve()) + os.sep
        self.keys: list[str] = []
        self._orig = builtins.open
        orig = self._orig
        keys = self.keys
        prefix = self.root

        def counting_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
            if "r" in mode and isinstance(file, str | os.PathLike):
                p = os.fspath(file)
                if isinstance(p, str) and p.startswith(prefix):
                    keys.append(p[len(prefix):])
            return orig(file, mode, *a, **k)

        builtins.open = counting_open
        io.open = counting_open

        orig_os_open = os.open
        write = os.O_WRONLY | os.O_RDWR

        def counting_os_open(file: Any, flags: int, *a: Any, **k: Any) -> Any:
            # napari-chunkview reads local files with os.open (metadata and chunks)
            if not flags & write and isinstance(file, str | os.PathLike) and "dir_fd" not in k:
                p = os.fspath(file)
                if isinstance(p, str) and p.startswith(prefix):
                    keys.append(p[len(prefix):])
            return orig_os_open(file, flags, *a, **k)

        os.open = counting_os_open

        # napari-chunkview opens chunk files with os.open, and tensorstore (its box reads)
        # from C++: neither passes through ``open``. Its own event stream reports every
        # chunk it reads ("requested"), so for it that is the count; it is subscribed to
        # as soon as the plugin's loading layer is imported (the import may be on the clock).
        self.our_keys: list[str] = []
        if ours:  # (a listener makes our reads emit events: not for the throughput clock)
            self._hook_ours()

    def _hook_ours(self) -> None:
        ours = self.our_keys

        def listen(e: Any) -> None:
            if e.kind == "requested":
                ours.append(e.key)

        def subscribe() -> bool:
            mod = sys.modules.get("napari_chunkview.loading._events")
            if mod is None or not hasattr(mod, "EVENTS"):  # not there, or half imported
                return False
            mod.EVENTS.subscribe(listen)
            return True

        if subscribe():
            return
        orig_import = builtins.__import__

        def importing(*a: Any, **k: Any) -> Any:
            mod = orig_import(*a, **k)
            if builtins.__import__ is importing and subscribe():
                builtins.__import__ = orig_import
            return mod

        builtins.__import__ = importing

    def reset(self) -> None:
        self.keys.clear()
        self.our_keys.clear()

    def chunks(self) -> list[str]:
        if self.our_keys:
            return list(self.our_keys)
        return [k for k in self.keys if os.path.basename(k) not in METADATA
                and not k.endswith("bench_manifest.json")]

    def metadata(self) -> list[str]:
        return [k for k in self.keys if os.path.basename(k) in METADATA]


def chunk_index(key: str) -> tuple[str, int, tuple[int, ...]]:
    """``big.ome.zarr/1/256/3/4`` → (dataset folder, level, chunk index)."""
    parts = key.split("/")
    return parts[0], int(parts[1]), tuple(int(p) for p in parts[2:])


def prime_page_cache(folder: Path) -> None:
    """Read every file under ``folder`` once, outside the clock, so that whichever reader
    runs reads from the page cache: otherwise the run order decides who reads from disk
    (the 65536² dataset is 4.5 GB; the builtin anchor's 7 GiB evict it between runs)."""
    buf = bytearray(1 << 20)
    for dirpath, _, files in os.walk(folder):
        for f in files:
            with open(os.path.join(dirpath, f), "rb", buffering=0) as fh:
                while fh.readinto(buf):
                    pass


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- readers --------------------------------------------------------------------------------
def reader_layers(reader: str, uri: str) -> list[Any]:
    """Layer data through npe2, the way napari asks a plugin (get_reader, then read)."""
    import npe2

    return npe2.read([uri], plugin_name=PLUGINS[reader], stack=False)


def warm_imports(reader: str | None = None, plugin: bool = True) -> None:
    """What the host (napari) has imported before any plugin reads: napari, npe2's plugin
    list, dask, zarr. With ``plugin``, also the reader's own module."""
    import dask.array  # noqa: F401
    import napari  # noqa: F401
    import npe2
    import zarr  # noqa: F401

    npe2.PluginManager.instance().discover()
    if not plugin or reader is None:
        return
    if reader.startswith("ours"):
        import napari_chunkview._napari._reader  # noqa: F401
    elif reader == "ome-zarr":
        import napari_ome_zarr._reader  # noqa: F401
    else:
        import napari_builtins.io  # noqa: F401


def case_open(a: dict[str, Any]) -> dict[str, Any]:
    """Clock: npe2 get_reader + reader call → layer data, in a process where napari, dask and
    zarr are imported but the plugin is not ("first": its import is in the clock, as on a
    user's first open); then the same open again in the same process ("again")."""
    reader, name = a["reader"], a["dataset"]
    warm_imports(reader, plugin=False)
    counter = FileReads(D.DATA)
    t0 = time.perf_counter()
    layers = reader_layers(reader, str(D.path(name)))
    dt = time.perf_counter() - t0
    chunk_reads, meta_reads = len(counter.chunks()), len(counter.metadata())
    counter.reset()
    t1 = time.perf_counter()
    reader_layers(reader, str(D.path(name)))
    dt2 = time.perf_counter() - t1
    data = layers[0][0]
    kinds = [type(d).__name__ for d in (data if isinstance(data, list) else [data])]
    return {"s": dt, "chunk_reads": chunk_reads, "metadata_reads": meta_reads,
            "again_s": dt2, "again_chunk_reads": len(counter.chunks()),
            "layers": len(layers), "array_types": sorted(set(kinds)), "levels": len(kinds)}


# -- napari ---------------------------------------------------------------------------------
class Views:
    """Records napari's multiscale view boxes (before and after it rounds them out to the
    array's ``chunks``) by wrapping ``expand_corners_to_chunk_boundaries``."""

    def __init__(self) -> None:
        import napari.layers._scalar_field.scalar_field as sf

        self.calls: list[tuple[Any, Any, tuple[int, ...]]] = []
        orig = sf.expand_corners_to_chunk_boundaries
        calls = self.calls

        def wrapped(corners: Any, data: Any, axes: Any) -> Any:
            out = orig(corners, data, axes)
            calls.append((corners.copy(), out.copy(), tuple(data.shape)))
            return out

        sf.expand_corners_to_chunk_boundaries = wrapped


def make_viewer(canvas: tuple[int, int]) -> Any:
    """A hidden viewer with a fixed canvas, warmed with a throw-away layer so that napari's
    once-per-session costs (pint's unit registry, scipy.ndimage, shaders: ~0.5 s) are not
    charged to the first reader that runs."""
    import napari
    import numpy as np

    viewer = napari.Viewer(show=False)
    viewer.window._qt_viewer.canvas.size = tuple(canvas)  # (height, width)
    warm = viewer.add_image(np.arange(64, dtype=np.uint16).reshape(1, 8, 8), scale=(1, 2, 2),
                            units=("um", "um", "um"))
    viewer.screenshot(canvas_only=False, flash=False)
    viewer.layers.remove(warm)
    return viewer


def open_layers(viewer: Any, reader: str, uri: str) -> list[Any]:
    """``viewer.open(uri, plugin=...)``; for ``ours-dask``: our reader's layer data with each
    level's dask array (``Level.data``) in place of what the reader gives napari, added the
    way napari adds a reader's layer data (the reader's behaviour before it switched)."""
    if reader != "ours-dask":
        return viewer.open(uri, plugin=PLUGINS[reader])
    from napari_chunkview._napari._reader import read_pyramids

    layers = []
    for _data, meta, kind in read_pyramids(uri):
        pyr = meta["metadata"]["pyramid"]
        arrays = [lv.data for lv in pyr.levels]
        layers.extend(viewer._add_layer_from_data(
            arrays if meta.get("multiscale") else arrays[0], meta, kind))
    return layers


def paint_until_stable(viewer: Any, layer: Any, max_paints: int = 40) -> tuple[int, Any]:
    """Paint until the layer's level and view stop changing and the canvas shows data.
    Returns (paints, last image)."""
    viewer.screenshot(canvas_only=False, flash=False)  # first paint: picks the level
    prev = None
    img = None
    for n in range(1, max_paints + 1):
        img = viewer.screenshot(canvas_only=True, flash=False)
        state = (layer.data_level if layer.multiscale else 0,
                 tuple(layer.corner_pixels.ravel()), bool(getattr(layer, "loaded", True)))
        if state == prev and state[2] and img[..., :3].max() > 0:
            return n, img
        prev = state
    return max_paints, img


def _view_chunks(views: Views, level_shape: tuple[int, ...], chunks: tuple[int, ...]
                 ) -> tuple[int, int]:
    """Storage chunks (y, x) in the union of napari's view boxes at ``level_shape`` (one z):
    as it asked for them, and after it rounded them out to the array's ``chunks``."""
    def cells(c: Any) -> set[tuple[int, int]]:
        ry, rx = (range(int(c[0, ax]) // chunks[ax], int(c[1, ax]) // chunks[ax] + 1)
                  for ax in (len(level_shape) - 2, len(level_shape) - 1))
        return {(y, x) for y in ry for x in rx}

    before: set[tuple[int, int]] = set()
    after: set[tuple[int, int]] = set()
    for b, a, shape in views.calls:
        if shape == level_shape:
            before |= cells(b)
            after |= cells(a)
    return len(before), len(after)


class ReaderClock:
    """Time spent inside the reader (napari's ``read_data_with_plugins``, or our reader
    function for the ``ours-dask`` variant)."""

    def __init__(self) -> None:
        import napari.plugins.io as nio

        import napari_chunkview._napari._reader as ours

        self.s = 0.0
        self.depth = 0
        clock = self

        def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*a: Any, **k: Any) -> Any:
                clock.depth += 1
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    clock.depth -= 1
                    if clock.depth == 0:  # the outermost call only
                        clock.s += time.perf_counter() - t0
            return wrapper

        nio.read_data_with_plugins = timed(nio.read_data_with_plugins)
        ours.read_pyramids = timed(ours.read_pyramids)


def case_first_frame(a: dict[str, Any]) -> dict[str, Any]:
    """Clock: ``viewer.open(path, plugin=...)`` until a painted canvas shows the level napari
    chose (viewer created and plugins imported before). ``reader_s`` is the part spent in
    the reader (layer data); the rest is napari adding the layer, slicing (chunk reads) and
    painting. Chunk reads: ours from the event stream (per level, virtual levels too),
    anchors from the files they open; ``file_reads`` counts stored chunk files for all."""
    reader, name = a["reader"], a["dataset"]
    canvas = tuple(a.get("canvas", (600, 800)))
    uri = a.get("uri") or str(D.path(name))
    if a.get("prime"):
        prime_page_cache(D.path(name))
    warm_imports(reader)
    viewer = make_viewer(canvas)
    views = Views()
    clock = ReaderClock()
    counter = FileReads(D.DATA)
    events: list[Any] = []
    if reader.startswith("ours"):
        from napari_chunkview.loading import EVENTS

        EVENTS.subscribe(events.append)
    http0 = _http_stats(uri, reset=True)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    layers = open_layers(viewer, reader, uri)
    t_open = time.perf_counter() - t0
    layer = layers[0]
    paints, img = paint_until_stable(viewer, layer)
    dt = time.perf_counter() - t0
    http1 = _http_stats(uri)
    out: dict[str, Any] = {
        "s": dt, "open_s": t_open, "reader_s": clock.s, "after_reader_s": dt - clock.s,
        "paints": paints,
        "viewbox": [int(v) for v in viewer.window._qt_viewer.canvas._current_viewbox_size],
        "rss_growth_mb": rss_mb() - rss0,
        "lit_fraction": float((img[..., :3].max(axis=-1) > 0).mean()),
        "array_type": type(layer.data[0] if layer.multiscale else layer.data).__name__,
    }
    if http1 is not None and http0 is not None:
        out["http_requests"] = http1["requests"] - http0["requests"]
        out["http_max_in_flight"] = http1["max_in_flight"]
    spec = D.DATASETS[name]
    levels = list(layer.data) if layer.multiscale else [layer.data]
    level = int(layer.data_level) if layer.multiscale else 0
    coarsest = len(levels) - 1
    out.update(level=level, n_levels=len(levels), stored_levels=spec["levels"])
    pyr = (layer.metadata or {}).get("pyramid")
    if pyr is not None:  # ours: chunk shapes and event names per (possibly virtual) level
        chunks = pyr.levels[level].grid.chunk_shape
        names = {lv.array.name: i for i, lv in enumerate(pyr.levels)}
        reads = [(names.get(e.source, -1), tuple(e.index)) for e in events
                 if e.kind == "requested"]
        out["cache_hits"] = sum(1 for e in events if e.kind == "cache_hit")
        # first request to last arrival of the chunks at the chosen level
        at = [e for e in events if names.get(e.source) == level]
        req = [e.t for e in at if e.kind == "requested"]
        fin = [e.t for e in at if e.kind in ("done", "missing", "failed")]
        if req and fin:
            out["level_fetch_s"] = max(fin) - min(req)
    else:
        chunks = spec["chunks"]
        reads = [(lv, idx) for _, lv, idx in map(chunk_index, counter.chunks())]
    view, rounded = _view_chunks(views, tuple(levels[level].shape), tuple(chunks))
    out["view_chunks"], out["napari_rounded_chunks"] = view, rounded
    out["chunk_reads"] = len(reads)
    out["reads_at_level"] = sum(1 for lv, _ in reads if lv == level)
    out["reads_at_coarsest"] = sum(1 for lv, _ in reads if lv == coarsest and lv != level)
    out["reads_other_levels"] = sum(1 for lv, _ in reads if lv not in (level, coarsest))
    nd = len(levels[level].shape)
    out["z_planes_at_level"] = len({i[0] for lv, i in reads if lv == level}) if nd > 2 else 1
    out["file_reads"] = len(counter.chunks())
    return out


def _http_stats(uri: str, reset: bool = False) -> dict[str, Any] | None:
    """The latency server's request counters (``reset`` zeroes them first)."""
    if not uri.startswith("http://"):
        return None
    import urllib.request

    base = uri.split("/", 3)
    what = "reset" if reset else "stats"
    with urllib.request.urlopen(f"{base[0]}//{base[2]}/_bench/{what}") as r:
        return json.loads(r.read())


def case_huge(a: dict[str, Any]) -> dict[str, Any]:
    """First frame of the single 65536² level (same clock as first_frame); the runner
    enforces the time limit and kills on a memory ceiling."""
    return case_first_frame({**a, "dataset": "huge"})


def case_browse(a: dict[str, Any]) -> dict[str, Any]:
    """After a first frame zoomed to 1 screen pixel per level-0 voxel (napari shows level
    0), step z ``steps`` times (half forward, half back), painting after each step."""
    reader = a["reader"]
    steps = int(a.get("steps", 100))
    warm_imports(reader)
    viewer = make_viewer(tuple(a.get("canvas", (600, 800))))
    counter = FileReads(D.DATA)
    stats = None
    if reader.startswith("ours"):
        from napari_chunkview.loading import CACHE, EVENTS, LoadStats

        stats = LoadStats()
        EVENTS.subscribe(stats)
    layer = open_layers(viewer, reader, str(D.path(a["dataset"])))[0]
    viewer.camera.zoom = 1.0
    paint_until_stable(viewer, layer)
    z0 = int(viewer.dims.current_step[0])
    rss_before = rss_mb()
    if stats is not None:
        stats.reset()
    counter.reset()
    peak = rss_before
    t0 = time.perf_counter()
    half = steps // 2
    path = [z0 + i for i in range(1, half + 1)]
    path += [z0 + half - i for i in range(1, steps - half + 1)]
    for z in path:
        viewer.dims.set_current_step(0, z)
        viewer.screenshot(canvas_only=True, flash=False)
        peak = max(peak, rss_mb())
    dt = time.perf_counter() - t0
    out: dict[str, Any] = {
        "s": dt, "ms_per_step": dt / steps * 1e3, "level": int(layer.data_level),
        "rss_before_mb": rss_before, "rss_peak_browse_mb": peak,
        "rss_growth_mb": peak - rss_before, "chunk_reads": len(counter.chunks()),
    }
    if stats is not None:
        snap = stats.snapshot()
        out.update({"cache_hit_rate": snap["cache_hit_rate"], "cache_hits": snap["cache_hits"],
                    "requested": snap["requested"], "cache_mb": CACHE.max_bytes / 2**20,
                    "cache_used_mb": CACHE.nbytes / 2**20, "evictions": CACHE.evictions})
    return out


# -- direct reads ---------------------------------------------------------------------------
def _region(name: str, op: str) -> tuple[int, tuple[slice, ...], tuple[slice, ...]]:
    """(level, region measured, a different region of the same size to warm up with)."""
    shape = D.level_shape(name, 0)
    if op == "level":
        warm = (slice(0, 64), slice(0, 256), slice(0, 256))
        return 0, tuple(slice(0, s) for s in shape), warm
    zmid = shape[0] // 2
    if op == "slice":  # one whole z-plane
        return 0, (zmid, slice(None), slice(None)), (zmid - 64, slice(None), slice(None))
    if op == "view":  # a 1024×1024 viewport (256 chunks of 64²)
        cy, cx = shape[1] // 2, shape[2] // 2
        sl = (slice(cy - 512, cy + 512), slice(cx - 512, cx + 512))
        return 0, (zmid, *sl), (zmid - 64, *sl)
    if op == "zrun":  # the 64 z-planes of one chunk row, read one after another
        z0 = (zmid // 64) * 64
        return 0, (z0, slice(None), slice(None)), (z0 - 64, slice(None), slice(None))
    if op == "overview":  # every 64th element along each axis: a sample in every chunk
        return 0, tuple(slice(0, s, 64) for s in shape), tuple(slice(0, 64) for _ in shape)
    if op == "view64":  # a 512×512 viewport (64 chunks of 64²)
        cy, cx = shape[1] // 2, shape[2] // 2
        sl = (slice(cy - 256, cy + 256), slice(cx - 256, cx + 256))
        return 0, (zmid, *sl), (zmid - 64, *sl)
    raise ValueError(op)


def _engine(engine: str, uri: str, name: str, concurrency: int | None) -> Callable[[Any], Any]:
    """A function region → numpy array, for one engine, opened outside the clock."""
    fmt = D.DATASETS[name]["zarr_format"]
    if engine in ("ours", "ours-dask"):
        if concurrency is not None:
            _set_our_concurrency(concurrency)
        import napari_chunkview as nc

        pyr = nc.open_pyramid(uri)
        # the compiled reader of small chunks, ready before the clock like the other
        # engines' set-up (in napari it is prepared in the background on the first read)
        from napari_chunkview.loading import warm_up

        warm_up()
        if engine == "ours":
            import numpy as np

            arr = pyr.levels[0].array
            return lambda r: np.asarray(arr[r])  # basic slicing is lazy: read it
        darr = pyr.levels[0].data
        return lambda r: darr[r].compute()
    if engine in ("zarr", "dask"):
        import zarr

        if concurrency is not None:
            zarr.config.set({"async.concurrency": concurrency})
        z = zarr.open_array(f"{uri}/0", mode="r") if not uri.startswith("http") else \
            zarr.open_array(zarr.storage.FsspecStore.from_url(f"{uri}/0", read_only=True), mode="r")
        if engine == "zarr":
            return lambda r: z[r]
        import dask.array as da

        darr = da.from_zarr(z)  # what napari-ome-zarr and napari's builtin reader hand napari
        return lambda r: darr[r].compute()
    if engine == "tensorstore":
        import tensorstore as ts

        if uri.startswith("http"):
            kv = {"driver": "http", "base_url": f"{uri}/0/"}
        else:
            kv = {"driver": "file", "path": f"{uri}/0/"}
        ctx: dict[str, Any] = {"cache_pool": {"total_bytes_limit": 0}}
        if concurrency is not None:
            ctx["http_request_concurrency"] = {"limit": concurrency}
        t = ts.open({"driver": "zarr" if fmt == 2 else "zarr3", "kvstore": kv,
                     "context": ctx, "open": True}, read=True).result()
        return lambda r: t[r].read().result()
    raise ValueError(engine)


def _set_our_concurrency(n: int) -> None:
    """Chunks in flight = fetch batch × pool workers (no public knob yet: module globals
    and the module's pool getter)."""
    from concurrent.futures import ThreadPoolExecutor

    import napari_chunkview.loading._level_array as la

    batch = min(n, 16)
    la._LOCAL_BATCH = la._REMOTE_BATCH = batch
    pool = ThreadPoolExecutor(max_workers=max(1, n // batch), thread_name_prefix="bench")
    la._pool = lambda: pool


def case_read(a: dict[str, Any]) -> dict[str, Any]:
    """Clock: one read of each region in ``ops``, in order (the engine opened, the region
    read once so that its files are in the page cache for every engine, and the engine
    warmed up on another region of the same size, all outside the clock; our chunk cache
    cleared before each op). Results per op: ``<op>_s``, ``<op>_mb_per_s``, ...; with ``check``,
    small regions are compared with the generator."""
    engine, name = a["engine"], a["dataset"]
    ops = a.get("ops") or [a["op"]]
    uri = a.get("uri") or str(D.path(name))
    read = _engine(engine, uri, name, a.get("concurrency"))
    res: dict[str, Any] = {}
    # our reads are not counted here: the listener that counts them would turn on the
    # event stream (napari with the inspector open); plain reads are measured
    counter = FileReads(D.DATA, ours=False)
    for op in ops:
        lv, region, warm = _region(name, op)
        if not a.get("cold"):
            # the measured region's files into the page cache for every engine alike (the
            # order of the runs must not decide who reads from disk), then a different
            # region of the same size to warm the engine itself; our chunk cache is
            # cleared below
            read(region)
            read(warm)
        if engine.startswith("ours"):
            from napari_chunkview.loading import CACHE, settle

            settle()  # the warm-up's read-ahead, if any, must not fill the cleared cache
            CACHE.clear()
        counter.reset()
        http0 = _http_stats(uri, reset=True)
        t0 = time.perf_counter()
        if op == "zrun":  # 64 consecutive z-planes, one after another, as a user browses
            z0 = region[0]
            for z in range(z0, z0 + 64):
                out_arr = read((z, *region[1:]))
            dt = time.perf_counter() - t0
            res.update({"zrun_s": dt, "zrun_mb_per_s": 64 * out_arr.nbytes / 1e6 / dt,
                        "zrun_chunk_reads": None if engine.startswith("ours")
                        else len(counter.chunks())})
            continue
        out_arr = read(region)
        dt = time.perf_counter() - t0
        res.update({f"{op}_s": dt, f"{op}_mb_per_s": out_arr.nbytes / 1e6 / dt,
                    f"{op}_chunk_reads": None if engine.startswith("ours")
                    else len(counter.chunks())})
        if engine.startswith("ours"):
            # a thin read answers first and reads its whole chunks into the cache after
            # (read-ahead): how long that goes on once the answer is in, off the clock
            t1 = time.perf_counter()
            settle()
            res[f"{op}_ahead_s"] = time.perf_counter() - t1
        http1 = _http_stats(uri)
        if http0 is not None and http1 is not None:
            res[f"{op}_http_requests"] = http1["requests"] - http0["requests"]
            res[f"{op}_http_max_in_flight"] = http1["max_in_flight"]
        if a.get("check") and out_arr.nbytes <= 64 << 20:
            import numpy as np

            box = []
            for s_, n in zip(region, D.level_shape(name, lv), strict=True):
                box.append((s_, s_ + 1) if isinstance(s_, int) else s_.indices(n)[:2])
            ref = D.block(name, lv, box).reshape(out_arr.shape)
            res[f"{op}_correct"] = bool(np.array_equal(ref, out_arr))
        del out_arr
    res["s"] = res[f"{ops[0]}_s"]
    return res


def case_http_open(a: dict[str, Any]) -> dict[str, Any]:
    """Clock: open_pyramid over HTTP (metadata only); requests counted by the server."""
    import napari_chunkview as nc

    uri = a["uri"]
    h0 = _http_stats(uri, reset=True)
    t0 = time.perf_counter()
    nc.open_pyramid(uri)
    dt = time.perf_counter() - t0
    h1 = _http_stats(uri)
    return {"s": dt, "http_requests": h1["requests"] - h0["requests"] - 0}


CASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "open": case_open,
    "first_frame": case_first_frame,
    "huge": case_huge,
    "browse": case_browse,
    "read": case_read,
    "http_open": case_http_open,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    if args.get("cache_mb"):
        os.environ["CHUNKVIEW_CACHE_MB"] = str(args["cache_mb"])
    result = CASES[name](args)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), flush=True)
    # skip interpreter teardown (Qt/vispy at exit is slow and sometimes noisy)
    os._exit(0)


if __name__ == "__main__":
    main()

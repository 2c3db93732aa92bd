"""Benchmarks of napari-chunkview against its anchors, in fresh processes; one table.

    python benchmarks/run.py [--quick] [--only NAME ...] [--runs N]

NAME is one of: open, first_frame, throughput, huge, browse, http. Each measurement runs
in N fresh processes (5; --quick: 3), the runs of all variants interleaved, and the
table shows medians. Data is written first if missing (benchmarks/data.py). Full results
go to benchmarks/results/<time>.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import data as D  # noqa: E402

CASES = HERE / "_cases.py"
LATENCY_MS = 50.0


@dataclass
class Variant:
    key: str
    case: str
    args: dict[str, Any]
    xvfb: bool = False
    runs: int | None = None  # None: the run count of the whole run
    timeout: float = 120.0
    rss_limit_mb: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if "killed" not in r and "error" not in r]

    def med(self, metric: str) -> float | None:
        vals = [r[metric] for r in self.ok() if isinstance(r.get(metric), int | float)]
        return statistics.median(vals) if vals else None

    def killed(self) -> dict[str, Any] | None:
        return next((r for r in self.results if "killed" in r), None)


# -- running one process ------------------------------------------------------------------
def _tree_rss_mb(pid: int) -> float:
    """Largest RSS among the python processes under ``pid`` (the measured one)."""
    import psutil

    best = 0.0
    try:
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                if "python" in p.name():
                    best = max(best, p.memory_info().rss / 2**20)
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return best


def run_once(v: Variant, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, str(CASES), v.case, json.dumps(v.args)]
    if v.xvfb:
        cmd = ["xvfb-run", "-a", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
               for s, b in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
    for t in readers:
        t.start()
    peak = 0.0
    killed = None
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        elapsed = time.perf_counter() - t0
        if elapsed > v.timeout:
            killed = "timeout"
        elif v.rss_limit_mb and peak > v.rss_limit_mb:
            killed = "rss"
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    for t in readers:
        t.join(5)
    out, err = "".join(out_chunks), "".join(err_chunks)
    if killed:
        return {"killed": killed, "wall_s": wall, "polled_peak_rss_mb": peak}
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("RESULT ")), None)
    if line is None:
        tail = "\n".join((err or out).strip().splitlines()[-6:])
        return {"error": f"exit {proc.returncode}: {tail}", "wall_s": wall}
    res = json.loads(line[len("RESULT "):])
    res["wall_s"] = wall
    res["polled_peak_rss_mb"] = peak
    return res


# -- formatting ---------------------------------------------------------------------------
def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1e3:.0f} ms" if x < 1 else f"{x:.2f} s"


def fmt_time(v: Variant, metric: str = "s") -> str:
    k = v.killed()
    if k is not None and not v.ok():
        what = "time limit" if k["killed"] == "timeout" else "memory ceiling"
        rss = k["polled_peak_rss_mb"] / 1024
        return f"> {k['wall_s']:.0f} s (killed at {what}, RSS {rss:.1f} GiB)"
    return fmt_s(v.med(metric))


def fmt_n(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}"


def fmt_mbs(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f} MB/s"


def yes(cond: bool | None) -> str:
    return "n/a" if cond is None else ("yes" if cond else "NO")


Row = tuple[str, str, str, str, str, str]


# -- the benchmarks -------------------------------------------------------------------------
class Bench:
    name = ""

    def variants(self, ctx: Context) -> list[Variant]:
        raise NotImplementedError

    def rows(self, ctx: Context) -> list[Row]:
        raise NotImplementedError


class OpenBench(Bench):
    """Reader call → layer data on the 10⁶-chunk pyramid (`open` case)."""

    name = "open"
    readers = ("ours", "ome-zarr", "builtin")

    def variants(self, ctx: Context) -> list[Variant]:
        self.v = {r: Variant(f"open/{r}", "open", {"reader": r, "dataset": "big"}, timeout=120)
                  for r in self.readers}
        return list(self.v.values())

    def rows(self, ctx: Context) -> list[Row]:
        o, z, b = (self.v[r] for r in self.readers)
        rows: list[Row] = []
        # The target is the open a user waits for: the first in the process. A
        # repeat open (a few ms for every reader) is reported for information only.
        for metric, label, target in (
            ("s", "first open in the process (plugin import included)", True),
            ("again_s", "same open again in that process", False),
        ):
            ours, oz = o.med(metric), z.med(metric)
            ratio = oz / ours if ours and oz else None
            rows.append((
                f"open 10⁶-chunk pyramid: {label}", fmt_s(ours),
                f"ome-zarr {fmt_s(oz)}; builtin {fmt_s(b.med(metric))}",
                f"ome-zarr/ours {ratio:.2f}×" if ratio else "—",
                "≤ 0.3 s and ≥ 10× faster than ome-zarr" if target else "(reported)",
                yes(ours is not None and ours <= 0.3 and ratio is not None and ratio >= 10)
                if target else "n/a",
            ))
        n = o.med("chunk_reads")
        rows.append((
            "chunk reads during open", f"{fmt_n(n)} (+{fmt_n(o.med('metadata_reads'))} metadata)",
            f"ome-zarr {fmt_n(z.med('chunk_reads'))}; builtin {fmt_n(b.med('chunk_reads'))}",
            "—", "0", yes(n == 0 if n is not None else None),
        ))
        return rows


OURS_NAPARI = (("ours", "reader"), ("ours-dask", "same with Level.data (dask)"))


class FirstFrameBench(Bench):
    """viewer.open → painted frame at the level napari picks (`first_frame` case)."""

    name = "first_frame"
    readers = ("ours", "ours-dask", "ome-zarr", "builtin")

    def variants(self, ctx: Context) -> list[Variant]:
        self.v = {r: Variant(f"first_frame/{r}", "first_frame",
                             {"reader": r, "dataset": "big", "canvas": [600, 800]},
                             xvfb=True, timeout=180,
                             runs=min(3, ctx.runs) if r == "ours-dask" else None)
                  for r in self.readers}
        return list(self.v.values())

    @staticmethod
    def reads(v: Variant) -> str:
        r = v.ok()[-1] if v.ok() else None
        if r is None:
            return "—"
        zp = r["z_planes_at_level"]
        return (f"{r['chunk_reads']} = {r['reads_at_level']} at L{r['level']} "
                f"({zp} z-plane{'s' if zp != 1 else ''}) + {r['reads_at_coarsest']} coarsest"
                + (f" + {r['reads_other_levels']} other" if r["reads_other_levels"] else "")
                + (f" [{r['file_reads']} files]" if r.get("file_reads") else ""))

    def rows(self, ctx: Context) -> list[Row]:
        z, b = self.v["ome-zarr"], self.v["builtin"]
        best = min((x for x in (z.med("s"), b.med("s")) if x is not None), default=None)
        ours = self.v["ours"].med("s")
        cell = "; ".join(f"{label} {fmt_s(self.v[k].med('s'))} (reader "
                         f"{fmt_s(self.v[k].med('reader_s'))})" for k, label in OURS_NAPARI)
        ratios = "; ".join(f"{best / self.v[k].med('s'):.2f}×" for k, _ in OURS_NAPARI
                           if best and self.v[k].med("s"))
        rows: list[Row] = [(
            "first frame, 2D view of the 10⁶-chunk pyramid (canvas 600×800)", cell,
            f"ome-zarr {fmt_s(z.med('s'))} (reader {fmt_s(z.med('reader_s'))}); builtin "
            f"{fmt_s(b.med('s'))} (reader {fmt_s(b.med('reader_s'))})",
            f"best anchor/ours {ratios}" if ours and best else "—",
            "(no number given)", "n/a",
        )]
        r = self.v["ours"].ok()[-1] if self.v["ours"].ok() else None
        need = "—" if r is None else f"view needs {r['view_chunks']} at L{r['level']}"
        exact = None if r is None else (r["reads_at_level"] == r["view_chunks"]
                                        and r["z_planes_at_level"] == 1
                                        and r["reads_other_levels"] == 0)
        cell = "; ".join(f"{label}: {self.reads(self.v[k])}" for k, label in OURS_NAPARI)
        rows.append((f"chunks read for that first frame ({need})", cell,
                     f"ome-zarr {self.reads(z)}; builtin {self.reads(b)}", "—",
                     "= chunks in view at the chosen level (reader)", yes(exact)))
        return rows


class ThroughputBench(Bench):
    """Direct reads, engines side by side (`read` case, several ops per process)."""

    name = "throughput"
    engines = ("ours", "ours-dask", "zarr", "tensorstore", "dask")
    sets = (("small", ("slice", "zrun", "level"), engines),
            ("small_v05", ("slice", "zrun", "level"), ("ours", "ours-dask", "zarr", "tensorstore")),
            ("big", ("view", "slice"), engines))

    def variants(self, ctx: Context) -> list[Variant]:
        self.v: dict[tuple[str, str], Variant] = {}
        few = min(3, ctx.runs)  # secondary variants: fewer runs to keep the budget
        for ds, ops, engines in self.sets:
            for e in engines:
                self.v[(ds, e)] = Variant(f"read/{ds}/{e}", "read",
                                          {"engine": e, "dataset": ds, "ops": list(ops),
                                           "check": True}, timeout=300,
                                          runs=1 if (ds, e) == ("small", "dask") else
                                          few if ds == "small_v05" or e == "dask" else None)
        return list(self.v.values())

    LABELS: ClassVar[dict[tuple[str, str], str]] = {
        ("small", "slice"): "2D z-slice 1024², 64³ chunks (256 chunks), zarr v2",
        ("small", "zrun"): "64 consecutive z-slices 1024² (browsing one chunk row), zarr v2",
        ("small", "level"): "full level 512×1024² (1 GiB, 2048 chunks), zarr v2",
        ("small_v05", "zrun"): "64 consecutive z-slices, sharded zarr v3 (NGFF 0.5)",
        ("small_v05", "slice"): "2D z-slice 1024², sharded zarr v3 (NGFF 0.5)",
        ("small_v05", "level"): "full level 1 GiB, sharded zarr v3 (NGFF 0.5)",
        ("big", "view"): "10⁶-chunk level: one 1024² view (256 chunks of 64²)",
        ("big", "slice"): "10⁶-chunk level: one whole 2048² z-plane (1024 chunks)",
    }

    def rows(self, ctx: Context) -> list[Row]:
        rows: list[Row] = []
        for ds, ops, engines in self.sets:
            for op in ops:
                m = f"{op}_mb_per_s"
                ours, od = self.v[(ds, "ours")].med(m), self.v[(ds, "ours-dask")].med(m)
                zr, tsr = self.v[(ds, "zarr")].med(m), self.v[(ds, "tensorstore")].med(m)
                ref = max((x for x in (zr, tsr) if x is not None), default=None)
                anchors = f"zarr {fmt_mbs(zr)}; tensorstore {fmt_mbs(tsr)}"
                if (ds, "dask") in self.v:
                    anchors += f"; dask.from_zarr {fmt_mbs(self.v[(ds, 'dask')].med(m))}"
                bad = [e for e in engines
                       if any(r.get(f"{op}_correct") is False for r in self.v[(ds, e)].ok())]
                ours_txt = f"array {fmt_mbs(ours)}; dask {fmt_mbs(od)}"
                ahead = self.v[(ds, "ours")].med(f"{op}_ahead_s")
                if ahead and ahead >= 1e-3:  # thin reads: whole chunks cached after the answer
                    ours_txt += f" (then {fmt_s(ahead)} of read-ahead)"
                if bad:
                    ours_txt += f" (WRONG DATA: {', '.join(bad)})"
                if ds == "big" and op == "view":
                    t_ours = self.v[(ds, "ours")].med(f"{op}_s")
                    t_od = self.v[(ds, "ours-dask")].med(f"{op}_s")
                    t_ref = min((x for x in (self.v[(ds, "zarr")].med(f"{op}_s"),
                                             self.v[(ds, "tensorstore")].med(f"{op}_s"))
                                 if x is not None), default=None)
                    ratio = t_ours / t_ref if t_ours and t_ref else None
                    rows.append((
                        self.LABELS[(ds, op)],
                        f"array {fmt_s(t_ours)}; dask {fmt_s(t_od)}",
                        f"zarr {fmt_s(self.v[(ds, 'zarr')].med(f'{op}_s'))}; tensorstore "
                        f"{fmt_s(self.v[(ds, 'tensorstore')].med(f'{op}_s'))}; dask.from_zarr "
                        f"{fmt_s(self.v[(ds, 'dask')].med(f'{op}_s'))}",
                        f"ours/fastest direct {ratio:.2f}× (dask {t_od / t_ref:.2f}×)"
                        if ratio and t_od else "—",
                        "≤ 1.5× reading its chunks directly", yes(ratio <= 1.5 if ratio else None),
                    ))
                    continue
                ratio = ours / ref if ours and ref else None
                rows.append((
                    self.LABELS[(ds, op)], ours_txt, anchors,
                    f"ours/faster direct {ratio:.2f}× (dask {od / ref:.2f}×)"
                    if ratio and od else "—",
                    "≥ 0.8× the faster direct", yes(ratio >= 0.8 if ratio else None),
                ))
        return rows


class HugeBench(Bench):
    """First frame of the single 65536² level, ours vs napari builtin (`huge` case)."""

    name = "huge"

    def variants(self, ctx: Context) -> list[Variant]:
        lim = ctx.args.huge_timeout  # the anchor's; ours gets 3× as long before it is killed
        args = {"canvas": [600, 800], "prime": True}
        self.v = {r: Variant(f"huge/{r}", "huge", {"reader": r, **args},
                             xvfb=True, timeout=lim * (3 if r == "ours" else 1),
                             rss_limit_mb=ctx.args.huge_rss_gib * 1024,
                             runs=min(3, ctx.runs))
                  for r in ("ours", "builtin")}
        # the decode floor: the first frame shows every 64th element, i.e. a sample from
        # every stored chunk; tensorstore reading just that, without napari
        self.v["floor"] = Variant("huge/tensorstore-overview", "read",
                                  {"engine": "tensorstore", "dataset": "huge",
                                   "ops": ["overview"]}, timeout=lim,
                                  runs=min(3, ctx.runs))
        return list(self.v.values())

    def rows(self, ctx: Context) -> list[Row]:
        o, b = self.v["ours"], self.v["builtin"]

        def rss(v: Variant) -> tuple[str, float | None]:
            k = v.killed()
            if k is not None and not v.ok():
                return f"> {k['polled_peak_rss_mb'] / 1024:.1f} GiB (killed)", None
            x = v.med("peak_rss_mb")
            return ("—", None) if x is None else (f"{x / 1024:.2f} GiB", x)

        ot, bt = o.med("s"), b.med("s")
        o_rss, o_x = rss(o)
        b_rss, _ = rss(b)
        r = o.ok()[-1] if o.ok() else None
        how = "" if r is None else (
            f" (reader {fmt_s(o.med('reader_s'))}; shown at level {r['level']} of "
            f"{r['n_levels']}, {r['stored_levels']} stored; {r['file_reads']} stored chunks read)")
        return [
            ("single 65536² level: first frame", fmt_time(o) + how,
             f"builtin {fmt_time(b)} (issue: 104 s); decode floor: tensorstore reading "
             f"every 64th element (a sample in each of the 4096 chunks) "
             f"{fmt_s(self.v['floor'].med('s'))}",
             f"builtin/ours {bt / ot:.1f}×" if ot and bt else "—", "< 2 s",
             yes(ot < 2 if ot is not None else (False if o.killed() else None))),
            ("single 65536² level: peak RSS", o_rss, f"builtin {b_rss} (issue: 12.9 GB)", "—",
             "< 1 GiB", yes(o_x < 1024 if o_x is not None else (False if o.killed() else None))),
        ]


class BrowseBench(Bench):
    """100 z-steps at level 0 (zoom 1), half forward, half back (`browse` case)."""

    name = "browse"
    OVERHEAD_MB = 128

    def variants(self, ctx: Context) -> list[Variant]:
        cache = ctx.args.browse_cache_mb
        self.v = {r: Variant(f"browse/{r}", "browse",
                             {"reader": r, "dataset": "big", "steps": 100, "cache_mb": cache},
                             xvfb=True, timeout=300, rss_limit_mb=8192,
                             runs=min(3, ctx.runs) if r == "ours" else 1)
                  for r in ("ours", "ours-dask")}
        self.v["ome-zarr"] = Variant("browse/ome-zarr", "browse",
                                     {"reader": "ome-zarr", "dataset": "big", "steps": 6},
                                     xvfb=True, timeout=180, runs=1)
        return list(self.v.values())

    def rows(self, ctx: Context) -> list[Row]:
        o, lz, z = self.v["ours"], self.v["ours-dask"], self.v["ome-zarr"]
        cache = o.med("cache_mb") or lz.med("cache_mb")

        def mem(v: Variant) -> str:
            return f"+{fmt_n(v.med('rss_growth_mb'))} MiB, {fmt_n(v.med('ms_per_step'))} ms/step"

        def within(v: Variant) -> bool | None:
            g = v.med("rss_growth_mb")
            return None if g is None or cache is None else g <= cache + self.OVERHEAD_MB

        def hits(v: Variant) -> str:
            h, n = v.med("cache_hit_rate"), v.med("chunk_reads")
            return "—" if h is None else f"{h:.0%} hits, {fmt_n(n / 100 if n else 0)} reads/step"

        return [
            (f"browse 100 z-steps at level 0: RSS growth (our cache {fmt_n(cache)} MiB)",
             f"reader {mem(o)}; with Level.data (dask) {mem(lz)}",
             f"ome-zarr {mem(z)} (6 steps, 1 run)", "—",
             f"≤ cache + {self.OVERHEAD_MB} MiB (reader)", yes(within(o))),
            ("browse 100 z-steps: cache hit rate, chunk reads per step",
             f"reader {hits(o)}; with Level.data (dask) {hits(lz)}",
             f"ome-zarr (no cache) {fmt_n((z.med('chunk_reads') or 0) / 6)} reads/step", "—",
             "(reported)", "n/a"),
        ]


class HttpBench(Bench):
    """A 64-chunk view over HTTP with 50 ms per request, vs concurrency (`read`)."""

    name = "http"
    sweep = (1, 4, 16, 64)

    def variants(self, ctx: Context) -> list[Variant]:
        uri = f"{ctx.http_base()}/big.ome.zarr"
        base = {"dataset": "big", "ops": ["view64"], "uri": uri, "check": True}
        self.v: dict[str, Variant] = {}
        for c in self.sweep:
            self.v[f"ours@{c}"] = Variant(f"http/ours@{c}", "read",
                                          {**base, "engine": "ours", "concurrency": c}, runs=1)
        for e in ("ours", "zarr", "tensorstore", "dask"):
            self.v[e] = Variant(f"http/{e}", "read", {**base, "engine": e}, timeout=120,
                                runs=1 if e == "dask" else None)
        self.v["open"] = Variant("http/open", "http_open", {"uri": uri})
        for r in ("ours", "ours-dask"):
            self.v[f"ff/{r}"] = Variant(f"http/first_frame/{r}", "first_frame",
                                        {"reader": r, "dataset": "big", "uri": uri,
                                         "canvas": [512, 512]}, xvfb=True, timeout=180,
                                        runs=min(3, ctx.runs) if r == "ours" else 1)
        return list(self.v.values())

    def rows(self, ctx: Context) -> list[Row]:
        lat = LATENCY_MS / 1e3
        o, op = self.v["ours"], self.v["open"]
        t = o.med("view64_s")
        sweep = "; ".join(f"{c}: {fmt_s(self.v[f'ours@{c}'].med('view64_s'))}" for c in self.sweep)
        anchors = "; ".join(f"{e} {fmt_s(self.v[e].med('view64_s'))} "
                            f"({fmt_n(self.v[e].med('view64_http_max_in_flight'))} in flight)"
                            for e in ("zarr", "tensorstore", "dask"))
        rows: list[Row] = [
            ("HTTP +50 ms: 64-chunk view, in-flight limit sweep (1 run each)",
             sweep, "—", "—", "faster with more in flight", "n/a"),
            ("HTTP +50 ms: 64-chunk view, default settings",
             f"{fmt_s(t)} ({fmt_n(o.med('view64_http_requests'))} requests, "
             f"{fmt_n(o.med('view64_http_max_in_flight'))} in flight)", anchors,
             f"{t / lat:.1f}× latency" if t else "—", "< 6× latency (300 ms)",
             yes(t < 6 * lat if t else None)),
            ("HTTP +50 ms: open (metadata only)",
             f"{fmt_s(op.med('s'))} ({fmt_n(op.med('http_requests'))} requests)",
             "—", f"{op.med('s') / lat:.0f}× latency" if op.med("s") else "—",
             "(none given)", "n/a"),
        ]
        for k, label in OURS_NAPARI:
            ff = self.v.get(f"ff/{k}")
            if ff is None:
                continue
            r = ff.ok()[-1] if ff.ok() else {}
            fetch = ff.med("level_fetch_s")
            rows.append((
                f"HTTP +50 ms: napari first frame, canvas 512², {label}",
                f"{fmt_s(ff.med('s'))} = reader {fmt_s(ff.med('reader_s'))} + napari adds, "
                f"slices, paints {fmt_s(ff.med('after_reader_s'))}, of which the view's "
                f"chunks arrive in {fmt_s(fetch)}; {r.get('http_requests', '—')} requests; "
                f"{FirstFrameBench.reads(ff)}; view needs {r.get('view_chunks', '—')}",
                "—", f"view chunks {fetch / lat:.1f}× latency" if fetch else "—",
                # the target is napari's first frame through our reader; Level.data reads
                # whole dask blocks (16 z-planes here), so it is reported beside it
                "≤ 64 chunks in view: < 6× latency" if k == "ours" else "(reported)",
                yes(fetch < 6 * lat if fetch else None) if k == "ours" else "n/a",
            ))
        return rows


BENCHES: dict[str, type[Bench]] = {b.name: b for b in (
    OpenBench, FirstFrameBench, ThroughputBench, HugeBench, BrowseBench, HttpBench)}


class Context:
    def __init__(self, args: argparse.Namespace, runs: int) -> None:
        self.args = args
        self.runs = runs
        self._http: subprocess.Popen[str] | None = None
        self._base: str | None = None

    def http_base(self) -> str:
        if self._base is None:
            self._http = subprocess.Popen(
                [sys.executable, str(HERE / "_http.py"), str(D.DATA), str(LATENCY_MS)],
                stdout=subprocess.PIPE, text=True)
            assert self._http.stdout is not None
            line = self._http.stdout.readline().split()
            self._base = f"http://127.0.0.1:{line[1]}"
        return self._base

    def close(self) -> None:
        if self._http is not None:
            self._http.terminate()
            self._http.wait(5)


def compile_plugin() -> str:
    """Byte-compile napari-chunkview's sources, as ``pip install`` does for an installed
    package (the anchors, installed from wheels, have their ``.pyc`` files). An editable
    install under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every module in
    the clock of the first open (about 50 ms of the ~100 ms measured before this)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("napari_chunkview")
    assert spec is not None and spec.submodule_search_locations
    where = next(iter(spec.submodule_search_locations))
    compileall.compile_dir(where, quiet=1)
    return where


def table(rows: list[Row]) -> str:
    head: Row = ("benchmark", "ours", "anchor(s)", "ratio", "target", "met?")
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def retable(args: argparse.Namespace) -> int:
    """The table of a saved run, with this version's rows and targets."""
    saved = json.loads(args.table.read_text())
    ctx = Context(args, saved["runs"])
    ctx._base = "http://127.0.0.1:0"  # names the variants only: no server is started
    done = saved["variants"]
    rows: list[Row] = []
    for b in (bench() for bench in BENCHES.values()):
        variants = b.variants(ctx)
        if not any(v.key in done for v in variants):
            continue  # not run then (--only)
        for v in variants:
            v.results = list(done.get(v.key, {}).get("results", []))
        rows += b.rows(ctx)
    print(table(rows))
    print(f"{saved['runs']} fresh processes per measurement (medians), "
          f"{saved['total_s'] / 60:.1f} min: {args.table}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 runs per measurement instead of 5")
    ap.add_argument("--runs", type=int, help="runs per measurement (overrides --quick)")
    ap.add_argument("--only", action="append", choices=sorted(BENCHES), metavar="NAME",
                    help=f"run only these ({', '.join(BENCHES)}); repeatable")
    ap.add_argument("--huge-timeout", type=float, default=30.0,
                    help="time limit of napari builtin's 65536² first frame (s; ours: 3×)")
    ap.add_argument("--huge-rss-gib", type=float, default=8.0,
                    help="memory ceiling of one 65536² run (GiB): killed above it")
    ap.add_argument("--browse-cache-mb", type=float, default=32.0)
    ap.add_argument("--table", type=Path, metavar="RESULTS_JSON",
                    help="print the table of an earlier run (benchmarks/results/*.json); "
                    "runs nothing")
    args = ap.parse_args(argv)
    if args.table is not None:
        return retable(args)
    runs = args.runs or (3 if args.quick else 5)
    if not shutil.which("xvfb-run"):
        print("xvfb-run not found: apt-get install xvfb xauth", file=sys.stderr)
        return 2
    names = args.only or list(BENCHES)
    needs = {"open": ["big"], "first_frame": ["big"], "throughput": ["small", "small_v05", "big"],
             "huge": ["huge"], "browse": ["big"], "http": ["big"]}
    for ds in dict.fromkeys(d for n in names for d in needs[n]):
        D.ensure(ds, log=lambda m: print(m, file=sys.stderr, flush=True))

    compiled = compile_plugin()
    ctx = Context(args, runs)
    benches = [BENCHES[n]() for n in names]
    variants = [v for b in benches for v in b.variants(ctx)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "CHUNKVIEW_BENCH_DATA": str(D.DATA)}
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0]
    try:
        for i in range(runs):  # interleaved: run i of every variant, then run i + 1
            for v in variants:
                if i >= (v.runs or runs) or (v.results and "killed" in v.results[-1]):
                    continue
                r = run_once(v, env)
                v.results.append(r)
                brief = r.get("killed") or r.get("error", "")[:300] or fmt_s(r.get("s"))
                print(f"[{i + 1}/{runs}] {v.key}: {brief} ({r['wall_s']:.1f} s wall)",
                      file=sys.stderr, flush=True)
    finally:
        ctx.close()
    total = time.perf_counter() - t_start
    rows = [row for b in benches for row in b.rows(ctx)]
    print()
    print(table(rows))
    print()
    errors = [(v.key, r["error"]) for v in variants for r in v.results if "error" in r]
    for key, err in errors:
        print(f"ERROR in {key}: {err}")
    fewer = sorted({f"{v.key} ({len(v.results)})" for v in variants if len(v.results) < runs})
    if fewer:
        print("fewer runs (budget, or killed): " + ", ".join(fewer))
    print(f"{runs} fresh processes per measurement (medians); {len(variants)} variants; "
          f"{total / 60:.1f} min; load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end; {os.cpu_count()} cores; plugin byte-compiled "
          f"({compiled}).")
    outdir = HERE / "results"
    outdir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (outdir / f"{stamp}.json").write_text(json.dumps({
        "runs": runs, "total_s": total, "rows": rows,
        "variants": {v.key: {"case": v.case, "args": v.args, "results": v.results}
                     for v in variants},
    }, indent=1, default=str))
    print(f"all results: {outdir / (stamp + '.json')}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

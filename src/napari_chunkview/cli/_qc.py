"""``chunkview qc URI``: run the quality checks and report, ranked by severity.

Exit status: 0 when no error was found (warnings and notes are printed but do not fail
the run, unless ``--strict``), 1 when an error was found (or, with ``--strict``, a
warning; also when the dataset cannot be opened), 130 when interrupted with Ctrl-C (the
partial report is still printed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..model import ChunkviewError, UnsupportedError

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "qc",
        help="check a dataset: metadata, pyramid, chunks, statistics",
        description="Check URI (an N5 / Zarr / OME-Zarr folder, .zarr.zip or URL): metadata "
        "against its spec, pyramid consistency, every chunk (or a sample), intensity "
        "statistics and storage figures. Exits 0 when no error is found, 1 when one is (with "
        "--strict also on warnings), 130 when interrupted (the partial report is printed).",
    )
    p.add_argument("uri", metavar="URI", help="dataset to check")
    p.add_argument("--level", type=int, metavar="N", help="scan only level N (0 = full resolution)")
    p.add_argument(
        "--sample", type=_fraction, metavar="F",
        help="read a random fraction F (0-1] of each level's chunks instead of all",
    )
    p.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="scan on a dask.distributed cluster (e.g. tcp://127.0.0.1:8786)",
    )
    p.add_argument("--workers", type=int, metavar="N", help="threads of the local scheduler")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report to FILE")
    p.set_defaults(run=run)


def require(module: str, what: str) -> None:
    """A clear error (exit 1) instead of an ImportError when an optional dependency of
    the ``qc`` extra is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UnsupportedError(
            f"{what} needs {module}: pip install 'napari-chunkview[qc]'"
        )


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in (0, 1]")
    return value


# -- progress on stderr, Ctrl-C as cancel ------------------------------------------------------
@contextlib.contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(phase, done, total)`` callback drawing one rich bar per phase on
    stderr (transient; nothing is drawn when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    bars = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bars.add_task(phase, total=total or None)
        bars.update(tasks[phase], completed=done, total=total or None)

    with bars:
        yield update


@contextlib.contextmanager
def ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets ``cancel`` (the run stops cleanly and reports what it
    found); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("chunkview: stopping (Ctrl-C again to abort)…", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- text output ---------------------------------------------------------------------------
def print_report(report: Any, console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    head = Text(f"{report.name}", style="bold")
    head.append(f"  {report.uri}", style="dim")
    console.print(head)
    if report.format:
        console.print(f"{report.format}, {report.convention}", style="dim", highlight=False)
    if not report.complete:
        console.print("Interrupted: partial report (what was found before stopping).",
                      style="bold yellow")
    console.print()
    for f in report.findings:
        line = Text(f"{f.severity.upper():8}", style=SEVERITY_STYLE[f.severity])
        line.append(f"{f.code}", style="bold")
        if f.count > 1:
            line.append(f" ×{f.count}")
        line.append(f"  {f.where.describe()}", style="dim")
        console.print(line, highlight=False, soft_wrap=True)
        console.print(Text(f"        {f.what}"), highlight=False, soft_wrap=True)
        console.print(Text(f"        why: {f.why}", style="dim"), highlight=False, soft_wrap=True)
        console.print(Text(f"        fix: {f.fix}", style="dim"), highlight=False, soft_wrap=True)
    if report.levels:
        labels = any(lv.image for lv in report.levels)
        table = Table(title="levels", title_justify="left", show_edge=False, pad_edge=False)
        for col in (("image",) if labels else ()) + (
            "level", "shape", "dtype", "stored", "scanned", "failed", "range", "p1–p99", "sat."
        ):
            table.add_column(col, no_wrap=True)
        for lv in report.levels:
            st, stats = lv.storage, lv.stats
            stored = f"{st.stored_chunks}/{st.n_chunks}" + ("" if st.exact else "~") if st else "–"
            c = lv.counts
            pct = stats.percentiles if stats else {}
            table.add_row(
                *((lv.image or "·",) if labels else ()),
                f"{lv.index} {lv.path}", "×".join(map(str, lv.shape)), lv.dtype, stored,
                str(c.get("scanned", "–")) if lv.scanned else "–",
                str(c.get("failed", "–")) if lv.scanned else "–",
                f"{stats.min:g}–{stats.max:g}"
                if stats and stats.min is not None and stats.max is not None else "–",
                f"{pct['p1']:g}–{pct['p99']:g}" if "p1" in pct and "p99" in pct else "–",
                f"{stats.saturated_fraction:.2%}"
                if stats and stats.saturated_fraction is not None else "–",
            )
        console.print(table)
    n = report.counts()
    verdict = "nothing wrong" if report.ok else "problems found"
    console.print(
        f"\n{_plural(n['error'], 'error')}, {_plural(n['warning'], 'warning')}, "
        f"{_plural(n['info'], 'note')} — {verdict} "
        f"({report.seconds:.1f} s, {report.scheduler})",
        highlight=False,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def text_console() -> Any:
    """stdout: the terminal's width, or 160 columns when piped (no mid-line wrapping)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def run(args: argparse.Namespace) -> int:
    require("rich", "chunkview qc")
    if args.html:
        require("matplotlib", "chunkview qc --html")
    if args.scheduler:
        require("distributed", "chunkview qc --scheduler")
    from .._api import open_pyramid
    from ..qc import failed_open_report, html_report, run_qc

    console = text_console()
    try:
        pyramid = open_pyramid(args.uri)
    except ChunkviewError as e:
        report = failed_open_report(args.uri, e)
        if args.json:
            print(report.to_json())
        elif args.html:
            args.html.write_text(html_report(report), encoding="utf-8")
        print(f"chunkview: error: {e}", file=sys.stderr)
        return 1
    if args.level is not None and not 0 <= args.level < len(pyramid.stored_levels):
        print(f"chunkview: error: level {args.level} does not exist "
              f"({len(pyramid.stored_levels)} levels)", file=sys.stderr)
        return 2
    cancel = threading.Event()
    with ctrl_c_cancels(cancel), progress_bars() as progress:
        report = run_qc(
            pyramid, level=args.level, sample=args.sample, scheduler=args.scheduler,
            progress=progress, cancel=cancel, workers=args.workers,
        )
    if args.json:
        print(report.to_json())
    else:
        print_report(report, console)
        if args.html:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(html_report(report), encoding="utf-8")
            console.print(f"report written to {args.html}", highlight=False)
    return int(report.exit_code(strict=args.strict))

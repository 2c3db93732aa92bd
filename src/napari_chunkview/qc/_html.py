"""The QC report as one self-contained HTML page: tables, the histogram of each image and
a chunk-state map per scanned level, drawn with matplotlib (Agg, no pyplot state) and
embedded as base64 PNG. No script, stylesheet or font is loaded from anywhere."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from ..model import Finding
from ._chunkscan import STATE_NAMES
from ._report import LevelReport, QCReport

#: Colours of the chunk states 0-4 (not scanned, ok, all fill, missing, failed).
STATE_COLORS = ("#f2f2f2", "#4caf50", "#9ecae1", "#737373", "#d62728")
SEVERITY_COLORS = {"error": "#d62728", "warning": "#e6a100", "info": "#4a7bb7"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4} .sev{color:#fff;font-weight:600;border-radius:3px;padding:0 .4em}
.muted{color:#777} .fig{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
code{font-size:.95em}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _png(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def histogram_figure(levels: list[LevelReport]) -> str | None:
    """Step histograms of the scanned levels of one image (log counts)."""
    from matplotlib.figure import Figure

    drawn = [lv for lv in levels if lv.stats is not None and lv.stats.hist_counts]
    if not drawn:
        return None
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    for lv in drawn:
        st = lv.stats
        assert st is not None
        ax.stairs(st.hist_counts, st.hist_edges, label=f"level {lv.index} ({lv.path})")
    ax.set_yscale("log")
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    ax.legend(fontsize=7)
    ax.set_title("intensity histogram" + ("" if drawn[0].stats.exact else " (sampled)"), fontsize=9)  # type: ignore[union-attr]
    return _png(fig)


def project_states(states: np.ndarray) -> np.ndarray:
    """A 2-D map of a chunk-state grid: the last two axes, worst state along the others
    (failed > missing > all fill > ok > not scanned)."""
    s = np.asarray(states)
    if s.ndim == 0:
        return s.reshape(1, 1)
    if s.ndim == 1:
        return s.reshape(1, -1)
    return s.reshape(-1, *s.shape[-2:]).max(axis=0)


def state_map_figure(lv: LevelReport) -> str | None:
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    if lv.states is None:
        return None
    grid = project_states(lv.states)
    h, w = grid.shape
    scale = min(4.5 / max(w, 1), 3.5 / max(h, 1), 0.5)
    fig = Figure(figsize=(max(2.6, w * scale + 1.6), max(1.6, h * scale + 0.9)))
    ax = fig.add_subplot()
    cmap = ListedColormap(STATE_COLORS)
    ax.imshow(grid, cmap=cmap, norm=BoundaryNorm(np.arange(-0.5, 5), cmap.N),
              interpolation="nearest", aspect="equal")
    lead = "" if lv.states.ndim <= 2 else f"; worst along the first {lv.states.ndim - 2} axes"
    ax.set_title(f"{lv.image + ' ' if lv.image else ''}level {lv.index}: chunk states "
                 f"({h}×{w}{lead})", fontsize=8)
    ax.set_xlabel("chunk index (last axis)", fontsize=7)
    ax.set_ylabel("chunk index", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    present = sorted(set(np.unique(grid).tolist()))
    ax.legend(handles=[Patch(color=STATE_COLORS[i], label=STATE_NAMES[i]) for i in present],
              fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)


def _finding_row(f: Finding) -> str:
    color = SEVERITY_COLORS[f.severity]
    count = f" ×{f.count}" if f.count > 1 else ""
    return (
        f'<tr><td><span class="sev" style="background:{color}">{_e(f.severity)}</span></td>'
        f"<td><code>{_e(f.code)}</code>{_e(count)}</td><td>{_e(f.where.describe())}</td>"
        f"<td>{_e(f.what)}</td><td>{_e(f.why)}</td><td>{_e(f.fix)}</td></tr>"
    )


def _level_row(lv: LevelReport) -> str:
    st = lv.storage
    stored = (
        f"{st.stored_chunks} / {st.n_chunks}{'' if st.exact else ' (est.)'}" if st else "–"
    )
    c = lv.counts
    scan = (
        f"{c.get('scanned', 0)} scanned: {c.get('ok', 0)} ok, {c.get('all_fill', 0)} fill, "
        f"{c.get('missing', 0)} missing, {c.get('failed', 0)} failed"
        if lv.scanned else '<span class="muted">not scanned</span>'
    )
    ratio = f"{st.ratio:.2f}" if st is not None and st.ratio else "–"
    return (
        f"<tr><td>{_e(lv.image or '·')}</td><td>{lv.index}</td><td><code>{_e(lv.path)}</code></td>"
        f"<td>{_e(lv.shape)}</td><td>{_e(lv.dtype)}</td><td>{_e(lv.chunks)}</td>"
        f"<td>{_e(lv.shards or '–')}</td><td>{_e(lv.codecs)}</td><td>{_e(stored)}</td>"
        f"<td>{_e(_bytes(st.stored_bytes if st else None))} of "
        f"{_e(_bytes(st.logical_bytes if st else None))}</td>"
        f"<td>{ratio}</td><td>{_e(st.method if st else '–')}</td><td>{scan}</td></tr>"
    )


def _g(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _stats_row(lv: LevelReport) -> str:
    st = lv.stats
    if st is None:
        return ""
    pct = " / ".join(f"{v:g}" for v in st.percentiles.values())
    sat = f"{st.saturated_fraction:.3%}" if st.saturated_fraction is not None else "–"
    return (
        f"<tr><td>{_e(lv.image or '·')}</td><td>{lv.index}</td><td>{st.count}</td>"
        f"<td>{_e(st.min)}</td><td>{_e(st.max)}</td><td>{_g(st.mean)}</td><td>{_g(st.std)}</td>"
        f"<td>{_e(pct)}</td><td>{sat}</td><td>{st.nan_count}</td>"
        f"<td>{'exact' if st.exact else 'sampled values'}</td></tr>"
    )


def render(report: QCReport) -> str:
    counts = report.counts()
    summary = ", ".join(
        f'<span class="sev" style="background:{SEVERITY_COLORS[k]}">{v} {k}</span>'
        for k, v in counts.items()
    )
    partial = (
        "" if report.complete
        else "<p><strong>Partial report:</strong> the run was interrupted.</p>"
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>QC report — {_e(report.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>QC report — {_e(report.name)}</h1>",
        f"<p><code>{_e(report.uri)}</code><br>{_e(report.format)}, {_e(report.convention)} "
        f"<span class='muted'>({_e(report.reason)})</span><br>axes: "
        + _e(", ".join(f"{n} ({t}{', ' + u if u else ''})" for n, t, u in report.axes))
        + f"</p><p>{summary}</p>{partial}",
        f"<p class='muted'>{_e(report.started)} · {report.seconds:.1f} s · "
        f"{_e(report.scheduler)}"
        + (f" · sample {report.sample:g}" if report.sample else "")
        + (f" · level {report.level}" if report.level is not None else "") + "</p>",
        "<h2>Findings</h2>",
    ]
    if report.findings:
        parts.append("<table><tr><th>severity</th><th>code</th><th>where</th><th>what</th>"
                     "<th>why it matters</th><th>how to fix</th></tr>")
        parts.extend(_finding_row(f) for f in report.findings)
        parts.append("</table>")
    else:
        parts.append("<p>Nothing found.</p>")
    parts.append("<h2>Levels</h2><table><tr><th>image</th><th>level</th><th>path</th>"
                 "<th>shape</th><th>dtype</th><th>chunks</th><th>shards</th><th>codecs</th>"
                 "<th>stored chunks</th><th>stored bytes</th><th>ratio</th><th>counted by</th>"
                 "<th>scan</th></tr>")
    parts.extend(_level_row(lv) for lv in report.levels)
    parts.append("</table>")
    scanned = [lv for lv in report.levels if lv.stats is not None]
    if scanned:
        parts.append("<h2>Statistics</h2><table><tr><th>image</th><th>level</th><th>values</th>"
                     "<th>min</th><th>max</th><th>mean</th><th>std</th>"
                     "<th>p0.1 / p1 / p50 / p99 / p99.9</th><th>saturated</th><th>NaN</th>"
                     "<th>percentiles</th></tr>")
        parts.extend(_stats_row(lv) for lv in scanned)
        parts.append("</table>")
        for image in dict.fromkeys(lv.image for lv in scanned):
            fig = histogram_figure([lv for lv in scanned if lv.image == image])
            if fig:
                parts.append(f'<div class="fig">{fig}</div>')
    maps = [(lv, state_map_figure(lv)) for lv in report.levels if lv.scanned]
    if any(m for _, m in maps):
        parts.append("<h2>Chunk states</h2>")
        parts.extend(f'<div class="fig">{m}</div>' for _, m in maps if m)
    parts.append("</body></html>")
    return "\n".join(parts)

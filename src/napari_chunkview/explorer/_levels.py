"""Pyramid levels → rows of the levels table (metadata at once, storage figures when a
background scan delivers them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..model import Level, Pyramid, describe_chain
from ..qc import StorageFigures
from ._text import bytes_text, count_text, fill_text, ratio_text, scale_text, shape_text

#: (key, header) of each column, in display order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("level", "Level"),
    ("path", "Array"),
    ("shape", "Shape"),
    ("dtype", "Type"),
    ("chunk", "Chunk"),
    ("shard", "Shard"),
    ("chunks", "Chunks"),
    ("stored", "Stored"),
    ("missing", "Missing"),
    ("logical", "Logical"),
    ("stored_bytes", "Stored bytes"),
    ("ratio", "Ratio"),
    ("scale", "Scale"),
    ("keys", "Key encoding"),
    ("codecs", "Codecs"),
    ("fill", "Fill"),
    ("scan", "Scan"),
)


@dataclass(frozen=True, slots=True)
class LevelRow:
    """One level, as data (for tests and any front end) and as cell text (``cells``)."""

    index: int
    path: str
    virtual: str  # non-empty for a computed level: how it is derived
    shape: tuple[int, ...]
    dtype: str
    chunk_shape: tuple[int, ...]
    shard_shape: tuple[int, ...] | None
    grid_shape: tuple[int, ...]
    n_chunks: int
    logical_bytes: int
    codecs: str
    key_encoding: str
    example_key: str
    fill_value: str
    scale: str
    # storage figures (None until the scan delivers them)
    stored: int | None = None
    missing: int | None = None
    stored_bytes: int | None = None
    ratio: float | None = None
    exact: bool | None = None
    scan: str = ""  # "listing (exact)", "sample of 256 chunks (estimate)", "scanning…", ...

    @property
    def cells(self) -> dict[str, str]:
        est = self.exact is not False
        return {
            "level": f"{self.index}" + (" (virtual)" if self.virtual else ""),
            "path": self.path or "(root)",
            "shape": shape_text_c(self.shape),
            "dtype": self.dtype,
            "chunk": shape_text_c(self.chunk_shape),
            "shard": shape_text_c(self.shard_shape) if self.shard_shape else "—",
            "chunks": f"{self.n_chunks:,} ({'×'.join(map(str, self.grid_shape))})",
            "stored": "computed" if self.virtual else count_text(self.stored, est),
            "missing": "—" if self.virtual else count_text(self.missing, est),
            "logical": bytes_text(self.logical_bytes),
            "stored_bytes": "—"
            if self.virtual
            else _approx(bytes_text(self.stored_bytes), est, self.stored_bytes),
            "ratio": "—" if self.virtual else _approx(ratio_text(self.ratio), est, self.ratio),
            "scale": self.scale,
            "keys": f"{self.key_encoding} · e.g. {self.example_key}",
            "codecs": self.codecs,
            "fill": self.fill_value,
            "scan": self.scan,
        }


def shape_text_c(shape: tuple[int, ...] | None) -> str:
    """Shapes in the table are always spelled out in C order (``2×64×512×512``)."""
    if shape is None:
        return "—"
    return "×".join(map(str, shape)) or "scalar"


def _approx(text: str, exact: bool, value: object) -> str:
    return text if exact or value is None else f"≈ {text}"


def level_row(
    pyramid: Pyramid, index: int, figures: StorageFigures | None = None, scan: str = ""
) -> LevelRow:
    """The row of ``pyramid.levels[index]``; storage columns from ``figures`` when given."""
    lv: Level = pyramid.levels[index]
    grid = lv.grid
    first = tuple(0 for _ in lv.shape)
    try:
        example = lv.chunk_key(first)
    except Exception:  # a source that cannot name keys still gets a row
        example = "?"
    row = LevelRow(
        index=index,
        path=lv.path,
        virtual=lv.virtual,
        shape=tuple(lv.shape),
        dtype=str(lv.dtype),
        chunk_shape=tuple(grid.chunk_shape),
        shard_shape=tuple(grid.shard_shape) if grid.shard_shape else None,
        grid_shape=grid.grid_shape,
        n_chunks=grid.n_chunks,
        logical_bytes=lv.logical_nbytes,
        codecs=describe_chain(lv.codecs, grid.shard_shape),
        key_encoding=lv.key_encoding,
        example_key=example,
        fill_value=fill_text(lv.fill_value),
        scale=scale_text(lv.scale, pyramid.axis_names, pyramid.units),
        scan="not stored: " + lv.virtual if lv.virtual else scan,
    )
    if figures is None or lv.virtual:
        return row
    return _with_figures(row, figures)


def _with_figures(row: LevelRow, f: StorageFigures) -> LevelRow:
    from dataclasses import replace

    ratio = f.ratio
    return replace(
        row,
        stored=f.stored_chunks,
        missing=f.missing_chunks,
        stored_bytes=f.stored_bytes,
        ratio=ratio if ratio is None or math.isfinite(ratio) else None,
        exact=f.exact,
        scan=f"{f.method} ({'exact' if f.exact else 'estimate'})",
    )


__all__ = ["COLUMNS", "LevelRow", "level_row", "shape_text"]

"""What the controller hands a view, and the abstract view (Qt dock, Jupyter widget).

A view only draws: every decision (what to show, when, from which thread's result) is
the controller's. Views implement ``ChunkView``; ``call_in_main`` is their one piece of
threading: run a function on the thread that owns the widgets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ._grid import GridCells
from ._levels import LevelRow
from ._text import bytes_text, ms_text
from ._tree import AttrItem, TreeNode


@dataclass(frozen=True, slots=True)
class Header:
    """Which layer and dataset, and why the dataset was recognised as what it is."""

    title: str  # the layer's name
    uri: str
    format: str
    convention: str
    reason: str
    kind: str = "image"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LivePanel:
    """Loading figures since the inspector started following the pyramid, plus the view."""

    in_flight: int = 0
    done: int = 0
    missing: int = 0
    failed: int = 0
    cache_hits: int = 0
    cache_hit_rate: float = 0.0
    mb_per_s: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    bytes_stored: int = 0
    shown_level: int | None = None  # index of the level shown
    level: str = ""  # the level shown, as text
    why: str = ""  # why the front end shows that level
    view_resolved: int = 0  # chunks of the current view read (loaded, missing or failed)
    view_total: int = 0  # chunks of the current view
    view_counts: dict[str, int] = field(default_factory=dict)
    grid_note: str = ""  # e.g. "1 cell = 4×4 chunks"

    def lines(self) -> list[str]:
        c = self.view_counts
        extra = ", ".join(
            f"{c[k]} {k.replace('_', ' ')}" for k in ("missing", "failed", "in_flight") if c.get(k)
        )
        return [
            f"Showing {self.level}" if self.level else "No level shown",
            self.why,
            f"View: {self.view_resolved:,} / {self.view_total:,} chunks read"
            + (f" ({extra})" if extra else ""),
            f"Chunks: {self.in_flight} in flight · {self.done:,} done · {self.missing:,} missing · "
            f"{self.failed:,} failed",
            f"{self.mb_per_s:.3g} MB/s · latency p50 {ms_text(self.p50_ms)}, "
            f"p90 {ms_text(self.p90_ms)} · {bytes_text(self.bytes_stored)} read",
            f"Cache hits: {self.cache_hits:,} ({self.cache_hit_rate:.0%})",
        ]


@dataclass(frozen=True, slots=True)
class ChunkDetails:
    """One chunk under the cursor (or clicked)."""

    level: int
    level_path: str
    index: tuple[int, ...]
    key: str
    state: str
    stored_bytes: int | None = None  # None: not known (yet)
    size_note: str = ""  # "looking up…", "not stored", "from the shard index", ...
    ms: float | None = None
    fetch_ms: float | None = None
    reason: str = ""
    note: str = ""  # "inner chunk (0, 1) of shard …", "computed from …"
    pinned: bool = False

    def lines(self) -> list[str]:
        idx = ", ".join(map(str, self.index))
        size = bytes_text(self.stored_bytes) if self.stored_bytes is not None else "—"
        if self.size_note:
            size = f"{size} ({self.size_note})" if self.stored_bytes is not None else self.size_note
        out = [
            f"{'Selected' if self.pinned else 'Chunk'} ({idx}) of level {self.level}"
            f"{f' (array “{self.level_path}”)' if self.level_path else ''}: "
            f"{self.state.replace('_', ' ')}",
            f"Key: {self.key}",
        ]
        if self.note:
            out.append(self.note)
        out.append(f"Stored size: {size}")
        if self.ms is not None:
            decode = self.ms - (self.fetch_ms or 0.0)
            fetch = ms_text(self.fetch_ms)
            out.append(f"Read: {ms_text(self.ms)} (fetch {fetch}, decode ≈ {ms_text(decode)})")
        if self.reason:
            out.append(f"Failure: {self.reason}")
        return out


class ChunkView(ABC):
    """A front end's view of the inspector (Qt toolkits register with ``ChunkView.register``:
    their widget metaclass cannot mix with ``ABCMeta``)."""

    @abstractmethod
    def show_message(self, text: str) -> None:
        """Nothing to inspect: say why (no layer, not one of ours, ...)."""

    @abstractmethod
    def set_header(self, header: Header) -> None: ...

    @abstractmethod
    def set_levels(self, rows: Sequence[LevelRow]) -> None: ...

    @abstractmethod
    def set_tree(self, tree: TreeNode, status: str) -> None: ...

    @abstractmethod
    def set_attributes(self, title: str, items: Sequence[AttrItem]) -> None: ...

    @abstractmethod
    def set_grid(self, cells: GridCells | None) -> None:
        """Draw the chunk grid (``None``: remove it)."""

    @abstractmethod
    def set_live(self, panel: LivePanel) -> None: ...

    @abstractmethod
    def set_chunk(self, details: ChunkDetails | None) -> None: ...

    @abstractmethod
    def call_in_main(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the thread that owns the view (called from worker threads)."""

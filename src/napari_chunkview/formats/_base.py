"""The seams of the formats layer: a ``FormatAdapter`` turns store paths into ``Node``s;
conventions (``conventions/``) turn ``Node``s into ``Pyramid``s without knowing the format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..model import ChunkSource, CodecInfo
from ._store import StoreRoot, join_path

#: What a node of the hierarchy is.
NodeKind = Literal["group", "array"]


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """Everything a convention needs to make a ``Level`` of an array (C order)."""

    source: ChunkSource
    codecs: tuple[CodecInfo, ...]
    key_encoding: str
    key_template: str
    dimension_names: tuple[str | None, ...] | None = None
    format_details: str = ""


class FormatAdapter(Protocol):
    """One storage format (zarr v3, zarr v2, N5, ...)."""

    name: str

    def sniff(self, root: StoreRoot, path: str) -> bool:
        """Cheap: does ``path`` look like this format? Reads at most a metadata file."""
        ...

    def open_node(self, root: StoreRoot, path: str) -> Node | None:
        """The group or array at ``path``, ``None`` when there is none."""
        ...

    def open_array(self, node: Node) -> ArrayInfo:
        """Build the reader of an array node (metadata only; no chunk is read)."""
        ...

    def list_children(self, node: Node) -> list[str]:
        """Names of the nodes directly below ``node`` (may list the store)."""
        ...


@dataclass(frozen=True)
class Node:
    """A group or array at ``path`` in ``root``, with its user attributes.

    ``axes_reversed`` is True for N5, whose per-axis attributes (``downsamplingFactors``,
    ``pixelResolution``, ...) list the fastest axis first: conventions reverse them.
    """

    root: StoreRoot
    path: str
    kind: NodeKind
    adapter: FormatAdapter
    attrs: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    axes_reversed: bool = False

    @property
    def format(self) -> str:
        return self.adapter.name

    @property
    def name(self) -> str:
        if self.path:
            return self.path.rsplit("/", 1)[-1]
        return self.root.uri.rstrip("/").rsplit("/", 1)[-1]

    def child(self, rel: str) -> Node | None:
        """The node at ``rel`` below this one (``UnsafePathError`` if ``rel`` escapes)."""
        return self.adapter.open_node(self.root, join_path(self.path, rel))

    def children(self) -> list[str]:
        return self.adapter.list_children(self)

    def array(self) -> ArrayInfo:
        return self.adapter.open_array(self)

"""The store's hierarchy as a tree of plain data, and attributes as a readable tree.

``known_tree`` needs no listing: it shows what the ``Pyramid`` names (the image group,
its levels, its labels). ``list_tree`` walks the store (a worker's job: it may be slow or
impossible on remote stores), bounded in nodes, depth and time, and cancellable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import Pyramid, error_reason
from ._text import shape_text

#: Bounds of a listing: nodes visited, depth below the root, seconds.
MAX_NODES = 400
MAX_DEPTH = 8
MAX_SECONDS = 20.0
#: Children shown per mapping / list in the attributes tree.
MAX_ATTR_ITEMS = 200


@dataclass
class TreeNode:
    """One group or array. ``role`` says what the pyramid makes of it ("image · OME-NGFF
    0.5", "level 0", "labels"); ``attrs`` are its user attributes, ``metadata`` the rest
    of its metadata document (arrays: shape, codecs, ...)."""

    path: str
    name: str
    kind: str  # "group" | "array"
    summary: str = ""
    role: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    children: list[TreeNode] = field(default_factory=list)

    def walk(self) -> list[TreeNode]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out

    def find(self, path: str) -> TreeNode | None:
        return next((n for n in self.walk() if n.path == path), None)


@dataclass(frozen=True, slots=True)
class AttrItem:
    """One key of an attributes tree: ``text`` is the value on one line (empty for a
    container, whose ``children`` hold the items)."""

    key: str
    text: str
    children: tuple[AttrItem, ...] = ()


def roles(pyramid: Pyramid) -> dict[str, str]:
    """Store path → what the pyramid makes of it."""
    out: dict[str, str] = {}
    for p in pyramid.walk():
        what = "labels" if p.kind == "labels" else "image"
        out[p.path] = f"{what} {p.name!r} · {p.provenance.convention}"
        for i, lv in enumerate(p.levels):
            if not lv.virtual:
                out.setdefault(lv.path, f"level {i} of {p.name!r}")
    return out


def _leaf_name(path: str, fallback: str) -> str:
    return path.rsplit("/", 1)[-1] if path else fallback


def known_tree(pyramid: Pyramid) -> TreeNode:
    """The tree the pyramid's metadata names, without listing the store."""

    def build(p: Pyramid) -> TreeNode:
        node = TreeNode(
            path=p.path,
            name=_leaf_name(p.path, p.name),
            kind="group" if any(lv.path != p.path for lv in p.levels) else "array",
            summary=f"{p.provenance.format} · {p.provenance.convention}",
            role=f"{'labels' if p.kind == 'labels' else 'image'} {p.name!r}",
            attrs=p.attributes,
        )
        for i, lv in enumerate(p.levels):
            if lv.path == p.path and not lv.virtual:
                node.kind = "array"
                node.summary = f"{shape_text(lv.shape)} {lv.dtype} · " + node.summary
                continue
            node.children.append(
                TreeNode(
                    path=lv.path + (f" @{i}" if lv.virtual else ""),
                    name=_leaf_name(lv.path, "") + (" (virtual)" if lv.virtual else ""),
                    kind="array",
                    summary=f"{'×'.join(map(str, lv.shape))} {lv.dtype}",
                    role=lv.virtual or f"level {i}",
                    attrs={} if lv.virtual else lv.attributes,
                )
            )
        node.children.extend(build(lab) for lab in p.labels)
        return node

    return build(pyramid)


def _array_summary(meta: Mapping[str, Any], reversed_axes: bool) -> str:
    shape = meta.get("shape") or meta.get("dimensions")
    dtype = meta.get("data_type") or meta.get("dtype") or meta.get("dataType")
    if isinstance(shape, list):
        shape = shape[::-1] if reversed_axes else shape
        return f"{'×'.join(map(str, shape))} {_dtype_name(dtype)}".strip()
    return ""


def _dtype_name(dtype: Any) -> str:
    if not isinstance(dtype, str):
        return ""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return dtype


def list_tree(
    root: Any,
    pyramid: Pyramid | None = None,
    *,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    max_seconds: float = MAX_SECONDS,
    cancel: threading.Event | None = None,
) -> tuple[TreeNode, str]:
    """Walk the store below ``root`` (a ``StoreRoot`` or a URI), breadth first.

    Returns the tree and a status line ("listed 12 nodes", "stopped at 400 nodes", ...).
    Array nodes are not listed (their children would be chunks). Raises
    ``InterruptedError`` when ``cancel`` is set.
    """
    from ..formats import open_node

    t0 = time.monotonic()
    node = open_node(root)
    known = roles(pyramid) if pyramid is not None else {}
    top = _from_node(node, known)
    queue: deque[tuple[Any, TreeNode, int]] = deque([(node, top, 0)])
    count, stopped, full = 1, "", False
    while queue and not full:
        if cancel is not None and cancel.is_set():
            raise InterruptedError("listing cancelled")
        fnode, tnode, depth = queue.popleft()
        if fnode.kind != "group":
            continue
        if depth >= max_depth:
            stopped = f"stopped at depth {max_depth}"
            continue
        try:
            names = fnode.children()
        except Exception as e:  # a store that cannot list: keep what we have
            tnode.summary = (tnode.summary + f" · cannot list: {error_reason(e)}").strip(" ·")
            continue
        for name in sorted(names):
            if count >= max_nodes:
                stopped, full = f"stopped at {max_nodes} nodes", True
                break
            if time.monotonic() - t0 > max_seconds:
                stopped, full = f"stopped after {max_seconds:.0f} s", True
                break
            try:
                child = fnode.child(name)
            except Exception:
                child = None
            if child is None:
                continue
            count += 1
            tchild = _from_node(child, known)
            tnode.children.append(tchild)
            queue.append((child, tchild, depth + 1))
    listing_supported = getattr(getattr(node.root, "_base", None), "supports_listing", True)
    if not listing_supported:
        status = "this store cannot be listed (plain HTTP): showing what the metadata names"
    else:
        status = f"listed {count} node{'s' if count != 1 else ''}"
        if stopped:
            status += f" ({stopped})"
    return top, status


def list_or_known(
    root: Any, pyramid: Pyramid, known: TreeNode | None, cancel: threading.Event | None = None
) -> tuple[TreeNode, str]:
    """``list_tree``, falling back on ``known`` (what the metadata names) when the store
    cannot be listed or lists nothing. Raises ``InterruptedError`` when cancelled."""
    fallback = "showing what the metadata names"
    try:
        tree, status = list_tree(root, pyramid, cancel=cancel)
    except InterruptedError:
        raise
    except Exception as e:
        if known is None:
            raise
        return known, f"could not list the store ({error_reason(e)}); {fallback}"
    if not tree.children and known is not None and known.children:
        return known, f"{status}; {fallback}"
    return tree, status


def _from_node(node: Any, known: Mapping[str, str]) -> TreeNode:
    meta = {k: v for k, v in dict(node.metadata).items() if k != "attributes"}
    summary = node.format
    if node.kind == "array":
        shape = _array_summary(node.metadata, bool(getattr(node, "axes_reversed", False)))
        summary = f"{shape} · {summary}" if shape else summary
    return TreeNode(
        path=node.path,
        name=node.name,
        kind=node.kind,
        summary=summary,
        role=known.get(node.path, ""),
        attrs=dict(node.attrs),
        metadata=meta,
    )


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) < 200 else repr(value[:200]) + "…"
    return str(value)


def attribute_items(value: Any, max_items: int = MAX_ATTR_ITEMS) -> tuple[AttrItem, ...]:
    """A mapping (or list) as a tree of ``AttrItem``: containers become branches whose
    text summarises them (``{3 keys}``, ``[12 items]``); at most ``max_items`` children
    per container (the rest are counted in a last item)."""
    if isinstance(value, Mapping):
        pairs: Sequence[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        pairs = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        return ()
    out = []
    for key, v in pairs[:max_items]:
        if isinstance(v, Mapping):
            out.append(
                AttrItem(
                    key,
                    f"{{{len(v)} key{'s' if len(v) != 1 else ''}}}",
                    attribute_items(v, max_items),
                )
            )
        elif isinstance(v, list | tuple) and any(isinstance(x, Mapping | list | tuple) for x in v):
            out.append(
                AttrItem(
                    key,
                    f"[{len(v)} item{'s' if len(v) != 1 else ''}]",
                    attribute_items(v, max_items),
                )
            )
        elif isinstance(v, list | tuple):
            text = (
                "["
                + ", ".join(_value_text(x) for x in v[:32])
                + (", …" if len(v) > 32 else "")
                + "]"
            )
            out.append(AttrItem(key, text))
        else:
            out.append(AttrItem(key, _value_text(v)))
    if len(pairs) > max_items:
        out.append(AttrItem("…", f"{len(pairs) - max_items} more not shown"))
    return tuple(out)


def node_attribute_items(node: TreeNode) -> tuple[AttrItem, ...]:
    """What clicking a node shows: its attributes, then (collapsed) its metadata."""
    items = [AttrItem("attributes", f"{{{len(node.attrs)} keys}}", attribute_items(node.attrs))]
    if node.metadata:
        items.append(
            AttrItem("metadata", f"{{{len(node.metadata)} keys}}", attribute_items(node.metadata))
        )
    return tuple(items)

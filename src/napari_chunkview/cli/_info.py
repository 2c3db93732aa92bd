"""``chunkview info URI``: what a dataset is and how it is stored, as a tree (or JSON).

Format and convention (with the reason they were recognised), axes and units, channels,
every level's shape, chunks, shards, codec chain and key layout, and stored vs logical
bytes from ``scan_storage`` (exact from listings and shard indexes, or estimated from a
sample — the output says which). Labels are listed below their image.
"""

from __future__ import annotations

import argparse
import json
import threading
from functools import partial
from typing import Any

from ..model import Level, Pyramid, describe_chain
from ..qc import Cancelled, StorageFigures, scan_storage
from ._qc import ctrl_c_cancels, progress_bars, require, text_console


def register(sub: Any) -> None:
    p = sub.add_parser(
        "info",
        help="describe a dataset: format, axes, levels, chunks, codecs, stored bytes",
        description="Describe URI (an N5 / Zarr / OME-Zarr folder, .zarr.zip or URL).",
    )
    p.add_argument("uri", metavar="URI", help="dataset to describe")
    p.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    p.add_argument(
        "--no-storage", action="store_true",
        help="skip stored-byte figures (they list the store, or sample it)",
    )
    p.set_defaults(run=run)


def _mb(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n}"


def storage_dict(st: StorageFigures | None) -> dict[str, Any] | None:
    return None if st is None else st.to_dict()


def _level_dict(i: int, lv: Level, st: StorageFigures | None) -> dict[str, Any]:
    grid = lv.grid
    first = (0,) * grid.ndim
    return {
        "index": i,
        "path": lv.path,
        "shape": list(lv.shape),
        "dtype": str(lv.dtype),
        "chunks": list(grid.chunk_shape),
        "shards": list(grid.shard_shape) if grid.shard_shape else None,
        "n_chunks": grid.n_chunks,
        "codecs": describe_chain(lv.codecs),
        "codec_chain": [c.to_dict() for c in lv.codecs],
        "key_encoding": lv.key_encoding,
        "first_key": lv.chunk_key(first) if grid.n_chunks else None,
        "scale": list(lv.scale),
        "translation": list(lv.translation),
        "virtual": lv.virtual or None,
        "storage": storage_dict(st),
    }


def describe(
    pyramid: Pyramid,
    storage: dict[tuple[str, int], StorageFigures | None],
) -> dict[str, Any]:
    """The JSON form of ``chunkview info``."""
    prov = pyramid.provenance
    return {
        "uri": pyramid.uri,
        "path": pyramid.path,
        "name": pyramid.name,
        "kind": pyramid.kind,
        "format": prov.format,
        "format_details": prov.format_details or None,
        "convention": prov.convention,
        "reason": prov.reason,
        "axes": [{"name": a.name, "type": a.type, "unit": a.unit} for a in pyramid.axes],
        "channels": [
            {"name": c.name, "color": c.color, "window": list(c.window) if c.window else None}
            for c in pyramid.channels
        ],
        "levels": [
            _level_dict(i, lv, storage.get((pyramid.path, i)))
            for i, lv in enumerate(pyramid.levels)
        ],
        "warnings": list(pyramid.warnings),
        "labels": [describe(lab, storage) for lab in pyramid.labels],
    }


def _tree(info: dict[str, Any], tree: Any) -> None:
    from rich.text import Text

    fmt = tree.add(Text.assemble(("format ", "dim"), info["format"],
                                 ("  convention ", "dim"), info["convention"]))
    fmt.add(Text(f"why: {info['reason']}", style="dim"))
    if info["format_details"]:
        fmt.add(Text(info["format_details"], style="dim"))
    axes = ", ".join(
        f"{a['name']} ({a['type']}{', ' + a['unit'] if a['unit'] else ''})" for a in info["axes"]
    )
    tree.add(Text.assemble(("axes ", "dim"), axes))
    if info["channels"]:
        chans = ", ".join(
            c["name"] + (f" {c['color']}" if c["color"] else "")
            + (f" [{c['window'][0]:g}–{c['window'][1]:g}]" if c["window"] else "")
            for c in info["channels"]
        )
        tree.add(Text.assemble(("channels ", "dim"), chans))
    levels = tree.add(Text(f"levels ({len(info['levels'])})", style="dim"))
    for lv in info["levels"]:
        head = Text.assemble(
            (f"{lv['index']} ", "bold"), (lv["path"] or ".", "cyan"),
            f"  {' × '.join(map(str, lv['shape']))}  {lv['dtype']}",
        )
        node = levels.add(head)
        if lv["virtual"]:
            node.add(Text(f"computed, not stored: {lv['virtual']}", style="dim"))
            continue
        shards = f", shards {tuple(lv['shards'])}" if lv["shards"] else ""
        node.add(Text(f"chunks {tuple(lv['chunks'])}{shards} · {lv['n_chunks']} chunks "
                      f"· keys {lv['key_encoding']}, e.g. {lv['first_key']}"))
        node.add(Text(f"codecs {lv['codecs']}"))
        node.add(Text(f"scale {tuple(lv['scale'])}  translation {tuple(lv['translation'])}",
                      style="dim"))
        st = lv["storage"]
        if st is not None:
            how = "exact" if st["exact"] else "estimated"
            ratio = f", ratio {st['ratio']:.2f}" if st["ratio"] else ""
            node.add(Text(
                f"stored {st['stored_chunks']}/{st['n_chunks']} chunks, "
                f"{_mb(st['stored_bytes'])} of {_mb(st['logical_bytes'])}{ratio} "
                f"({how}: {st['method']})"
            ))
    if info["warnings"]:
        warn = tree.add(Text(f"warnings ({len(info['warnings'])})", style="yellow"))
        for w in info["warnings"]:
            warn.add(Text(w))
    for lab in info["labels"]:
        _tree(lab, tree.add(Text.assemble(("label ", "dim"), (lab["name"], "bold"))))


def run(args: argparse.Namespace) -> int:
    from rich.tree import Tree

    from .._api import open_pyramid

    if not args.json or not args.no_storage:
        require("rich", "chunkview info")
    pyramid = open_pyramid(args.uri)
    storage: dict[tuple[str, int], StorageFigures | None] = {}
    if not args.no_storage:
        cancel = threading.Event()
        with ctrl_c_cancels(cancel), progress_bars() as progress:
            try:
                for pyr in pyramid.walk():
                    for i, lv in enumerate(pyr.stored_levels):
                        if getattr(lv.source, "_root", None) is None:
                            continue  # stacked views (BDV, n5-viewer channels): not listed
                        storage[(pyr.path, i)] = scan_storage(
                            lv, cancel=cancel,
                            progress=partial(progress, f"listing {pyr.name} level {i}"),
                        )
            except Cancelled:
                pass  # show what was counted
    info = describe(pyramid, storage)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    from rich.text import Text

    console = text_console()
    tree = Tree(Text.assemble((info["name"], "bold"), (f"  {args.uri}", "dim")))
    _tree(info, tree)
    console.print(tree, highlight=False)
    return 0

"""OME-NGFF groups that are not one image: the bioformats2raw layout's series list, and
HCS plates/wells (refused clearly; a field of view inside one opens as an image)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...model import MetadataError, Pyramid, UnsupportedError
from .._base import Node
from ._base import where
from ._ngff_doc import ome_container

_SERIES = re.compile(r"^\d+$")


def series_paths(node: Node) -> list[str]:
    """Series paths from ``OME/`` (``series``), else the numbered child groups."""
    try:
        ome = node.child("OME")
    except MetadataError:
        ome = None
    listed = ome_container(ome.attrs)[0].get("series") if ome is not None else None
    if isinstance(listed, list) and all(isinstance(s, str) for s in listed) and listed:
        return listed
    return sorted((n for n in node.children() if _SERIES.match(n)), key=int)


def refuse_hcs(node: Node, reason: str) -> Pyramid:
    """HCS plates and wells are not read yet: say so, and point at a field of view."""
    container, prefix = ome_container(node.attrs)
    hint = ""
    plate = container.get("plate")
    well = container.get("well")
    if isinstance(plate, Mapping) and isinstance(plate.get("wells"), list) and plate["wells"]:
        first = plate["wells"][0]
        if isinstance(first, Mapping) and isinstance(first.get("path"), str):
            hint = f"; open one field of view instead, e.g. {where(node)}/{first['path']}/0"
    elif isinstance(well, Mapping) and isinstance(well.get("images"), list) and well["images"]:
        first = well["images"][0]
        if isinstance(first, Mapping) and isinstance(first.get("path"), str):
            hint = f"; open one field of view instead, e.g. {where(node)}/{first['path']}"
    kind = "plate" if "plate" in container else "well"
    raise UnsupportedError(
        f"{where(node)}: OME-NGFF HCS {kind}s ('{prefix}{kind}') are not supported yet{hint}"
    )

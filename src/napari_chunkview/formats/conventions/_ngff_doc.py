"""Find an OME-NGFF document in a group's attributes and settle which version it follows.

0.1-0.4 keep ``multiscales`` (each with its own ``version``) in the group attributes; 0.5
moves everything under ``attributes["ome"]`` with one ``ome.version``; dev/0.6 (RFC-5) adds
``coordinateSystems``. Writers get versions wrong, so the declared version is checked
against the document's layout (axes as strings or objects, ``coordinateTransformations``)
and the layout wins, with a warning naming ``version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...model import MetadataError

IMPLICIT_5D = ("0.1", "0.2")  # no axes: always t, c, z, y, x
KNOWN = ("0.1", "0.2", "0.3", "0.4", "0.5")
_LAYOUT_NAMES = {
    "0.2": "no axes (0.1/0.2 layout)",
    "0.3": "axes as a list of names (0.3 layout)",
    "0.4": "axes as objects / coordinateTransformations (0.4 layout)",
    "0.6": "coordinateSystems (0.6 layout)",
}


@dataclass(frozen=True, slots=True)
class NgffDoc:
    """One multiscale image's metadata, with where it was found (JSON locations)."""

    version: str  # the version the document is read as: "0.1" … "0.5", "0.6"
    declared: str | None  # the version it claims
    container: Mapping[str, Any]  # the group attributes (≤0.4) or ``attributes["ome"]``
    prefix: str  # JSON location of ``container``: "" or "ome."
    multiscale: Mapping[str, Any]
    loc: str  # JSON location of ``multiscale``, e.g. "multiscales[0]"
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def omero(self) -> Any:
        return self.container.get("omero")

    @property
    def image_label(self) -> Any:
        return self.container.get("image-label")


def ome_container(attrs: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """``attributes["ome"]`` (0.5+) when present, else the attributes themselves."""
    ome = attrs.get("ome")
    return (ome, "ome.") if isinstance(ome, Mapping) else (attrs, "")


def layout_version(m: Mapping[str, Any]) -> str | None:
    """The version a multiscale's structure fits ("0.2" stands for 0.1/0.2), ``None``
    when its structure says nothing (e.g. an empty ``axes`` list)."""
    if "coordinateSystems" in m:
        return "0.6"
    datasets = m.get("datasets")
    has_ct = "coordinateTransformations" in m or (
        isinstance(datasets, list)
        and any(isinstance(d, Mapping) and "coordinateTransformations" in d for d in datasets)
    )
    axes = m.get("axes")
    if has_ct or (isinstance(axes, list) and any(isinstance(a, Mapping) for a in axes)):
        return "0.4"
    if isinstance(axes, list) and axes and all(isinstance(a, str) for a in axes):
        return "0.3"
    return "0.2" if axes is None else None


def _fits(declared: str, layout: str | None) -> bool:
    """A layout fits a version unless it has something that version cannot have (a
    missing ``axes`` fits any version: the axes parser reports it)."""
    if layout in (None, "0.2"):
        return True
    family = {"0.1": "0.2", "0.5": "0.4"}.get(declared, declared)
    return family == layout


def find_doc(attrs: Mapping[str, Any]) -> NgffDoc:
    """The first multiscale of an image group (``MetadataError`` naming the key when the
    document is unusable)."""
    container, prefix = ome_container(attrs)
    ms = container.get("multiscales")
    key = f"{prefix}multiscales"
    if not isinstance(ms, list) or not ms:
        raise MetadataError(f"{key} must be a non-empty list, got {ms!r}")
    if not isinstance(ms[0], Mapping):
        raise MetadataError(f"{key}[0] must be an object, got {ms[0]!r}")
    m: Mapping[str, Any] = ms[0]
    loc = f"{key}[0]"
    warnings: list[str] = []
    if len(ms) > 1:
        warnings.append(f"{key} holds {len(ms)} images; showing the first ({loc})")
    layout = layout_version(m)
    if prefix:
        declared = container.get("version")
        version, notes, more = _resolve_ome(declared, layout, f"{prefix}version")
    else:
        declared = m.get("version")
        version, notes, more = _resolve_v2(declared, layout, f"{loc}.version")
    warnings.extend(more)
    return NgffDoc(version, declared, container, prefix, m, loc, tuple(notes), tuple(warnings))


def _resolve_ome(declared: Any, layout: str | None, key: str) -> tuple[str, list[str], list[str]]:
    """``attributes.ome``: 0.5, or dev 0.6 (``coordinateSystems`` / ``0.6…`` version)."""
    if layout == "0.6" or (isinstance(declared, str) and declared.startswith("0.6")):
        return "0.6", [], []
    if declared == "0.5":
        if layout in ("0.2", "0.3"):
            raise MetadataError(
                f"{key} is '0.5' but the multiscale has {_LAYOUT_NAMES[layout]}; "
                "0.5 needs axes objects and coordinateTransformations"
            )
        return "0.5", [], []
    if declared is None:
        return "0.5", [], [f"{key} is missing; read as 0.5 (metadata under attributes.ome)"]
    if layout in (None, "0.4"):
        return "0.5", [], [f"{key} {declared!r} is not a known OME-NGFF version; read as 0.5"]
    raise MetadataError(
        f"{key} {declared!r} is not a known OME-NGFF version and the multiscale has "
        f"{_LAYOUT_NAMES[layout]}, which does not fit the attributes.ome form"
    )


def _resolve_v2(declared: Any, layout: str | None, key: str) -> tuple[str, list[str], list[str]]:
    """Group attributes (0.1-0.4): the declared version if the layout fits it."""
    if layout == "0.6":
        return "0.6", [], [f"{key}: coordinateSystems (0.6) outside attributes.ome"]
    if declared in KNOWN and _fits(declared, layout):
        if declared == "0.5":
            return "0.5", [], [f"{key} is '0.5' but 0.5 keeps its metadata in attributes.ome"]
        return declared, [], []
    fallback = layout or "0.4"
    if declared is None:
        return fallback, [f"no version given; read as {fallback} from its layout"], []
    if declared in KNOWN:
        return (
            fallback,
            [],
            [
                f"{key} is {declared!r} but the multiscale has {_LAYOUT_NAMES[fallback]}; "
                f"read as {fallback}"
            ],
        )
    if layout is None:
        raise MetadataError(
            f"{key} {declared!r} is not a known OME-NGFF version, and the multiscale's "
            "layout does not say which one it follows"
        )
    return (
        fallback,
        [],
        [
            f"{key} {declared!r} is not a known OME-NGFF version; read as {fallback} "
            f"({_LAYOUT_NAMES[fallback]})"
        ],
    )

"""Metadata checks: what the open already found (``Pyramid.warnings``, among them the
OME-NGFF validation by ome-zarr-models), and whether the multiscale conventions that
repeat a value in two places (n5-viewer, BigDataViewer, COSEM) say the same thing in both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..formats import pyramid_validation
from ..model import Finding, Level, Location, Pyramid, Severity

#: (group document, array document) per format.
DOCS = {
    "zarr v3": ("zarr.json", "zarr.json"),
    "zarr v3 draft": ("zarr.json", "zarr.json"),
    "zarr v2": (".zattrs", ".zarray"),
    "N5": ("attributes.json", "attributes.json"),
}


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def group_doc(pyr: Pyramid) -> str:
    return _join(pyr.path, DOCS.get(pyr.provenance.format, ("", ""))[0])


def array_doc(pyr: Pyramid, lv: Level) -> str:
    return _join(lv.path, DOCS.get(pyr.provenance.format, ("", ""))[1])


def scale_doc(pyr: Pyramid, lv: Level) -> str:
    """The metadata document that declares ``lv``'s scale (downsampling factor)."""
    conv, attrs = pyr.provenance.convention, pyr.attributes
    if conv == "n5-viewer" and "scales" not in attrs:
        return _join(lv.path, "attributes.json")  # per-level downsamplingFactors
    if conv == "BigDataViewer N5":
        first = (lv.attributes.get("stacked_paths") or [lv.path])[0]
        return _join(first.split("/timepoint")[0], "attributes.json")
    if conv == "COSEM" and "multiscales" not in attrs:
        return array_doc(pyr, lv)  # per-level transform
    if conv in ("plain", "array", "n5-universe canonical"):
        return array_doc(pyr, lv)
    return group_doc(pyr)


_NOTES = ("bioformats2raw layout with", "this labels group holds", "OME-NGFF 0.6 (dev")
_NGFF_VERSION = re.compile(r"OME-NGFF (\d+\.\d+)")


def _classify(text: str) -> tuple[Severity, str, str, str]:
    """(severity, code, why, fix) of one open-time warning."""
    if "does not validate" in text:
        return (
            "error",
            "metadata.ngff_schema",
            "the OME-NGFF metadata breaks the specification: other readers (ome-zarr-py, "
            "napari-ome-zarr, OMERO, validators) may refuse the image or read it differently",
            "correct the listed keys (see the OME-NGFF specification of this version), or "
            "rewrite the metadata with a conformant writer such as ome-zarr-py",
        )
    if "not validated" in text or "could not be validated" in text:
        return (
            "info",
            "metadata.not_validated",
            "the metadata could not be checked against the specification",
            "install ome-zarr-models to validate OME-NGFF 0.4/0.5 metadata",
        )
    if text.startswith(_NOTES):
        return ("info", "metadata.note", "for orientation; nothing is wrong", "nothing to fix")
    return (
        "warning",
        "metadata.lenient",
        "the metadata is out of spec or ambiguous; napari-chunkview read it leniently (as "
        "described), but other tools may read it differently or refuse it",
        "correct the metadata so it says what is meant without relying on lenient readers",
    )


def open_warnings(pyramid: Pyramid) -> list[Finding]:
    """One finding per problem the open recorded, for the image and its labels."""
    out = []
    for pyr in pyramid.walk():
        key = group_doc(pyr)
        # validation the open may have deferred (the napari reader's quick open)
        for text in (*pyr.warnings, *pyramid_validation(pyr, labels=False)):
            sev, code, why, fix = _classify(text)
            out.append(Finding(sev, code, text, Location(image=pyr.path, key=key), why, fix))
        m = _NGFF_VERSION.match(pyr.provenance.convention)
        if m and m.group(1) in ("0.1", "0.2", "0.3"):
            out.append(Finding(
                "info", "metadata.not_validated",
                f"{pyr.provenance.convention} metadata is not validated (ome-zarr-models "
                "covers 0.4 and 0.5)",
                Location(image=pyr.path, key=key),
                "older OME-NGFF versions are read, but their metadata is not checked",
                "convert to OME-NGFF 0.4 or 0.5 (e.g. with ome-zarr-py) to have it validated",
            ))
    return out


# -- conventions that say the same thing twice ----------------------------------------------
def _numbers(value: Any) -> list[float] | None:
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return [float(v) for v in value]
    return None


def _disagree(
    pyr: Pyramid, i: int, lv: Level, what: str, a: Any, b: Any, where_a: str, where_b: str
) -> Finding:
    return Finding(
        "warning",
        "metadata.inconsistent",
        f"level {i} ({lv.path}): {what} is {a} in {where_a} but {b} in {where_b}",
        Location(image=pyr.path, level=i, path=lv.path, key=where_b),
        "readers that look in different places place or scale this level differently "
        f"(napari-chunkview uses {where_a})",
        "make both places agree (the pyramid consistency findings tell which value the "
        "level's shape supports)",
    )


def _n5_viewer(pyr: Pyramid) -> list[Finding]:
    scales = pyr.attributes.get("scales")
    if not isinstance(scales, list):
        return []
    out = []
    for i, lv in enumerate(pyr.stored_levels):
        own = _numbers(lv.attributes.get("downsamplingFactors"))
        declared = _numbers(scales[i]) if i < len(scales) else None
        if own is not None and declared is not None and own != declared:
            out.append(_disagree(
                pyr, i, lv, "downsamplingFactors (N5 order)", declared, own,
                f"{group_doc(pyr)} 'scales[{i}]'", _join(lv.path, "attributes.json"),
            ))
    return out


def _bdv(pyr: Pyramid) -> list[Finding]:
    out = []
    for i, lv in enumerate(pyr.stored_levels):
        root = getattr(getattr(lv.source, "sources", [lv.source])[0], "_root", None)
        paths = lv.attributes.get("stacked_paths") or [lv.path]
        if root is None:
            continue
        for path in paths:
            setup = path.split("/")[0] if path.startswith("setup") else ""
            if not setup:
                continue
            doc = root.get_json(_join(setup, "attributes.json")) or {}
            level_doc = root.get_json(_join(path, "attributes.json")) or {}
            factors = doc.get("downsamplingFactors")
            declared = (
                _numbers(factors[i]) if isinstance(factors, list) and i < len(factors) else None
            )
            own = _numbers(level_doc.get("downsamplingFactors"))
            if declared is not None and own is not None and declared != own:
                out.append(_disagree(
                    pyr, i, lv, "downsamplingFactors (N5 order)", declared, own,
                    f"{setup}/attributes.json", _join(path, "attributes.json"),
                ))
            dtype = doc.get("dataType")
            if isinstance(dtype, str) and dtype != level_doc.get("dataType", dtype):
                out.append(_disagree(
                    pyr, i, lv, "dataType", dtype, level_doc.get("dataType"),
                    f"{setup}/attributes.json", _join(path, "attributes.json"),
                ))
            break  # one view per level is enough: stacking already checked the others
    return out


def _cosem(pyr: Pyramid) -> list[Finding]:
    ms = pyr.attributes.get("multiscales")
    if not isinstance(ms, list) or not ms or not isinstance(ms[0], Mapping):
        return []
    datasets = ms[0].get("datasets")
    if not isinstance(datasets, list):
        return []
    by_path = {d.get("path"): d for d in datasets if isinstance(d, Mapping)}
    out = []
    for i, lv in enumerate(pyr.stored_levels):
        rel = lv.path[len(pyr.path) + 1 :] if pyr.path and lv.path.startswith(pyr.path) else lv.path
        group_tf = (by_path.get(rel) or {}).get("transform")
        own_tf = lv.attributes.get("transform")
        if not isinstance(group_tf, Mapping) or not isinstance(own_tf, Mapping):
            continue
        for key in ("scale", "translate", "axes"):
            a, b = group_tf.get(key), own_tf.get(key)
            if a is not None and b is not None and list(a) != list(b):
                out.append(_disagree(
                    pyr, i, lv, f"transform.{key}", list(a), list(b),
                    f"{group_doc(pyr)} multiscales[0].datasets", array_doc(pyr, lv),
                ))
    return out


_CONVENTION_CHECKS = {"n5-viewer": _n5_viewer, "BigDataViewer N5": _bdv, "COSEM": _cosem}


def convention_findings(pyramid: Pyramid) -> list[Finding]:
    out: list[Finding] = []
    for pyr in pyramid.walk():
        check = _CONVENTION_CHECKS.get(pyr.provenance.convention)
        if check is not None:
            out.extend(check(pyr))
    return out


def metadata_findings(pyramid: Pyramid) -> list[Finding]:
    return open_warnings(pyramid) + convention_findings(pyramid)

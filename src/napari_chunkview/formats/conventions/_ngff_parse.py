"""Pure parsers for OME-NGFF pieces: axes, coordinate transformations, omero channels and
image-label colours. Fatal problems raise ``MetadataError`` naming the JSON key; problems
that leave the meaning clear are appended to a ``warnings`` list."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...model import Axis, MetadataError, UnsupportedError
from ._base import axis_type, axis_type_for, check_scale, default_axes, numbers
from ._ngff_doc import IMPLICIT_5D

TCZYX = (
    Axis("t", "time"),
    Axis("c", "channel"),
    Axis("z", "space"),
    Axis("y", "space"),
    Axis("x", "space"),
)
AXIS_TYPES = ("space", "time", "channel")
#: Versions without a validator: the readers' own rule checks run instead.
UNVALIDATED = ("0.3", "0.6")
#: What a dataset's coordinateTransformations may be (0.4+; 0.6 also a sequence).
SPEC_TRANSFORMS = (["scale"], ["scale", "translation"], ["sequence"])

Affine = tuple[list[float], list[float]]  # per-axis scale, translation


def parse_axes(
    m: Mapping[str, Any],
    loc: str,
    version: str,
    ndim: int,
    dims: Sequence[str | None] | None,
    warnings: list[str],
) -> tuple[Axis, ...]:
    raw = m.get("axes")
    if version in IMPLICIT_5D or raw is None:
        if ndim == 5:
            if version not in IMPLICIT_5D:
                warnings.append(f"{loc}.axes is missing; read as t, c, z, y, x")
            return TCZYX
        axes = default_axes(ndim, dims)
        what = (
            f"OME-NGFF {version} implies 5-D t, c, z, y, x" if version in IMPLICIT_5D else "no axes"
        )
        warnings.append(
            f"{loc}.axes is missing and the arrays are {ndim}-D ({what}); "
            f"axes named {', '.join(a.name for a in axes)}"
        )
        return axes
    if not isinstance(raw, list):
        raise MetadataError(f"{loc}.axes must be a list, got {raw!r}")
    if len(raw) != ndim:
        raise MetadataError(f"{loc}.axes lists {len(raw)} axes but the arrays are {ndim}-D")
    axes = tuple(_axis(a, f"{loc}.axes[{i}]", i, warnings) for i, a in enumerate(raw))
    if version in UNVALIDATED:
        warnings.extend(check_axes(axes, f"{loc}.axes", version))
    if dims and any(d and d != a.name for d, a in zip(dims, axes, strict=False)):
        warnings.append(
            f"the arrays' dimension_names {list(dims)} differ from {loc}.axes "
            f"{[a.name for a in axes]}"
        )
    return axes


def _axis(a: Any, loc: str, i: int, warnings: list[str]) -> Axis:
    if isinstance(a, str):
        return Axis(a, axis_type_for(a))
    if not isinstance(a, Mapping):
        raise MetadataError(f"{loc} must be a name or an object, got {a!r}")
    name = a.get("name")
    if not isinstance(name, str) or not name:
        name = f"dim_{i}"
        warnings.append(f"{loc}.name is missing; named {name!r}")
    kind = a.get("type")
    if kind is None:
        kind = axis_type_for(name)
    elif kind not in AXIS_TYPES:
        if kind != "custom":
            warnings.append(f"{loc}.type {kind!r} is not space, time or channel; read as custom")
        kind = "custom"
    unit = a.get("unit")
    if unit is None and "units" in a:
        unit = a["units"]
        warnings.append(f"{loc} has 'units' where the spec says 'unit'; read as its unit")
    if unit is not None and not isinstance(unit, str):
        warnings.append(f"{loc}.unit {unit!r} is not a string; ignored")
        unit = None
    return Axis(name, axis_type(kind, name), unit or None)


def check_axes(axes: Sequence[Axis], loc: str, version: str) -> list[str]:
    """The spec's axis rules, for versions no validator covers (0.3, dev 0.6): 2-5 axes
    with unique names; 0.3: only t, c, z, y, x in that order; later: 2-3 space axes last,
    at most one time and one channel axis, time first."""
    out = []
    names = [a.name for a in axes]
    if not 2 <= len(names) <= 5:
        out.append(f"{loc} has {len(names)} axes; the spec allows 2 to 5")
    if len(set(names)) != len(names):
        out.append(f"{loc} names {names} are not unique")
    if version == "0.3":
        order = "tczyx"
        unknown = [n for n in names if n not in order]
        if unknown:
            out.append(f"{loc} has {unknown}; 0.3 allows only t, c, z, y, x")
        known = [order.index(n) for n in names if n in order]
        if known != sorted(known):
            out.append(f"{loc} {names} are not in t, c, z, y, x order")
        return out
    types = [a.type for a in axes]
    n_space = types.count("space")
    if not 2 <= n_space <= 3 or types[len(types) - n_space :] != ["space"] * n_space:
        out.append(f"{loc} must end with 2 or 3 space axes, got types {types}")
    if types.count("time") > 1 or types.count("channel") > 1:
        out.append(f"{loc} has more than one time or channel axis: {types}")
    if "time" in types and types.index("time") != 0:
        out.append(f"{loc}: the time axis must come first, got types {types}")
    return out


# -- coordinate transformations ------------------------------------------------------------
def _scale(t: Mapping[str, Any], ndim: int, loc: str, acc: Affine, w: list[str]) -> None:
    s = numbers(t.get("scale"), ndim, f"{loc}.scale")
    check_scale(s, f"{loc}.scale")
    acc[0][:] = [a * b for a, b in zip(acc[0], s, strict=True)]
    acc[1][:] = [a * b for a, b in zip(acc[1], s, strict=True)]


def _translation(t: Mapping[str, Any], ndim: int, loc: str, acc: Affine, w: list[str]) -> None:
    v = numbers(t.get("translation"), ndim, f"{loc}.translation")
    if not all(math.isfinite(x) for x in v):
        raise MetadataError(f"{loc}.translation must be finite, got {list(v)}")
    acc[1][:] = [a + b for a, b in zip(acc[1], v, strict=True)]


def _identity(t: Mapping[str, Any], ndim: int, loc: str, acc: Affine, w: list[str]) -> None:
    return None


def _sequence(t: Mapping[str, Any], ndim: int, loc: str, acc: Affine, w: list[str]) -> None:
    inner = t.get("transformations")
    if not isinstance(inner, list):
        raise MetadataError(f"{loc}.transformations must be a list, got {inner!r}")
    apply_transforms(inner, ndim, f"{loc}.transformations", acc, w)


#: RFC-5 (0.6) transforms this reader does not apply: valid, but not supported yet.
DEV_TRANSFORMS = frozenset(
    {
        "affine",
        "rotation",
        "mapAxis",
        "byDimension",
        "displacements",
        "coordinates",
        "bijection",
        "inverseOf",
    }
)
_Handler = Callable[[Mapping[str, Any], int, str, Affine, list[str]], None]
HANDLERS: Mapping[str, _Handler] = {
    "scale": _scale,
    "translation": _translation,
    "identity": _identity,
    "sequence": _sequence,
}


def apply_transforms(
    transforms: Sequence[Any], ndim: int, loc: str, acc: Affine, warnings: list[str]
) -> list[str]:
    """Compose ``transforms`` (applied in the order given) onto ``acc``; returns the
    types applied. Transforms stored in files (``path``) are skipped with a warning."""
    kinds = []
    for j, t in enumerate(transforms):
        tloc = f"{loc}[{j}]"
        if not isinstance(t, Mapping):
            raise MetadataError(f"{tloc} must be an object, got {t!r}")
        kind = t.get("type")
        if "path" in t and kind in ("scale", "translation") and kind not in t:
            warnings.append(f"{tloc}: a {kind} stored in {t['path']!r} is not read; ignored")
            continue
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            error = UnsupportedError if kind in DEV_TRANSFORMS else MetadataError
            raise error(
                f"{tloc}.type {kind!r}: only scale, translation, identity and sequence "
                "transforms are supported"
            )
        handler(t, ndim, tloc, acc, warnings)
        kinds.append(str(kind))
    return kinds


def dataset_transform(
    ds: Mapping[str, Any], ndim: int, loc: str, version: str, warnings: list[str]
) -> Affine | None:
    """A dataset's scale and translation (``None`` when it has none to give)."""
    cts = ds.get("coordinateTransformations")
    key = f"{loc}.coordinateTransformations"
    if cts is None or cts == []:
        if version not in (*IMPLICIT_5D, "0.3"):
            what = "missing" if cts is None else "empty"
            warnings.append(f"{key} is {what}; scale taken from the level shapes")
        return None
    if not isinstance(cts, list):
        raise MetadataError(f"{key} must be a list, got {cts!r}")
    acc: Affine = ([1.0] * ndim, [0.0] * ndim)
    kinds = apply_transforms(cts, ndim, key, acc, warnings)
    if version not in (*IMPLICIT_5D, "0.3") and kinds not in SPEC_TRANSFORMS:
        warnings.append(
            f"{key} is {kinds}; the spec asks for one scale then an optional translation "
            "(composed in the order given)"
        )
    return acc


def axes_source(m: Mapping[str, Any], target: Any = None) -> Mapping[str, Any]:
    """0.6 keeps the axes in ``coordinateSystems``: use ``target`` (where the multiscale's
    own transforms lead), else the one the datasets map into, else the first."""
    systems = m.get("coordinateSystems")
    if not isinstance(systems, list) or not systems:
        return m
    datasets = m.get("datasets")
    if (
        target is None
        and isinstance(datasets, list)
        and datasets
        and isinstance(datasets[0], Mapping)
    ):
        cts = datasets[0].get("coordinateTransformations")
        if isinstance(cts, list) and cts and isinstance(cts[-1], Mapping):
            out = cts[-1].get("output")
            target = out.get("name") if isinstance(out, Mapping) else out
    for cs in systems:
        if isinstance(cs, Mapping) and cs.get("name") == target:
            return cs
    return systems[0] if isinstance(systems[0], Mapping) else m

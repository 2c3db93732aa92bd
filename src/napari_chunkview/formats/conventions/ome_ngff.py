"""OME-NGFF 0.1-0.5 (and dev/0.6 best effort): multiscale images, label images, the
bioformats2raw layout; HCS plates and wells are recognised and refused clearly.

Versions are told apart in ``_ngff_doc``; axes, transforms, omero and image-label are
parsed in ``_ngff_parse``; 0.4/0.5 documents are validated by ome-zarr-models in
``_ngff_validate`` (problems that do not stop the image become ``Pyramid.warnings``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ...model import ChunkviewError, Level, MetadataError, Provenance, Pyramid
from .._base import ArrayInfo, Node
from ._base import largest_first, located, make_level, open_level, where
from ._ngff_display import check_label, parse_label_colors, parse_omero
from ._ngff_doc import IMPLICIT_5D, NgffDoc, find_doc, ome_container
from ._ngff_groups import refuse_hcs, series_paths
from ._ngff_parse import Affine, apply_transforms, axes_source, dataset_transform, parse_axes
from ._ngff_validate import validate


def _ngff_multiscales(ms: Any) -> bool:
    """OME-NGFF's ``multiscales`` is a list; COSEM's list (``datasets[].transform``, see
    ``cosem.py``) and n5-universe's object form are other conventions."""
    from .cosem import is_cosem_multiscales

    return isinstance(ms, list) and not is_cosem_multiscales(ms)


class OmeNgff:
    name = "OME-NGFF"

    #: (key in the group's attributes or ``attributes.ome``, what it means), in the order
    #: they are tried; ``build`` dispatches on the same key.
    KEYS: tuple[tuple[str, str], ...] = (
        ("plate", "an OME-NGFF HCS plate"),
        ("well", "an OME-NGFF HCS well"),
        ("multiscales", "an OME-NGFF multiscale image"),
        ("bioformats2raw.layout", "a bioformats2raw layout (OME-NGFF series)"),
        ("labels", "an OME-NGFF labels group"),
    )

    def _key(self, node: Node) -> str | None:
        if node.kind != "group":
            return None
        container, _ = ome_container(node.attrs)
        for key, _what in self.KEYS:
            if key in container and (key != "multiscales" or _ngff_multiscales(container[key])):
                return key
        return None

    def match(self, node: Node) -> str | None:
        key = self._key(node)
        if key is None:
            return None
        container, prefix = ome_container(node.attrs)
        what = dict(self.KEYS)[key]
        version = container.get("version") if prefix else _declared(container)
        tag = f" (version {version})" if isinstance(version, str) else ""
        return f"{what}: '{prefix}{key}' in the {node.format} group attributes{tag}"

    def build(self, node: Node, reason: str) -> Pyramid:
        handlers: Mapping[str, Callable[[Node, str], Pyramid]] = {
            "plate": refuse_hcs,
            "well": refuse_hcs,
            "multiscales": self.image,
            "bioformats2raw.layout": self._bioformats2raw,
            "labels": self._labels_group,
        }
        key = self._key(node)
        if key is None:
            raise MetadataError(f"{where(node)}: not an OME-NGFF group")
        with located(node):
            return handlers[key](node, reason)

    # -- images ----------------------------------------------------------------------------
    def image(self, node: Node, reason: str, with_labels: bool = True) -> Pyramid:
        doc = find_doc(node.attrs)
        w: list[str] = list(doc.warnings)
        m, loc = doc.multiscale, doc.loc
        if doc.version == "0.6":
            w.append("OME-NGFF 0.6 (dev, RFC-5 coordinateSystems) is read best effort")
        if doc.prefix and node.format != "zarr v3":
            w.append(f"attributes.ome (OME-NGFF 0.5+) belongs in Zarr v3; found in {node.format}")
        datasets = m.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            raise MetadataError(f"{loc}.datasets must be a non-empty list, got {datasets!r}")
        opened: list[tuple[Node, ArrayInfo, Mapping[str, Any]]] = []
        for i, ds in enumerate(datasets):
            if not isinstance(ds, Mapping):
                raise MetadataError(f"{loc}.datasets[{i}] must be an object, got {ds!r}")
            child, info = open_level(node, ds.get("path"), f"{loc}.datasets[{i}].path")
            opened.append((child, info, ds))
        ndim = len(opened[0][1].source.shape)
        for child, info, _ in opened:
            if len(info.source.shape) != ndim:
                raise MetadataError(
                    f"{loc}.datasets: {child.name!r} is {len(info.source.shape)}-D but "
                    f"{opened[0][0].name!r} is {ndim}-D"
                )
        outer, target = self._outer(doc, ndim, w)
        axes = parse_axes(
            axes_source(m, target), loc, doc.version, ndim, opened[0][1].dimension_names, w
        )
        levels = self._levels(doc, opened, ndim, outer, w)
        is_label = isinstance(doc.image_label, Mapping)
        found = validate(doc, is_label)
        if is_label and not any("image-label" in x for x in found):
            found.extend(check_label(doc.image_label, f"{doc.prefix}image-label"))
        w.extend(found)
        labels: tuple[Pyramid, ...] = ()
        if with_labels and not is_label:
            labels = self._labels_of(node, w)
        channels = () if is_label else parse_omero(doc.omero, f"{doc.prefix}omero", w)
        if channels and axes and _channel_count(axes, levels[0]) not in (None, len(channels)):
            w.append(
                f"{doc.prefix}omero lists {len(channels)} channels but the channel axis has "
                f"{_channel_count(axes, levels[0])}"
            )
        colors = parse_label_colors(doc.image_label, f"{doc.prefix}image-label", w)
        name = m.get("name")
        notes = "; ".join(doc.notes)
        return Pyramid(
            uri=node.root.uri,
            name=name.strip("/") if isinstance(name, str) and name.strip("/") else node.name,
            levels=tuple(levels),
            axes=axes,
            provenance=Provenance(
                node.format,
                f"OME-NGFF {doc.version}",
                f"{reason}; {notes}" if notes else reason,
                opened[0][1].format_details,
            ),
            channels=channels,
            labels=labels,
            kind="labels" if is_label else "image",
            attributes=dict(node.attrs),
            path=node.path,
            label_colors=colors,
            warnings=tuple(dict.fromkeys(w)),
        )

    def _outer(self, doc: NgffDoc, ndim: int, w: list[str]) -> tuple[Affine, Any]:
        """The multiscale-level transforms (applied after each dataset's), and for dev 0.6
        the coordinate system they lead to (``None`` otherwise)."""
        m, loc = doc.multiscale, doc.loc
        outer: Affine = ([1.0] * ndim, [0.0] * ndim)
        top = m.get("coordinateTransformations")
        key = f"{loc}.coordinateTransformations"
        if top is None:
            return outer, None
        if not isinstance(top, list):
            raise MetadataError(f"{key} must be a list, got {top!r}")
        if doc.version != "0.6":
            apply_transforms(top, ndim, key, outer, w)
            return outer, None
        try:  # 0.6: between coordinate systems; scale/translation ones are applied
            apply_transforms(top, ndim, key, outer, w)
        except ChunkviewError as e:
            w.append(f"{key} not applied ({e})")
            return ([1.0] * ndim, [0.0] * ndim), None
        last = top[-1] if top and isinstance(top[-1], Mapping) else {}
        out = last.get("output")
        return outer, out.get("name") if isinstance(out, Mapping) else out

    def _levels(
        self,
        doc: NgffDoc,
        opened: list[tuple[Node, ArrayInfo, Mapping[str, Any]]],
        ndim: int,
        outer: Affine,
        w: list[str],
    ) -> list[Level]:
        loc = doc.loc
        if largest_first(opened, lambda o: o[1].source.shape):
            w.append(f"{loc}.datasets are not listed largest first; sorted by size")
        transforms = [
            None
            if doc.version in (*IMPLICIT_5D, "0.3")
            else dataset_transform(ds, ndim, f"{loc}.datasets[{i}]", doc.version, w)
            for i, (_, _, ds) in enumerate(opened)
        ]
        base = opened[0][1].source.shape
        levels = []
        for (child, info, _), tf in zip(opened, transforms, strict=True):
            if tf is None:  # 0.1-0.3 (or no transforms): relative to the first level's shape
                shape = info.source.shape
                tf = ([b / s if s else 1.0 for b, s in zip(base, shape, strict=True)], [0.0] * ndim)
            scale = [s * o for s, o in zip(tf[0], outer[0], strict=True)]
            trans = [t * o + ot for t, o, ot in zip(tf[1], outer[0], outer[1], strict=True)]
            levels.append(make_level(child, info, scale, trans))
        return levels

    def _labels_of(self, node: Node, w: list[str]) -> tuple[Pyramid, ...]:
        """The ``labels`` group's images; a broken one is skipped with a warning."""
        try:
            group = node.child("labels")
        except Exception as e:  # never fail the image because of its labels
            w.append(f"labels: skipped ({e})")
            return ()
        if group is None:
            return ()
        names = ome_container(group.attrs)[0].get("labels")
        if not isinstance(names, list):
            w.append(f"{where(group)}: 'labels' is not a list of label names; labels skipped")
            return ()
        out = []
        for name in names:
            try:
                if not isinstance(name, str):
                    raise MetadataError(f"label name {name!r} is not a string")
                lab = group.child(name)
                if lab is None:
                    raise MetadataError("listed in labels but not found")
                pyr = self.image(
                    lab, f"an OME-NGFF label image listed in {group.path or '.'}", False
                )
                if pyr.kind != "labels":
                    pyr = replace(pyr, kind="labels", warnings=(*pyr.warnings, "no image-label"))
                out.append(pyr)
            except Exception as e:  # a broken label image must not take the image down
                w.append(f"labels/{name}: skipped ({e})")
        return tuple(out)

    # -- other OME-NGFF groups -----------------------------------------------------------
    def _labels_group(self, node: Node, reason: str) -> Pyramid:
        """A ``labels`` group opened directly: its first label image."""
        w: list[str] = []
        names = ome_container(node.attrs)[0].get("labels")
        if not isinstance(names, list) or not names or not isinstance(names[0], str):
            raise MetadataError(f"'labels' must list label image names, got {names!r}")
        child = node.child(names[0])
        if child is None:
            raise MetadataError(f"labels[0] {names[0]!r}: no group at {where(node)}/{names[0]}")
        pyr = self.image(child, f"{reason}; showing labels[0] {names[0]!r}", False)
        if len(names) > 1:
            w.append(f"this labels group holds {len(names)} label images; showing {names[0]!r}")
        return replace(pyr, kind="labels", warnings=(*pyr.warnings, *w))

    def _bioformats2raw(self, node: Node, reason: str) -> Pyramid:
        """Series 0 of a bioformats2raw layout, saying how many series there are."""
        series = series_paths(node)
        first = series[0] if series else "0"
        child = node.child(first)
        if child is None or "multiscales" not in ome_container(child.attrs)[0]:
            raise MetadataError(f"bioformats2raw.layout: no image at series {first!r}")
        pyr = self.image(child, f"{reason}; series {first!r}")
        if len(series) > 1:
            note = (
                f"bioformats2raw layout with {len(series)} series; showing series {first!r} "
                f"(open {where(node)}/<series> for the others: {', '.join(series[:8])}"
                f"{' …' if len(series) > 8 else ''})"
            )
            pyr = replace(pyr, warnings=(note, *pyr.warnings))
        return pyr


def _declared(container: Mapping[str, Any]) -> Any:
    ms = container.get("multiscales")
    if isinstance(ms, list) and ms and isinstance(ms[0], Mapping):
        return ms[0].get("version")
    return None


def _channel_count(axes: Any, level: Level) -> int | None:
    for i, a in enumerate(axes):
        if a.type == "channel":
            return level.shape[i]
    return None

"""Validate OME-NGFF 0.4 / 0.5 attributes with ome-zarr-models and say what is wrong in one
line per document (the JSON location and the problem of the first few errors).

ome-zarr-models (pydantic) costs about 0.2 s to import on top of zarr, so it is imported
here, on the first 0.4/0.5 document, never at module import.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import time
import warnings as pywarnings
from collections.abc import Iterator, Mapping
from typing import Any

from ._ngff_doc import NgffDoc

#: (version, is a label image) → (module, model) in ome-zarr-models.
MODELS: Mapping[tuple[str, bool], tuple[str, str]] = {
    ("0.4", False): ("ome_zarr_models.v04.image", "ImageAttrs"),
    ("0.4", True): ("ome_zarr_models.v04.image_label", "ImageLabelAttrs"),
    ("0.5", False): ("ome_zarr_models.v05.image", "ImageAttrs"),
    ("0.5", True): ("ome_zarr_models.v05.image_label", "ImageLabelAttrs"),
}
MAX_ERRORS = 3
#: Seconds spent importing ome-zarr-models (``None`` until first used).
import_seconds: float | None = None


def _model(version: str, is_label: bool) -> Any:
    global import_seconds
    module, name = MODELS[(version, is_label)]
    t0 = time.perf_counter()
    mod = importlib.import_module(module)
    if import_seconds is None:
        import_seconds = time.perf_counter() - t0
    return getattr(mod, name)


def _location(prefix: str, loc: tuple[Any, ...]) -> str:
    """pydantic's ``('multiscales', 0, 'axes')`` → ``multiscales[0].axes``, cut where
    pydantic's union bookkeeping (``tuple[union[…]]``, model names) begins."""
    out = prefix.rstrip(".")
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part[:1].isupper():
            break
        else:
            out += f".{part}" if out else part
    return out or "(document)"


#: While set (``deferred()``), ``validate`` does nothing: opens that must be quick (the
#: napari reader) leave validation to ``validation_warnings`` later, off the clock.
_DEFER: contextvars.ContextVar[bool] = contextvars.ContextVar("ngff_validation_deferred",
                                                               default=False)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    token = _DEFER.set(True)
    try:
        yield
    finally:
        _DEFER.reset(token)


def validation_warnings(attributes: Mapping[str, Any], is_label: bool) -> list[str]:
    """``validate`` on an image group's attributes (as kept in ``Pyramid.attributes``);
    [] when they hold no OME-NGFF image document."""
    from ...model import ChunkviewError
    from ._ngff_doc import find_doc

    try:
        doc = find_doc(attributes)
    except ChunkviewError:
        return []
    token = _DEFER.set(False)
    try:
        return validate(doc, is_label)
    finally:
        _DEFER.reset(token)


def validate(doc: NgffDoc, is_label: bool) -> list[str]:
    """Warnings for a 0.4 / 0.5 document that does not validate ([] when it does, for
    other versions, or while validation is ``deferred``)."""
    if (doc.version, is_label) not in MODELS or _DEFER.get():
        return []
    try:
        model = _model(doc.version, is_label)
    except ImportError as e:  # optional: opening never depends on validation
        return [f"OME-NGFF {doc.version} metadata not validated (ome-zarr-models: {e})"]
    from pydantic import ValidationError

    found: list[str] = []
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        try:
            model.model_validate(dict(doc.container))
        except ValidationError as e:
            seen: list[str] = []
            for err in e.errors():
                msg = str(err.get("msg", "")).removeprefix("Value error, ")
                text = f"{_location(doc.prefix, tuple(err.get('loc', ())))}: {msg}"
                if text not in seen:
                    seen.append(text)
            more = f" (+{len(seen) - MAX_ERRORS} more)" if len(seen) > MAX_ERRORS else ""
            found.append(
                f"OME-NGFF {doc.version} metadata does not validate: "
                + "; ".join(seen[:MAX_ERRORS])
                + more
            )
        except Exception as e:  # a validator bug must not stop the image from opening
            found.append(f"OME-NGFF {doc.version} metadata could not be validated ({e})")
    for w in caught:
        found.append(f"OME-NGFF {doc.version}: {w.message}")
    return found


def pyramid_validation(pyramid: Any, labels: bool = True) -> list[str]:
    """What ome-zarr-models says of an OME-NGFF ``Pyramid`` opened with validation
    deferred (with ``labels``, its labels' documents too, prefixed ``labels/<name>:``),
    minus what ``Pyramid.warnings`` already says; [] for other conventions."""
    if not str(pyramid.provenance.convention).startswith("OME-NGFF"):
        return []
    have = set(pyramid.warnings)
    out = [w for w in validation_warnings(pyramid.attributes, pyramid.kind == "labels")
           if w not in have]
    for lab in pyramid.labels if labels else ():
        name = lab.path.rsplit("/", 1)[-1] or lab.name
        out.extend(f"labels/{name}: {w}" for w in pyramid_validation(lab))
    return out

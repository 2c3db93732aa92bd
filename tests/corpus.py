"""Helpers for tests that read the shared conformance corpus (read-only)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO.parent / "shared" / "corpus").resolve()
SKIP_REASON = (
    f"conformance corpus not found at {CORPUS} (it lives in ../shared/corpus beside the repo)"
)


@cache
def manifest() -> dict[str, Any]:
    if not (CORPUS / "manifest.json").is_file():
        return {"records": [], "groups": []}
    return json.loads((CORPUS / "manifest.json").read_text())


def records_with_data() -> list[dict[str, Any]]:
    return [r for r in manifest()["records"] if "sha256" in r]


def record_path(rec: dict[str, Any]) -> str:
    """The path to open for a record: ``container::inner`` becomes ``container/inner``
    (a path into a zip file, or a node inside a container)."""
    path = rec["path"]
    if "::" in path:
        container, inner = path.split("::", 1)
        return str(CORPUS / container / inner.strip("/"))
    return str(CORPUS / path)


def ground_truth_sha256(arr: np.ndarray, kind: str | None) -> str:
    """The corpus README's convention: bytes in C order, little-endian; object and
    variable-length string arrays hash ``json.dumps(arr.tolist(), ensure_ascii=False)``."""
    if kind == "json-list" or arr.dtype == object or arr.dtype.kind == "T":
        text = json.dumps(arr.tolist(), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def expected_sha256(rec: dict[str, Any]) -> str:
    """The true checksum: ``sha256_true`` where the reference reader misread the data
    (the corpus traps), else ``sha256``."""
    return str(rec.get("sha256_true", rec["sha256"]))

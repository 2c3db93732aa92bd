"""The report formats: JSON validated against the schema documented in
``docs/qc-report.md`` (the same file ships in the package), the ``Finding`` model, and the
self-contained HTML page."""

from __future__ import annotations

import base64
import json
import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from napari_chunkview.model import Finding, Location, ranked
from napari_chunkview.qc import QCReport, failed_open_report, html_report, run_qc

from .conftest import Written, chunk_file, garbage

jsonschema = pytest.importorskip("jsonschema")
DOC = Path(__file__).resolve().parents[2] / "docs" / "qc-report.md"
PACKAGED = DOC.parents[1] / "src" / "napari_chunkview" / "qc" / "report.schema.json"


@cache
def schema() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    pattern = r"<!-- schema:begin -->\s*```json\n(.*?)```\s*<!-- schema:end -->"
    block = re.search(pattern, text, re.S)
    assert block, "docs/qc-report.md must hold the schema between the schema markers"
    doc: dict[str, Any] = json.loads(block.group(1))
    jsonschema.Draft202012Validator.check_schema(doc)
    return doc


def validate(report: QCReport) -> dict[str, Any]:
    data = json.loads(report.to_json())
    jsonschema.Draft202012Validator(schema()).validate(data)
    return data


def test_documented_schema_is_the_packaged_one() -> None:
    assert schema() == json.loads(PACKAGED.read_text(encoding="utf-8"))


def test_reports_validate(ngff: Written, sharded: Written, tmp_path: Path) -> None:
    assert validate(run_qc(ngff.path))["findings"] == []
    chunk_file(ngff, 0, (1, 1, 1))[0].unlink()
    garbage(chunk_file(ngff, 1, (0, 0, 0))[0])
    data = validate(run_qc(ngff.path, sample=0.5))
    assert data["summary"]["error"] >= 1 and data["options"]["sample"] == 0.5
    assert data["findings"][0]["where"]["chunk"] is not None
    validate(run_qc(sharded.path, level=0))
    validate(failed_open_report(str(tmp_path / "nothing.zarr"), FileNotFoundError("nope")))
    cancel = threading.Event()
    cancel.set()
    partial = validate(run_qc(ngff.path, cancel=cancel))
    assert partial["complete"] is False


def test_schema_rejects_a_broken_report(ngff: Written) -> None:
    data = json.loads(run_qc(ngff.path).to_json())
    data["findings"] = [{"severity": "fatal", "code": "x", "what": "", "where": {}}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(data)


def test_finding_model() -> None:
    where = Location(level=1, path="s1", chunk=(0, 2, 3), key="s1/c/0/2/3")
    f = Finding("error", "chunk.undecodable", "bad", where, "why", "fix")
    assert Finding.from_dict(f.to_dict()) == f
    assert where.describe() == "level 1 (s1), chunk (0, 2, 3), key s1/c/0/2/3"
    info = Finding("info", "chunk.missing", "n", Location(level=0), "", "", count=3)
    warn = Finding("warning", "stats.nan", "n", Location(level=0), "", "")
    assert ranked([info, f, warn]) == (f, warn, info)
    with pytest.raises(ValueError):
        Finding("fatal", "x", "", Location(), "", "")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        f.code = "other"  # type: ignore[misc]


def test_html_is_self_contained(ngff: Written) -> None:
    chunk_file(ngff, 0, (1, 2, 1))[0].unlink()
    page = html_report(run_qc(ngff.path))
    assert page.startswith("<!DOCTYPE html>") and "chunk.missing_data" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "<script" not in page and "@import" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 + 3  # the histogram and one chunk-state map per level
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")

"""The corpus's N5 and zarr v3 *draft* (zarrita 2020–21) records, through ``open_pyramid``.

Ground truth per ``corpus/README.md``: sha256 of the C-order, little-endian bytes; N5
hashes are of the reversed-axis (C order) view, which is what the plugin shows.

Record paths ``container::/inner`` (only the zarrita draft here) are opened two ways:
as the path ``container/inner`` (``open_root`` splits a path into a draft container into
container + logical node path) and as the container's root node, then ``child(inner)``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from napari_chunkview import MetadataError, UnsupportedError, open_pyramid
from napari_chunkview.formats import ReadEvent, open_node, open_root, pyramid_from_node
from napari_chunkview.loading import attach
from tests.corpus import CORPUS, SKIP_REASON, ground_truth_sha256, manifest

pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not CORPUS.is_dir(), reason=SKIP_REASON)]

ZARRITA = CORPUS / "zarr_implementations/data/zarrita.zr3"


def _ours(rec: dict[str, Any]) -> bool:
    fmt = rec.get("format", "")
    return fmt == "N5" or fmt.lower().startswith("zarr v3 draft")


RECORDS = [r for r in manifest()["records"] if _ours(r)]
WITH_DATA = [r for r in RECORDS if "sha256" in r]
METADATA_ONLY = [r for r in RECORDS if r.get("format") == "N5" and r.get("stored_chunk_files") == 0]


def test_the_corpus_has_our_records() -> None:
    assert len([r for r in WITH_DATA if r["format"] == "N5"]) >= 20
    assert len([r for r in WITH_DATA if r["format"] != "N5"]) == 4


@pytest.mark.parametrize("rec", WITH_DATA, ids=[r["path"] for r in WITH_DATA])
def test_record_matches_ground_truth(rec: dict[str, Any]) -> None:
    container, _, inner = rec["path"].partition("::")
    pyr = open_pyramid(CORPUS / container / inner.strip("/"))
    data = pyr.levels[0].data.compute()
    shape = rec["shape"][::-1] if rec["format"] == "N5" else rec["shape"]
    assert list(data.shape) == list(shape)
    assert ground_truth_sha256(data, rec.get("sha256_kind")) == rec["sha256"]
    if inner:  # the same array as a node of the opened container
        node = open_node(CORPUS / container).child(inner.strip("/"))
        assert node is not None and node.kind == "array"
        data2 = attach(pyramid_from_node(node)).levels[0].data.compute()
        assert ground_truth_sha256(data2, rec.get("sha256_kind")) == rec["sha256"]


@pytest.mark.parametrize("rec", METADATA_ONLY, ids=[r["path"] for r in METADATA_ONLY])
def test_metadata_only_datasets_open_lazily(rec: dict[str, Any]) -> None:
    root, _ = open_root(CORPUS / rec["path"])
    reads: list[ReadEvent] = []
    root.add_listener(reads.append)
    lv = open_pyramid(root).levels[0]
    assert list(lv.shape) == rec["shape"][::-1]
    assert list(lv.grid.chunk_shape) == rec["chunks"][::-1]
    assert lv.dtype == np.dtype(rec["dtype_meta"])  # native byte order
    assert [r.key for r in reads if not r.metadata] == []
    corner = np.asarray(lv.data[(slice(0, 2),) * len(lv.shape)])
    assert not corner.any()  # no blocks stored: N5 reads 0


def test_zarrita_draft_hierarchy() -> None:
    root = open_node(ZARRITA)
    assert root.format == "zarr v3 draft" and root.kind == "group" and root.path == ""
    assert sorted(root.children()) == ["blosc", "gzip", "raw", "zlib"]
    blosc = root.child("blosc")  # an implicit group (no blosc.group.json)
    assert blosc is not None and blosc.kind == "group" and blosc.children() == ["lz4"]
    lz4 = blosc.child("lz4")
    assert lz4 is not None and lz4.kind == "array" and lz4.path == "blosc/lz4"
    assert root.child("nothing") is None
    info = lz4.array()
    assert info.key_template == "data/root/blosc/lz4/c{0}/{1}/{2}"
    assert info.source.chunk_key((5, 3, 2)) == "data/root/blosc/lz4/c5/3/2"
    assert (ZARRITA / info.source.chunk_key((5, 3, 2))).is_file()
    assert [c.name for c in info.codecs] == ["blosc"]


def test_zarrita_draft_missing_chunk_and_bad_codec(tmp_path: Path) -> None:
    copy = tmp_path / "z.zr3"
    shutil.copytree(ZARRITA, copy)
    full = open_pyramid(ZARRITA / "gzip").levels[0].data.compute()
    (copy / "data/root/gzip/c0/0/0").unlink()
    out = open_pyramid(copy / "gzip").levels[0].data.compute()
    full[:100, :100, 0] = 0  # fill_value null: missing chunks read as 0
    np.testing.assert_array_equal(out, full)

    meta = copy / "meta/root/zlib.array.json"
    doc = json.loads(meta.read_text())
    doc["compressor"]["codec"] = "https://purl.org/zarr/spec/codec/snappy/1.0"
    meta.write_text(json.dumps(doc))
    with pytest.raises(UnsupportedError, match="snappy"):
        open_pyramid(copy / "zlib")
    doc["chunk_grid"]["chunk_shape"] = "100,100,1"
    doc.pop("compressor")
    meta.write_text(json.dumps(doc))
    with pytest.raises(MetadataError, match=r"zlib\.array\.json"):
        open_pyramid(copy / "zlib")


def test_draft_path_form_only_inside_a_draft_container(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_pyramid(ZARRITA.parent / "z5py.n5" / "no" / "such")
    with pytest.raises(FileNotFoundError):
        open_pyramid(tmp_path / "missing" / "gzip")


def test_zarrita_draft_reads_real_chunk_keys() -> None:
    root, inner = open_root(ZARRITA / "blosc" / "lz4")
    assert inner == "blosc/lz4"
    reads: list[ReadEvent] = []
    root.add_listener(reads.append)
    node = open_node(root).child(inner)
    assert node is not None
    lv = pyramid_from_node(node).levels[0]
    key = lv.chunk_key((1, 2, 0))
    assert key == "data/root/blosc/lz4/c1/2/0" and root.map_key(key) == key
    lv.source.read(lv.grid.chunk_box((1, 2, 0)))  # exactly one storage chunk
    assert [r.key for r in reads if not r.metadata] == [key]

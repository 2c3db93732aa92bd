"""``StackedSource`` and the plain fallbacks (groups of level arrays without metadata)."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.formats import open_node
from napari_chunkview.formats._stacked import StackedSource, shift_template

from .conftest import Written


def test_plain_groups(plain_groups: dict[str, Written]) -> None:
    for first, w in plain_groups.items():
        pyr = open_pyramid(w.path)
        assert pyr.provenance.convention == "plain"
        assert [lv.path for lv in pyr.levels] == (
            [f"s{i}" for i in range(3)] if first == "s0" else ["0", "1", "2"]
        )
        base = w.levels[0].shape
        for level, written in zip(pyr.levels, w.levels, strict=True):
            assert level.scale == pytest.approx(
                [b / s for b, s in zip(base, written.shape, strict=True)]
            )
            np.testing.assert_array_equal(level.data.compute(), written)


def test_stacked_source_reads_and_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    arrays = [np.arange(60, dtype="int16").reshape(3, 4, 5) + 100 * i for i in range(6)]
    root = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    for i, a in enumerate(arrays):
        root.create_array(f"v{i}", data=a, chunks=(2, 2, 5))
    node = open_node(tmp_path / "s.zarr")
    sources = [node.child(f"v{i}").array().source for i in range(6)]  # type: ignore[union-attr]
    st = StackedSource(sources, (2, 3))
    expected = np.stack(arrays).reshape(2, 3, 3, 4, 5)
    assert st.shape == expected.shape and st.dtype == expected.dtype
    assert st.grid.chunk_shape == (1, 1, 2, 2, 5)
    np.testing.assert_array_equal(st.read([(0, 2), (0, 3), (0, 3), (0, 4), (0, 5)]), expected)
    np.testing.assert_array_equal(
        st.read([(1, 2), (1, 3), (1, 2), (2, 4), (1, 4)]), expected[1:2, 1:3, 1:2, 2:4, 1:4]
    )
    assert st.chunk_key((1, 2, 1, 0, 0)) == "v5/c/1/0/0"
    with pytest.raises(ValueError, match="cannot"):
        StackedSource(sources[:5], (2, 3))
    assert shift_template("a/{2}/{1}/{0}", 2) == "a/{4}/{3}/{2}"


def test_generic_attribute_names_do_not_claim_an_array(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``res`` / ``resolution`` / ``transform`` mean other things in other tools: only the
    shapes the conventions define claim an array."""
    attrs = {"resolution": "high", "res": 3, "transform": "none", "scales": "linear"}
    zarr.create_array(
        tmp_path / "a.zarr", shape=(4, 4), dtype="u1", zarr_format=2, attributes=attrs
    )
    assert open_pyramid(tmp_path / "a.zarr").provenance.convention == "array"

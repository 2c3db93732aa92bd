"""Large read buffers are allocated without numpy's transparent-huge-page hint
(``formats/_memory``), and numpy's own setting is left as it was."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from napari_chunkview.formats import _memory

_set = _memory._set_madvise_hugepage
pytestmark = pytest.mark.skipif(_set is None, reason="this numpy has no huge-page switch")


def _numpy_setting() -> bool:
    was = _set(True)
    _set(was)
    return bool(was)


@pytest.mark.parametrize("before", [True, False])
def test_numpy_setting_is_restored(before: bool) -> None:
    old = _set(before)
    try:
        for shape in [(3,), (2048, 2048), (64, 1024, 1024)]:
            a = _memory.empty(shape, np.uint16)
            assert a.shape == shape and a.dtype == np.uint16 and a.flags.c_contiguous
            a[...] = 1  # writable, and all of it is there
            assert _numpy_setting() is before
    finally:
        _set(old)


def test_concurrent_allocations_leave_the_setting_alone() -> None:
    before = _numpy_setting()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                _memory.empty((1024, 2048), np.uint16)[-1, -1] = 3
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and _numpy_setting() is before


def _vm_flags(addr: int) -> set[str]:
    """The kernel's flags for the mapping holding ``addr`` (``/proc/self/smaps``)."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(maxsplit=1)[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= addr < hi
            elif inside and head == "VmFlags:":
                return set(line.split()[1:])
    raise AssertionError(f"no mapping holds {addr:#x}")


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux's /proc")
def test_large_buffers_do_not_ask_for_huge_pages() -> None:
    old = _set(True)
    try:
        hinted = np.empty(64 << 20, np.uint8)  # numpy's own allocation: hinted ("hg")
        ours = _memory.empty(64 << 20, np.uint8)
        assert "hg" in _vm_flags(hinted.ctypes.data + (32 << 20))
        assert "hg" not in _vm_flags(ours.ctypes.data + (32 << 20))
    finally:
        _set(old)

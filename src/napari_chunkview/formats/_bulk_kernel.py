"""The compiled loop of ``_bulk`` (imported only by its warm-up thread: importing numba
and compiling or loading the loop takes long enough to keep off the first read)."""

from __future__ import annotations

import llvmlite.binding as llb  # type: ignore[import-untyped]
import numcodecs.blosc  # type: ignore[import-untyped]
import numpy as np
from numba import njit, types  # type: ignore[import-untyped]

from ._bulk import _BLOSC_OVERHEAD, FALLBACK, OK, RAW

# the c-blosc that numcodecs bundles exports its C API; open/read/close come from libc
llb.load_library_permanently(numcodecs.blosc.__file__)
c_open = types.ExternalFunction("open", types.int32(types.voidptr, types.int32))
c_read = types.ExternalFunction("read", types.int64(types.int32, types.voidptr, types.uint64))
c_close = types.ExternalFunction("close", types.int32(types.int32))
c_validate = types.ExternalFunction(
    "blosc_cbuffer_validate", types.int32(types.voidptr, types.uint64, types.voidptr)
)
c_decompress = types.ExternalFunction(
    "blosc_decompress_ctx", types.int32(types.voidptr, types.voidptr, types.uint64, types.int32)
)


@njit(nogil=True, cache=True)  # type: ignore[misc]
def _path(head, sep, index, i, buf):
    """Write ``head`` + the decimal indices of chunk ``i`` joined by ``sep`` + NUL."""
    p = head.shape[0]
    buf[:p] = head
    for a in range(index.shape[1]):
        if a > 0:
            buf[p] = sep
            p += 1
        v = index[i, a]
        first = p
        while True:
            buf[p] = 48 + v % 10
            p += 1
            v //= 10
            if v == 0:
                break
        last = p - 1
        while first < last:
            buf[first], buf[last] = buf[last], buf[first]
            first += 1
            last -= 1
    buf[p] = 0


@njit(nogil=True, cache=True)  # type: ignore[misc]
def read_chunks(head, sep, index, lo, hi, mode, expected, flags, path, scratch, stack, keep,
                status, sizes, out, out_strides, chunk_strides, src0, dst0, extent):
    """Chunks ``lo:hi``: read the file ``head`` + the chunk's ``index`` joined by ``sep``
    (decimal), decode it into row ``i`` of ``stack`` (row 0 when not ``keep``), and copy
    the region ``src0[i] + extent[i]`` of it (last axis in bytes) to ``dst0[i]`` of
    ``out``."""
    nd = out_strides.shape[0]
    cap = scratch.shape[0]  # one byte more than any acceptable file
    declared = np.zeros(1, np.uint64)
    pos = np.zeros(nd, np.int64)
    for i in range(lo, hi):
        status[i] = FALLBACK
        _path(head, sep, index, i, path)
        fd = c_open(path.ctypes.data, flags)
        if fd < 0:
            continue
        got = c_read(fd, scratch.ctypes.data, cap)
        c_close(fd)
        sizes[i] = got
        if got < 0 or got >= cap:
            continue
        row = stack[i if keep else 0]
        if mode == RAW:
            if got != expected:
                continue
            row[:] = scratch[:expected]
        else:
            if got < _BLOSC_OVERHEAD:
                continue
            cbytes = (np.int64(scratch[12]) | (np.int64(scratch[13]) << 8)
                      | (np.int64(scratch[14]) << 16) | (np.int64(scratch[15]) << 24))
            if cbytes != got or c_validate(scratch.ctypes.data, got, declared.ctypes.data) < 0:
                continue
            if declared[0] != expected:
                continue
            if c_decompress(scratch.ctypes.data, row.ctypes.data, expected, 1) != expected:
                continue
        # paste: every line of the region along the last axis is one contiguous run
        run = extent[i, nd - 1]
        lines = 1
        for a in range(nd - 1):
            lines *= extent[i, a]
            pos[a] = 0
        for _ in range(lines):
            s = src0[i, nd - 1]
            d = dst0[i, nd - 1]
            for a in range(nd - 1):
                s += (src0[i, a] + pos[a]) * chunk_strides[a]
                d += (dst0[i, a] + pos[a]) * out_strides[a]
            out[d:d + run] = row[s:s + run]
            a = nd - 2
            while a >= 0:
                pos[a] += 1
                if pos[a] < extent[i, a]:
                    break
                pos[a] = 0
                a -= 1
        status[i] = OK


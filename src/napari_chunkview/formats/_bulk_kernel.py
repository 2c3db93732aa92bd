"""The compiled loop of ``_bulk`` (imported only by its warm-up thread: importing numba
and compiling or loading the loop takes long enough to keep off the first read)."""

from __future__ import annotations

import llvmlite.binding as llb  # type: ignore[import-untyped]
import numcodecs.blosc  # type: ignore[import-untyped]
import numpy as np
from numba import njit, types  # type: ignore[import-untyped]

from ._bulk import _BLOSC_OVERHEAD, FALLBACK, OK, RAW, WHOLE

# the c-blosc that numcodecs bundles exports its C API; open/pread/lseek/close/memcpy come
# from libc
llb.load_library_permanently(numcodecs.blosc.__file__)
c_open = types.ExternalFunction("open", types.int32(types.voidptr, types.int32))
c_close = types.ExternalFunction("close", types.int32(types.int32))
c_pread = types.ExternalFunction(
    "pread", types.int64(types.int32, types.voidptr, types.uint64, types.int64)
)
c_memcpy = types.ExternalFunction(
    "memcpy", types.voidptr(types.voidptr, types.voidptr, types.uint64)
)
c_lseek = types.ExternalFunction("lseek", types.int64(types.int32, types.int64, types.int32))
c_validate = types.ExternalFunction(
    "blosc_cbuffer_validate", types.int32(types.voidptr, types.uint64, types.voidptr)
)
c_decompress = types.ExternalFunction(
    "blosc_decompress_ctx", types.int32(types.voidptr, types.voidptr, types.uint64, types.int32)
)
c_getitem = types.ExternalFunction(
    "blosc_getitem", types.int32(types.voidptr, types.int32, types.int32, types.voidptr)
)
_SEEK_END = 2
_MEMCPYED = 2  # blosc header flag: the data is stored as it is


@njit(nogil=True, cache=True)  # type: ignore[misc]
def _u32(buf, at):
    return (np.int64(buf[at]) | (np.int64(buf[at + 1]) << 8) | (np.int64(buf[at + 2]) << 16)
            | (np.int64(buf[at + 3]) << 24))


@njit(nogil=True, cache=True)  # type: ignore[misc]
def _header_ok(scratch, size, expected, declared):
    """The blosc header at ``scratch[:16]`` is valid for a stream of ``size`` bytes (its
    compressed size) that declares exactly ``expected`` decoded bytes."""
    return (size >= _BLOSC_OVERHEAD and _u32(scratch, 12) == size
            and c_validate(scratch.ctypes.data, size, declared.ctypes.data) >= 0
            and declared[0] == expected)


@njit(nogil=True, cache=True)  # type: ignore[misc]
def _read_span(fd, at, length, scratch, expected, lo, hi, declared, row):
    """Decode only bytes ``lo:hi`` of the blosc chunk open as ``fd`` (``length`` bytes at
    ``at``; the whole file when ``WHOLE``) into ``row[:hi - lo]``, reading just its
    header, block table and the blocks holding them (blosc decodes by blocks, so a
    z-plane of a 64³ chunk costs one of its blocks). The same checks as a whole read: the
    header declares ``expected`` bytes and the chunk's length. Returns the chunk's length;
    -1 when the chunk is not right (for the per-chunk path); 0 when this chunk is better
    read whole (stored as it is, or items that do not split at ``lo``)."""
    if c_pread(fd, scratch.ctypes.data, 16, at) != 16:
        return -1
    size = c_lseek(fd, 0, _SEEK_END) if length == WHOLE else length
    if size >= scratch.shape[0] or not _header_ok(scratch, size, expected, declared):
        return -1
    typesize = np.int64(scratch[3])
    block = _u32(scratch, 8)
    if scratch[2] & _MEMCPYED or typesize == 0 or lo % typesize or (hi - lo) % typesize:
        return 0
    if block <= 0 or block > expected:
        return -1
    nblocks = (expected + block - 1) // block
    table = 16 + 4 * nblocks
    if table > size or c_pread(fd, scratch[16:].ctypes.data, 4 * nblocks, at + 16) != 4 * nblocks:
        return -1
    for j in range(lo // block, (hi - 1) // block + 1):
        start = _u32(scratch, 16 + 4 * j)
        if start < table or start >= size:
            return -1
        end = size  # a block ends where the next one (in the file) starts
        for k in range(nblocks):
            b = _u32(scratch, 16 + 4 * k)
            if start < b < end:
                end = b
        if c_pread(fd, scratch[start:].ctypes.data, end - start, at + start) != end - start:
            return -1
    n = (hi - lo) // typesize
    if c_getitem(scratch.ctypes.data, lo // typesize, n, row.ctypes.data) != hi - lo:
        return -1
    return size


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
def read_chunks(head, sep, index, at, length, lo, hi, mode, expected, flags, path, scratch,
                stack, keep, status, sizes, out, out_strides, chunk_strides, src0, dst0, extent):
    """Chunks ``lo:hi``: read chunk ``i``, stored in the file ``head`` + ``index[i]``
    joined by ``sep`` (decimal), ``length[i]`` bytes at ``at[i]`` (the whole file when
    ``WHOLE``; inner chunks of shards have a place in theirs; below ``WHOLE``: left to the
    per-chunk path), decode it into row ``i`` of ``stack`` (row 0 when not ``keep``), and
    copy the region ``src0[i] + extent[i]`` of it (last axis in bytes) to ``dst0[i]`` of
    ``out``. Without ``keep``, a blosc chunk whose region spans at most half of it is
    decoded only as far as needed (``_read_span``)."""
    nd = out_strides.shape[0]
    cap = scratch.shape[0]  # one byte more than any acceptable file
    declared = np.zeros(1, np.uint64)
    pos = np.zeros(nd, np.int64)
    for i in range(lo, hi):
        status[i] = FALLBACK
        if length[i] < WHOLE:
            continue
        _path(head, sep, index, i, path)
        fd = c_open(path.ctypes.data, flags)
        if fd < 0:
            continue
        row = stack[i if keep else 0]
        # the region's first and last byte in the chunk
        first = src0[i, nd - 1]
        last = src0[i, nd - 1] + extent[i, nd - 1]
        for a in range(nd - 1):
            first += src0[i, a] * chunk_strides[a]
            last += (src0[i, a] + extent[i, a] - 1) * chunk_strides[a]
        base = 0  # where row[0] is in the chunk
        spanned = False
        got = 0
        if not keep and mode != RAW and 2 * (last - first) <= expected:
            got = _read_span(fd, at[i], length[i], scratch, expected, first, last, declared, row)
            if got < 0:
                c_close(fd)
                continue
            if got > 0:
                base = first
                spanned = True
        if got == 0 and length[i] == WHOLE:
            got = c_pread(fd, scratch.ctypes.data, cap, 0)
        elif got == 0:  # its place in the file
            got = -1
            if length[i] < cap and c_pread(fd, scratch.ctypes.data, length[i], at[i]) == length[i]:
                got = length[i]
        c_close(fd)
        sizes[i] = got
        if got < 0 or got >= cap:
            continue
        if spanned:
            pass  # decoded by _read_span
        elif mode == RAW:
            if got != expected:
                continue
            row[:] = scratch[:expected]
        elif not _header_ok(scratch, got, expected, declared) or c_decompress(
            scratch.ctypes.data, row.ctypes.data, expected, 1
        ) != expected:
            continue
        # paste: every line of the region along the last axis is one contiguous run
        run = extent[i, nd - 1]
        lines = 1
        s_lo = s_hi = src0[i, nd - 1] - base
        d_lo = d_hi = dst0[i, nd - 1]
        for a in range(nd - 1):
            lines *= extent[i, a]
            pos[a] = 0
            s_lo += src0[i, a] * chunk_strides[a]
            s_hi += (src0[i, a] + extent[i, a] - 1) * chunk_strides[a]
            d_lo += dst0[i, a] * out_strides[a]
            d_hi += (dst0[i, a] + extent[i, a] - 1) * out_strides[a]
        # the copies below are unchecked: their first and last lines must lie inside
        # (they do, by the geometry ``_bulk.read`` computes; this guards memory if not)
        if run < 0 or s_lo < 0 or d_lo < 0 or s_hi + run > row.shape[0] \
                or d_hi + run > out.shape[0]:
            continue
        for _ in range(lines):
            s = src0[i, nd - 1] - base
            d = dst0[i, nd - 1]
            for a in range(nd - 1):
                s += (src0[i, a] + pos[a]) * chunk_strides[a]
                d += (dst0[i, a] + pos[a]) * out_strides[a]
            # (memcpy: a numba slice assignment costs about 80 ns a line, 5 ms of a
            # 2048² plane of 64² chunks, against 1 ms)
            c_memcpy(out.ctypes.data + d, row.ctypes.data + s, run)
            a = nd - 2
            while a >= 0:
                pos[a] += 1
                if pos[a] < extent[i, a]:
                    break
                pos[a] = 0
                a -= 1
        status[i] = OK


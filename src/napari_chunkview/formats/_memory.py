"""Large read buffers without transparent huge pages.

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every
array of 4 MiB or more. Where the kernel's THP ``defrag`` setting is ``madvise`` (the usual
default), the first touch of such a page compacts memory on the spot when no free 2 MiB
page is at hand, which is common once the page cache holds a big dataset. On the
project's 2-core VM a fresh 8 MiB array took 14.6 ms to fill, against 3.8 ms on small
pages, and reading a 2048² plane of 64² chunks (two 8 MiB buffers: the answer and the
chunks kept for the cache) took 7.8-16.9 ms in eight fresh processes, against 8.4-9.1 ms
on small pages. Chunk reads write their buffers once and hand them on, so huge pages
gain them little.

Why by hand: numpy has no per-array switch, only the process-wide one (its
``NUMPY_MADVISE_HUGEPAGE`` variable is read at import, and is the user's choice);
``empty`` turns it off around its own allocation (under a lock, restoring it after), so
other arrays of the process keep numpy's behaviour, except any allocated by another
thread in that instant, which then simply get small pages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_set_madvise_hugepage: Callable[[bool], bool] | None
try:  # numpy >= 2 (``numpy.core`` before); private but stable since numpy 1.20
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # pragma: no cover - an older or future numpy: plain np.empty
    _set_madvise_hugepage = None

#: numpy's own threshold for the hint (``NPY_HUGEPAGE`` sizes: 4 MiB).
_HUGE = 4 << 20
_lock = threading.Lock()


def empty(shape: int | Sequence[int], dtype: Any) -> np.ndarray:
    """``np.empty(shape, dtype)``, on small pages when it is large."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if n < _HUGE or _set_madvise_hugepage is None:
        return np.empty(shape, dt)
    with _lock:
        was = _set_madvise_hugepage(False)
        try:
            return np.empty(shape, dt)
        finally:
            _set_madvise_hugepage(was)

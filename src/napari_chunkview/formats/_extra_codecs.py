"""numcodecs codecs that no library provides, registered under ``chunkview.*`` ids.

Only ids of our own are registered: numcodecs' own ``gzip`` is left untouched for
everything else in the user's process.
"""

from __future__ import annotations

import zlib
from typing import Any

from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ndarray_copy
from numcodecs.registry import register_codec


class GzipOrZlib(Codec):  # type: ignore[misc]
    """Decodes gzip *or* zlib streams (z5py labels zlib-framed chunks ``gzip``).

    Written by hand because numcodecs' ``GZip`` accepts gzip framing only; zlib's
    ``wbits=47`` auto-detects both headers.
    """

    codec_id = "chunkview.gzip_or_zlib"

    def __init__(self, level: int = -1) -> None:
        self.level = level

    def encode(self, buf: Any) -> bytes:  # pragma: no cover - we never write
        raise NotImplementedError("napari-chunkview only reads")

    def decode(self, buf: Any, out: Any = None) -> Any:
        data = zlib.decompress(ensure_bytes(buf), 47)
        return ndarray_copy(data, out) if out is not None else data


register_codec(GzipOrZlib)

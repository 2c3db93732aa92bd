"""``error_reason``: the one-line reasons a person reads in the inspector, QC and napari."""

from __future__ import annotations

import zlib
from pathlib import Path

import numcodecs
import pytest

from napari_chunkview.formats._inflate import bounded_decode
from napari_chunkview.model import MetadataError, RemoteError, error_reason


def _raised(fn) -> BaseException:  # type: ignore[no-untyped-def]
    with pytest.raises(BaseException) as info:
        fn()
    return info.value


def test_our_errors_and_bad_data_read_as_their_message() -> None:
    bomb = numcodecs.Blosc("lz4").encode(bytes(1 << 16))
    e = _raised(lambda: bounded_decode(numcodecs.Blosc("lz4"), bomb, 32, exact=True))
    assert error_reason(e) == (
        "blosc: chunk does not decode (blosc header declares 65536 decompressed bytes, expected 32)"
    )
    assert error_reason(MetadataError("a/.zarray: not valid JSON")) == "a/.zarray: not valid JSON"
    assert error_reason(RemoteError("http://x/0.0: HTTP 500 after 3 attempts", status=500)) == (
        "http://x/0.0: HTTP 500 after 3 attempts"
    )


def test_os_errors_name_the_path_and_library_errors_their_type(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "0.0"
    e = _raised(lambda: missing.read_bytes())
    assert error_reason(e) == f"{missing}: No such file or directory"
    z = _raised(lambda: zlib.decompress(b"not zlib at all"))
    assert error_reason(z).startswith("error: Error -3 while decompressing data")
    assert error_reason(RuntimeError()) == "RuntimeError"

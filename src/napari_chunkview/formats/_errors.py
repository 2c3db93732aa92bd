"""Turn errors raised by zarr-python / numcodecs while parsing metadata into ours."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from ..model import ChunkviewError, MetadataError, UnsupportedError

T = TypeVar("T")
_CODEC = re.compile(r"codec '([^']+)'|codec not available: '([^']+)'")


def translate(where: str, exc: BaseException) -> ChunkviewError:
    """``UnsupportedError`` for a codec that is not installed or a feature zarr-python
    lacks; ``MetadataError`` for anything else (the message names ``where``)."""
    text = str(exc).split(". Register one explicitly")[0]
    m = _CODEC.search(str(exc))
    if m and "not available" in str(exc):
        name = m.group(1) or m.group(2)
        return UnsupportedError(
            f"{where}: codec {name!r} is not installed (install the package that provides "
            f"it, e.g. `pip install numcodecs[{name.removeprefix('numcodecs.')}]`)"
        )
    if isinstance(exc, NotImplementedError):
        return UnsupportedError(f"{where}: {text}")
    return MetadataError(f"{where}: {text}")


def parse_with(where: str, parse: Callable[[], T]) -> T:
    """Run a library metadata parser, re-raising its errors as ours."""
    try:
        return parse()
    except ChunkviewError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as e:
        raise translate(where, e) from None

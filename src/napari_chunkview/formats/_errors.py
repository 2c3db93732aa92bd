"""Turn errors raised by zarr-python / numcodecs while parsing metadata into ours."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ..model import ChunkviewError, CodecInfo, MetadataError, UnsupportedError

_CODEC = re.compile(r"codec '([^']+)'|codec not available: '([^']+)'")
#: Codecs whose decoding can run code named by the data (``pickle.loads``): refused
#: whatever numcodecs allows, since metadata and chunks are untrusted input.
UNSAFE_CODECS = frozenset({"pickle", "numcodecs.pickle"})


#: numpy indexes with int64: no axis (nor chunk edge) can be this long or longer.
MAX_EXTENT = 2**63


def check_extents(where: str, **lists: Any) -> None:
    """``MetadataError`` for shape / chunk values numpy cannot represent (≥ 2**63)."""
    for what, values in lists.items():
        if any(isinstance(v, int) and v >= MAX_EXTENT for v in values or ()):
            raise MetadataError(
                f"{where}: {what} {list(values)} has a value ≥ 2**63, larger than any array can be"
            )


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


def parse_with[T](where: str, parse: Callable[[], T]) -> T:
    """Run a library metadata parser, re-raising its errors as ours."""
    try:
        return parse()
    except ChunkviewError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as e:
        raise translate(where, e) from None


def refuse_unsafe_codecs(where: str, codecs: Iterable[CodecInfo]) -> None:
    """``UnsupportedError`` when the chain (sharding's inner and index chains included)
    holds a codec that would unpickle chunk bytes."""
    for c in codecs:
        if c.name in UNSAFE_CODECS:
            raise UnsupportedError(
                f"{where}: codec {c.name!r} is refused: unpickling data from a store can "
                "run arbitrary code"
            )
        refuse_unsafe_codecs(where, (*c.inner, *c.index))

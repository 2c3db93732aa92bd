"""The project's own error types: what a user (or napari) can catch."""

from __future__ import annotations


class ChunkviewError(Exception):
    """Base of every error napari-chunkview raises on purpose.

    Anything else escaping the public API is a bug.
    """


class NotRecognisedError(ChunkviewError):
    """No format adapter recognises the path (it is not N5 / Zarr)."""


class MetadataError(ChunkviewError):
    """Metadata is present but malformed, inconsistent or out of spec.

    The message names the file (or key) and the problem.
    """


class UnsupportedError(ChunkviewError):
    """Valid data that this version cannot read (a codec, a dtype, a layout)."""


class UnsafePathError(MetadataError):
    """Metadata points outside the dataset root (``..``, absolute paths, URL schemes)."""


class RemoteError(ChunkviewError):
    """A remote store (HTTP(S), S3, GCS) did not answer a read usefully: an HTTP error
    status, no answer within the timeout, a dropped connection or an answer of the wrong
    length. The one-line message names the URL, what went wrong and the attempts made.

    ``status`` is the HTTP status when there was one; ``attempts`` the requests made.
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


def error_reason(e: BaseException) -> str:
    """One line for a person saying why something failed. Our own errors, and the
    ``ValueError`` decoders raise for bad data, by their message alone; an ``OSError`` as
    "path: strerror"; anything else with its type's name first (it names the library
    that complained: "error: Error -3 while decompressing data" is zlib's)."""
    text = str(e).strip()
    if isinstance(e, ChunkviewError | ValueError) and text:
        return text
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else str(e.strerror)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__

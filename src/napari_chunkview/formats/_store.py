"""Read-only, instrumented access to one dataset root (local folder, zip file, URL).

Everything reads through ``StoreRoot``: formats read metadata with ``get_json``, and the
zarr arrays they build read chunks through ``StoreRoot.store``, a zarr ``WrapperStore``
that refuses writes, maps keys (N5 and the zarr v3 draft keep chunks under other names
than zarr-python asks for) and tells listeners about every read.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from zarr.abc.store import ByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import WrapperStore, ZipStore

from ..model import MetadataError, UnsafePathError, error_reason

#: Basenames of metadata documents; any other key is a chunk (or shard).
METADATA_NAMES = frozenset(
    {"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata", "attributes.json"}
)
#: Refuse metadata documents larger than this (a hostile store could serve gigabytes).
MAX_METADATA_BYTES = 64 * 1024 * 1024

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
REMOTE_SCHEMES = ("http://", "https://", "s3://", "gs://", "gcs://")
#: Chunk files are opened read-only, without following a symlink (``_open_local`` checks
#: where one leads) and without blocking (a FIFO planted in a dataset reads as empty
#: instead of hanging the read).
_FOLLOW = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = _FOLLOW | getattr(os, "O_NOFOLLOW", 0)


def is_metadata_key(key: str) -> bool:
    base = key.rsplit("/", 1)[-1]
    return base in METADATA_NAMES or base.endswith((".array.json", ".group.json"))


def join_path(base: str, rel: str) -> str:
    """Join a path found in metadata onto ``base``, refusing anything that leaves the root.

    ``rel`` must be relative, without ``..``, backslashes, NUL or a URL scheme.
    """
    if not isinstance(rel, str):
        raise UnsafePathError(f"path {rel!r} in metadata is not a string")
    if (
        rel.startswith(("/", "~"))
        or "\\" in rel
        or "\x00" in rel
        or _SCHEME.match(rel)
        or any(part == ".." for part in rel.split("/"))
    ):
        raise UnsafePathError(f"path {rel!r} in metadata points outside the dataset")
    parts = [p for p in base.split("/") + rel.split("/") if p not in ("", ".")]
    return "/".join(parts)


@dataclass(frozen=True, slots=True)
class ReadEvent:
    """One store read: ``nbytes`` is ``None`` when the key was missing."""

    key: str
    nbytes: int | None
    seconds: float
    metadata: bool


ReadListener = Callable[[ReadEvent], None]
KeyMapper = Callable[[str], str]


class _ReadOnlyMappedStore(WrapperStore[Store]):
    """A zarr store that refuses writes, maps chunk keys and reports reads."""

    def __init__(self, store: Store, owner: StoreRoot) -> None:
        super().__init__(store)
        self._owner = owner

    # zarr-python asks the wrapped store for ``read_only`` and for copies of it.
    @property
    def read_only(self) -> bool:
        return True

    def _with_store(self, store: Store) -> _ReadOnlyMappedStore:
        return type(self)(store, self._owner)

    async def get(
        self,
        key: str,
        prototype: BufferPrototype,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        real = self._owner.map_key(key)
        if not self._owner.local_key_safe(real):
            where = self._owner.describe(real)
            raise UnsafePathError(f"{where}: a symlink leads outside the dataset")
        t0 = time.perf_counter()
        buf = await self._store.get(real, prototype, byte_range)
        self._owner.report(real, None if buf is None else len(buf), time.perf_counter() - t0)
        return buf

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        mapped = [(self._owner.map_key(k), r) for k, r in key_ranges]
        t0 = time.perf_counter()
        out = await self._store.get_partial_values(prototype, mapped)
        dt = time.perf_counter() - t0
        for (k, _), buf in zip(mapped, out, strict=True):
            self._owner.report(k, None if buf is None else len(buf), dt)
        return out

    async def exists(self, key: str) -> bool:
        return await self._store.exists(self._owner.map_key(key))

    async def set(self, key: str, value: Buffer) -> None:
        raise PermissionError("napari-chunkview never writes into a dataset")

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        raise PermissionError("napari-chunkview never writes into a dataset")

    async def delete(self, key: str) -> None:
        raise PermissionError("napari-chunkview never writes into a dataset")


class StoreRoot:
    """One dataset root, opened read-only. Paths are ``/``-separated and relative to it."""

    def __init__(self, uri: str, base: Store) -> None:
        self.uri = uri
        self.store: Store = _ReadOnlyMappedStore(base, self)
        self._base = base
        self._maps: dict[str, KeyMapper] = {}
        self._listeners: list[ReadListener] = []
        self._json: dict[str, dict[str, Any] | None] = {}
        self._lock = threading.Lock()
        self.is_remote = uri.startswith(REMOTE_SCHEMES)
        root = getattr(base, "root", None)
        self._local_root: str | None = (
            str(root) if type(base).__name__ == "LocalStore" and root is not None else None
        )
        self._local_real: str | None = None  # realpath of the local root, once needed
        self._safe_dirs: dict[str, bool] = {}  # folder under the local root → inside it

    @property
    def local_dir(self) -> str | None:
        """The folder of a local (not zipped) store, else ``None``."""
        return self._local_root

    @property
    def has_listeners(self) -> bool:
        return bool(self._listeners)

    # -- instrumentation ---------------------------------------------------------------
    def add_listener(self, fn: ReadListener) -> None:
        with self._lock:
            self._listeners = [*self._listeners, fn]

    def remove_listener(self, fn: ReadListener) -> None:
        with self._lock:
            self._listeners = [f for f in self._listeners if f is not fn]

    def report(self, key: str, nbytes: int | None, seconds: float) -> None:
        listeners = self._listeners  # copy-on-write: no lock on the hot path
        if listeners:
            ev = ReadEvent(key, nbytes, seconds, is_metadata_key(key))
            for fn in listeners:
                fn(ev)

    # -- key mapping ---------------------------------------------------------------------
    def register_key_map(self, prefix: str, mapper: KeyMapper) -> None:
        """Keys under ``prefix + "/"`` that are not metadata go through ``mapper``
        (which gets the key relative to the prefix and returns a full store key)."""
        with self._lock:
            self._maps = {**self._maps, prefix: mapper}

    def map_key(self, key: str) -> str:
        maps = self._maps
        if not maps or is_metadata_key(key):
            return key
        prefix = key.rsplit("/", 1)[0] if "/" in key else ""
        while True:
            fn = maps.get(prefix)
            if fn is not None:
                return fn(key[len(prefix) + 1 :] if prefix else key)
            if not prefix:
                return key
            prefix = prefix.rsplit("/", 1)[0] if "/" in prefix else ""

    # -- sync reads for metadata -----------------------------------------------------------
    def get_bytes(self, key: str) -> bytes | None:
        if self._local_root is not None:
            # a plain file read (with the same symlink checks): a trip through zarr's
            # event-loop thread costs about 0.5 ms per document, most of a local open
            data = self._read_local(self.map_key(key), None)
            if isinstance(data, Refused):
                raise UnsafePathError(data.reason)
            return data
        buf = sync(self.store.get(key, default_buffer_prototype()))
        return None if buf is None else buf.to_bytes()

    def get_json(self, key: str) -> dict[str, Any] | None:
        """The JSON object at ``key``, ``None`` when absent; ``MetadataError`` when it is
        not a JSON object. Remembered (absent ones too): conventions probe the same
        metadata files several times during one open, and remote probes cost a request."""
        with self._lock:
            if key in self._json:
                return self._json[key]
        doc = self._load_json(key)
        with self._lock:
            if len(self._json) >= 4096:
                self._json.clear()
            self._json[key] = doc
        return doc

    def _load_json(self, key: str) -> dict[str, Any] | None:
        raw = self.get_bytes(key)
        if raw is None:
            return None
        if len(raw) > MAX_METADATA_BYTES:
            raise MetadataError(f"{self.describe(key)}: metadata document is {len(raw)} bytes")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: [[[[…
            raise MetadataError(f"{self.describe(key)}: not valid JSON ({e})") from None
        if not isinstance(doc, dict):
            raise MetadataError(
                f"{self.describe(key)}: expected a JSON object, found {type(doc).__name__}"
            )
        return doc

    def fetch(self, requests: Sequence[tuple[str, ByteRequest | None]]) -> list[bytes | None]:
        """Stored bytes (or a byte range) of several keys, ``None`` for a missing key.

        Keys go through the key maps and every read is reported. Local folders are read
        with plain file reads on the calling thread (the loading layer runs several
        callers at once); other stores are read concurrently on zarr-python's event loop.
        """
        if self._local_root is not None:
            return [self._read_local(self.map_key(k), r) for k, r in requests]
        proto = default_buffer_prototype()

        async def _all() -> list[Buffer | BaseException | None]:
            gets = (self.store.get(k, proto, r) for k, r in requests)
            return list(await asyncio.gather(*gets, return_exceptions=True))

        out: list[bytes | None] = []
        for got, (_, r) in zip(sync(_all()), requests, strict=True):
            if isinstance(got, BaseException):
                if not isinstance(got, Exception):
                    raise got  # cancelled, interrupted
                # one request failed (a remote store's ``RemoteError`` after its retries):
                # that chunk is flagged with the reason, the rest of the batch reads
                why = (
                    error_reason(got)
                )
                out.append(Refused.because(why))
            else:
                out.append(_clip(None if got is None else got.to_bytes(), r))
        return out

    def _read_local(self, key: str, rng: ByteRequest | None) -> bytes | None:
        t0 = time.perf_counter()
        root = self._local_root
        assert root is not None
        data: bytes | None
        try:
            fd = self._open_local(key)
            try:
                data = _read_all(fd) if rng is None else _read_range(fd, rng)
            finally:
                os.close(fd)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            data = None
        except UnsafePathError as e:
            data = Refused.because(str(e))
        self.report(key, None if data is None else len(data), time.perf_counter() - t0)
        return data

    def _open_local(self, key: str) -> int:
        """A read-only descriptor for ``key``, refusing (``UnsafePathError``) one whose real
        path leaves the root through a symlink. Cheap on the hot path: each parent folder
        is resolved once (cached), and the file itself is opened with ``O_NOFOLLOW``, so
        only a symlinked file costs a ``realpath``."""
        root = self._local_root
        assert root is not None
        parent = key.rsplit("/", 1)[0] if "/" in key else ""
        if not self.local_dir_inside(parent):
            raise UnsafePathError(f"{self.describe(key)}: a symlink leads outside the dataset")
        # keys come from our key functions (relative, no ".."); plain concatenation: the
        # hot path of small chunks (os.path.join cost 5% of a 8 KiB chunk's read)
        path = (root if root.endswith("/") else root + "/") + key
        try:
            return os.open(path, _NOFOLLOW)
        except OSError as e:
            if e.errno != errno.ELOOP:  # ELOOP: the file itself is a symlink
                raise
        if not _inside(os.path.realpath(path), self._real_root()):
            raise UnsafePathError(f"{self.describe(key)}: a symlink leads outside the dataset")
        return os.open(path, _FOLLOW)

    def _real_root(self) -> str:
        real = self._local_real
        if real is None:
            real = self._local_real = os.path.realpath(self._local_root or ".")
        return real

    def local_dir_inside(self, rel: str) -> bool:
        """Whether folder ``rel`` (relative to the local root) resolves inside it."""
        known = self._safe_dirs.get(rel)
        if known is None:
            root = self._local_root or "."
            known = _inside(os.path.realpath(os.path.join(root, rel)), self._real_root())
            if len(self._safe_dirs) >= 65536:
                self._safe_dirs.clear()
            self._safe_dirs[rel] = known
        return known

    def local_key_safe(self, key: str) -> bool:
        """For reads that do not go through ``_read_local`` (metadata, zarr-python): whether
        ``key`` stays inside a local root once symlinks are resolved (True if remote)."""
        if self._local_root is None:
            return True
        parent = key.rsplit("/", 1)[0] if "/" in key else ""
        if not self.local_dir_inside(parent):
            return False
        path = os.path.join(self._local_root, key)
        return not os.path.islink(path) or _inside(os.path.realpath(path), self._real_root())

    def exists(self, key: str) -> bool:
        if self._local_root is not None:  # what LocalStore.exists does, without the loop
            return os.path.isfile(os.path.join(self._local_root, key))
        return bool(sync(self._base.exists(key)))

    def list_dir(self, path: str) -> list[str]:
        """Names directly under ``path`` (files and folders); [] when listing is not
        supported (plain HTTP)."""
        if not self._base.supports_listing:
            return []

        async def _collect() -> list[str]:
            prefix = f"{path}/" if path else ""
            return [k async for k in self._base.list_dir(prefix)]

        try:
            return sorted(n.rstrip("/") for n in sync(_collect()))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def size(self, key: str) -> int | None:
        """Stored size of ``key`` (a real store key), ``None`` when it does not exist."""
        if self._local_root is not None:  # a stat, not a trip through zarr's event loop
            try:
                st = os.stat(os.path.join(self._local_root, key), follow_symlinks=False)
            except OSError:
                return None
            return st.st_size if stat.S_ISREG(st.st_mode) else None
        try:
            return int(sync(self._base.getsize(key)))
        except (FileNotFoundError, KeyError, OSError):
            return None

    def iter_sizes(self, prefix: str) -> Iterator[tuple[str, int]] | None:
        """(key, stored size) of every key under ``prefix`` (recursive), ``None`` when
        this store cannot list (plain HTTP)."""
        prefix = prefix.strip("/")
        base = self._base
        if self._local_root is not None:
            return _walk_local(self._local_root, prefix)
        if isinstance(base, ZipStore):
            if not base._is_open:
                base._sync_open()
            zf = base._zf
            head = f"{prefix}/" if prefix else ""
            return ((i.filename, i.file_size) for i in zf.infolist()
                    if i.filename.startswith(head) and not i.is_dir())
        fs, path = getattr(base, "fs", None), getattr(base, "path", None)
        if fs is None or path is None or not base.supports_listing or self.uri.startswith("http"):
            return None
        full = f"{path.rstrip('/')}/{prefix}" if prefix else path
        found = sync(fs._find(full, detail=True)) if fs.async_impl else fs.find(full, detail=True)
        strip = len(path.rstrip("/")) + 1
        return ((k[strip:], int(v.get("size") or 0)) for k, v in found.items())

    def describe(self, key: str) -> str:
        return f"{self.uri.rstrip('/')}/{key}" if key else self.uri

    def close(self) -> None:
        try:
            self._base.close()
        except Exception:  # closing is best effort
            pass


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _walk_local(root: str, prefix: str) -> Iterator[tuple[str, int]]:
    """Files under ``prefix`` with their sizes; symlinks are neither listed nor followed
    (a listing never leaves the root), nor is a ``prefix`` that resolves outside it."""
    top = os.path.join(root, prefix) if prefix else root
    if not _inside(os.path.realpath(top), os.path.realpath(root)):
        return
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.is_file(follow_symlinks=False):
                yield os.path.relpath(e.path, root).replace(os.sep, "/"), e.stat().st_size


#: A local chunk file is read with one ``read`` of this size first: most chunks are
#: smaller, and one plain ``read`` costs 5.5 µs per 8 KiB chunk against 10.8 µs through a
#: buffered file object (``open(fd).read()``: a stat, buffer set-up and a second read).
_FIRST_READ = 64 << 10


def _read_all(fd: int) -> bytes:
    data = os.read(fd, _FIRST_READ)
    if len(data) < _FIRST_READ:
        return data
    # a bigger file: read whole again from the start, sized by its stat, rather than
    # joining pieces (300 KiB chunks: 77 µs against 119 µs with a join)
    want = os.fstat(fd).st_size + 1  # + 1: its end seen in the same call
    parts, pos = [], 0
    while got := os.pread(fd, min(max(want - pos, _FIRST_READ), 1 << 30), pos):
        parts.append(got)
        pos += len(got)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read_range(fd: int, rng: ByteRequest) -> bytes:
    size = os.fstat(fd).st_size
    if isinstance(rng, RangeByteRequest):
        # clamp: a hostile shard index may ask for 2**63 bytes
        start, stop = min(rng.start, size), min(rng.end, size)
    elif isinstance(rng, SuffixByteRequest):
        start, stop = max(0, size - rng.suffix), size
    else:
        start, stop = min(rng.offset, size), size
    parts, pos = [], start
    while pos < stop and (got := os.pread(fd, min(stop - pos, 1 << 30), pos)):
        parts.append(got)
        pos += len(got)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class Refused(bytes):
    """Returned by ``StoreRoot.fetch`` in place of a chunk's bytes that must not be used
    (a symlink leaving the root, an out-of-bounds shard index entry): decoders raise
    ``ValueError(reason)``, so that one chunk is flagged while the rest of a batch reads."""

    reason = ""

    @classmethod
    def because(cls, reason: str) -> Refused:
        out = cls()
        out.reason = reason
        return out


def _clip(raw: bytes | None, rng: ByteRequest | None) -> bytes | None:
    """Servers that ignore ``Range`` send the whole object: cut out what was asked."""
    if raw is None or rng is None:
        return raw
    if isinstance(rng, RangeByteRequest):
        want = rng.end - rng.start
        return raw[rng.start : rng.end] if len(raw) > want and len(raw) >= rng.end else raw
    if isinstance(rng, SuffixByteRequest):
        return raw[-rng.suffix :] if len(raw) > rng.suffix else raw
    return raw


def _split_zip(path: str) -> tuple[str, str] | None:
    """``/a/b.zip/c/d`` → (``/a/b.zip``, ``c/d``) when ``/a/b.zip`` is a file."""
    parts = path.split(os.sep)
    for i in range(1, len(parts) + 1):
        head = os.sep.join(parts[:i])
        if head.lower().endswith(".zip") and os.path.isfile(head):
            return head, "/".join(parts[i:])
    return None


def open_root(uri: str | os.PathLike[str], **storage_options: Any) -> tuple[StoreRoot, str]:
    """Open ``uri`` read-only. Returns the root and the path inside it to open
    (non-empty only for a path into a zip file or a zarr v3 draft container).

    Remote URLs read through ``_remote.RemoteStore``: bounded timeouts, retries with
    back-off, wrong-length answers refused, failures raised as ``RemoteError``; the
    ``storage_options`` given win over its defaults."""
    uri = os.fspath(uri)
    if uri.startswith(REMOTE_SCHEMES):
        from zarr.storage import FsspecStore

        from ._remote import RemotePolicy, RemoteStore, tune, with_defaults

        policy = RemotePolicy.from_env()
        opts = dict(storage_options)
        if (
            uri.startswith("s3://")
            and not opts.keys() & _AWS_OPTION_KEYS
            and _aws_credentials() is None
        ):
            opts["anon"] = True
        opts = with_defaults(uri, opts, policy)
        base = FsspecStore.from_url(uri.rstrip("/"), storage_options=opts, read_only=True)
        tune(base.fs)
        note = _credentials_note(uri, storage_options)
        return StoreRoot(uri, RemoteStore(base, uri, policy, note)), ""
    path = os.path.abspath(os.path.expanduser(uri))
    zipped = _split_zip(path)
    if zipped is not None:
        zpath, inner = zipped
        return StoreRoot(zpath, ZipStore(zpath, mode="r", read_only=True)), inner
    inner = ""
    if not os.path.isdir(path):
        draft = _split_draft(path)
        if draft is None:
            raise FileNotFoundError(f"no such folder: {path}")
        path, inner = draft
    from zarr.storage import LocalStore

    return StoreRoot(path, LocalStore(path, read_only=True)), inner


def _split_draft(path: str) -> tuple[str, str] | None:
    """``/a/b.zr3/c/d`` → (``/a/b.zr3``, ``c/d``) when the nearest existing folder above
    is a zarr v3 draft container (``zarr.json`` + ``meta/root``), whose node paths are
    logical, not folders."""
    head, rest = path, list[str]()
    while head and not os.path.isdir(head):
        head, tail = os.path.split(head)
        if not tail:
            return None
        rest.insert(0, tail)
    if os.path.isfile(os.path.join(head, "zarr.json")) and os.path.isdir(
        os.path.join(head, "meta", "root")
    ):
        return head, "/".join(rest)
    return None


#: s3fs storage options that choose credentials (then we do not decide on ``anon``).
_AWS_OPTION_KEYS = frozenset({"anon", "key", "secret", "token", "profile", "session"})


def _aws_credentials() -> str | None:
    """Where botocore will find AWS credentials (the name of the variable or file, never
    a value), ``None`` when nowhere: the request is then anonymous (public buckets)."""
    env = os.environ
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        if env.get(name):
            return name
    path = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return path if os.path.exists(os.path.expanduser(path)) else None


def _has_aws_credentials() -> bool:
    return _aws_credentials() is not None


def _credentials_note(uri: str, user: dict[str, Any]) -> str:
    """What a "403 access denied" message says about the credentials that were sent."""
    if uri.startswith("s3://"):
        if user.keys() & _AWS_OPTION_KEYS:
            given = sorted(user.keys() & _AWS_OPTION_KEYS)
            return f"credentials from storage_options ({', '.join(given)})"
        source = _aws_credentials()
        if source is not None:
            return f"AWS credentials were read from {source}"
        return (
            "the request was anonymous: no AWS credentials in AWS_ACCESS_KEY_ID / "
            "AWS_PROFILE / AWS_WEB_IDENTITY_TOKEN_FILE or ~/.aws/credentials"
        )
    if uri.startswith(("gs://", "gcs://")):
        return "credentials as gcsfs finds them (GOOGLE_APPLICATION_CREDENTIALS, gcloud)"
    if user.keys() & {"headers", "auth"}:
        return "credentials from storage_options (headers / auth)"
    return "HTTP(S) sends no credentials unless storage_options give headers or auth"

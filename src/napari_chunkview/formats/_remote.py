"""Remote stores that fail politely: bounded timeouts, a few retries with back-off for
reads that are safe to repeat, answers of the wrong length refused, and one-line
``RemoteError`` messages that name the URL, the status (or the timeout) and the attempts.

Timeouts use the libraries' own settings: aiohttp's ``ClientTimeout`` for fsspec's HTTP
filesystem (``client_kwargs``), botocore's ``connect_timeout`` / ``read_timeout`` for
s3fs (``config_kwargs``). Whatever the caller passes in ``storage_options`` wins.

Retries are done here, by hand, for every scheme, because: fsspec's HTTP filesystem has
none; s3fs runs its own loop twice over (around the request and again around the body
read) on top of botocore's, so the attempts multiply (a hung server costs retries² times
max_attempts timeouts) and differ between 5xx answers and dropped bodies. One loop here
gives one bounded count for all schemes that the messages can name, and an overall
deadline per request. The libraries' loops are set to one attempt (unless the caller
sets them).

Knobs (environment, read when a store is opened): ``CHUNKVIEW_HTTP_TIMEOUT`` (seconds to
connect and the longest wait for the next bytes of an answer, default 10),
``CHUNKVIEW_RETRIES`` (retries after a failed attempt, default 2, so 3 attempts) and
``CHUNKVIEW_HTTP_DEADLINE`` (seconds one read may take with all its attempts, default 120).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from zarr.abc.store import ByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import WrapperStore

from ..model import RemoteError

log = logging.getLogger(__name__)
T = TypeVar("T")

ENV_TIMEOUT = "CHUNKVIEW_HTTP_TIMEOUT"
ENV_RETRIES = "CHUNKVIEW_RETRIES"
ENV_DEADLINE = "CHUNKVIEW_HTTP_DEADLINE"
#: Statuses worth another attempt: request timeout, too many requests, server errors.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RemotePolicy:
    """How long to wait and how often to try again (see the module docstring)."""

    timeout: float = 10.0
    retries: int = 2
    deadline: float = 120.0
    backoff: float = 0.2  # the first pause; it doubles per retry, with jitter
    max_backoff: float = 5.0

    @property
    def attempts(self) -> int:
        return self.retries + 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RemotePolicy:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            timeout=_number(env, ENV_TIMEOUT, d.timeout, float),
            retries=_number(env, ENV_RETRIES, d.retries, int),
            deadline=_number(env, ENV_DEADLINE, d.deadline, float),
        )

    def pause(self, retry: int) -> float:
        """Seconds to wait before retry ``retry`` (1, 2, …): exponential, "equal jitter"
        (half fixed, half random) so clients that failed together do not return together."""
        step = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return step / 2 + random.uniform(0, step / 2)


def _number[N: (int, float)](
    env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N]
) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not value >= 0:  # type: ignore[operator]
        log.warning("ignoring %s=%r: expected a number >= 0", name, raw)
        return default
    return value


def with_defaults(uri: str, user: Mapping[str, Any], policy: RemotePolicy) -> dict[str, Any]:
    """``user``'s storage options plus our timeouts (and no library retries) where the
    user did not set them."""
    opts = dict(user)
    if uri.startswith(("http://", "https://")):
        import aiohttp

        client = dict(opts.get("client_kwargs") or {})
        # sock_connect/sock_read, not connect/total: "connect" includes waiting for a free
        # pooled connection, and a whole large body may rightly take long (the deadline
        # bounds that)
        client.setdefault(
            "timeout",
            aiohttp.ClientTimeout(
                total=None, sock_connect=policy.timeout, sock_read=policy.timeout
            ),
        )
        opts["client_kwargs"] = client
    elif uri.startswith("s3://"):
        config = dict(opts.get("config_kwargs") or {})
        config.setdefault("connect_timeout", policy.timeout)
        config.setdefault("read_timeout", policy.timeout)
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        opts["config_kwargs"] = config
        # s3fs reads a whole object with concurrent ranges when it may, which costs a
        # HEAD request before every chunk: chunks are small, one GET each is enough
        opts.setdefault("max_concurrency", 1)
    return opts


def tune(fs: Any) -> None:
    """Settings a filesystem takes only as an attribute: s3fs' own retry loop (a class
    attribute, 5) down to one attempt, see the module docstring. fsspec caches instances
    by their arguments, and ours carry our ``config_kwargs``, so this reaches only
    filesystems opened with our defaults."""
    if type(fs).__name__ == "S3FileSystem" and getattr(fs, "retries", 1) != 1:
        fs.retries = 1


# -- what went wrong ----------------------------------------------------------------------
class WrongLength(OSError):
    """An answer whose length disagrees with what was asked (raised here, retried)."""


@dataclass(frozen=True, slots=True)
class _Failure:
    text: str
    retry: bool
    status: int | None = None


def _chain(e: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen and len(seen) < 8:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _status(e: BaseException) -> int | None:
    for x in _chain(e):
        status = getattr(x, "status", None)  # aiohttp.ClientResponseError
        if isinstance(status, int) and status >= 400:
            return status
        resp = getattr(x, "response", None)  # botocore ClientError
        if isinstance(resp, Mapping):
            code = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(code, int) and code >= 400:
                return code
    return None


def _names(e: BaseException) -> set[str]:
    return {c.__name__ for x in _chain(e) for c in type(x).__mro__}


def classify(e: BaseException, policy: RemotePolicy) -> _Failure:
    """What ``e`` (from aiohttp, botocore, s3fs, fsspec or us) means, and whether a read
    that failed with it is worth another attempt."""
    status = _status(e)
    if status in (401, 403):
        return _Failure(f"access denied (HTTP {status})", False, status)
    if status is not None:
        return _Failure(f"HTTP {status}", status in RETRY_STATUSES, status)
    names = _names(e)
    if isinstance(e, PermissionError):  # s3fs' AccessDenied without a response attached
        return _Failure("access denied", False, 403)
    if isinstance(e, WrongLength):
        return _Failure(str(e), True)
    if "IncompleteReadError" in names:  # botocore checked the body against Content-Length
        kw = next((getattr(x, "kwargs", {}) for x in _chain(e) if hasattr(x, "kwargs")), {})
        got, want = kw.get("actual_bytes"), kw.get("expected_bytes")
        text = f"short read: {got} of {want} bytes" if got is not None else "short read"
        return _Failure(text, True)
    if "FlexibleChecksumError" in names:  # botocore checked the body's checksum
        return _Failure("checksum mismatch: the bytes received are not the bytes stored", True)
    if names & {"TimeoutError", "ReadTimeoutError", "ConnectTimeoutError", "FSTimeoutError"}:
        return _Failure(f"timed out after {policy.timeout:g} s", True)
    if "ClientPayloadError" in names:  # aiohttp: the body ended before its Content-Length
        return _Failure("connection dropped mid-answer (short read)", True)
    if names & {"ClientConnectionError", "ConnectionError", "HTTPClientError", "IncompleteRead"}:
        return _Failure(f"connection failed ({type(e).__name__}: {e})", True)
    return _Failure(f"{type(e).__name__}: {e}", False)


def checked(buf: Buffer, rng: ByteRequest | None) -> Buffer:
    """``buf`` as the answer to ``rng``: cut down when the server ignored ``Range`` and
    sent the whole object; ``WrongLength`` when its length cannot be right."""
    n = len(buf)
    if isinstance(rng, RangeByteRequest):
        want = rng.end - rng.start
        if n == want:
            return buf
        if n > want and n >= rng.end:  # a 200 with the whole object
            return buf[rng.start : rng.end]
        if n < want:
            raise WrongLength(f"short read: {n} of {want} bytes")
        raise WrongLength(f"wrong length: {n} bytes for a {want}-byte range")
    if isinstance(rng, SuffixByteRequest) and n > rng.suffix:
        return buf[n - rng.suffix :]
    return buf  # a whole object or an open range: aiohttp/botocore check Content-Length


# -- the store ----------------------------------------------------------------------------
class RemoteStore(WrapperStore[Store]):
    """Wraps a zarr ``FsspecStore``: every read retried per ``policy`` and checked for
    length, failures raised as ``RemoteError``. Read-only (the caller wraps it again)."""

    def __init__(self, store: Store, uri: str, policy: RemotePolicy, credentials: str = "") -> None:
        super().__init__(store)
        self.uri = uri.rstrip("/")
        self.policy = policy
        self.credentials = credentials

    def _with_store(self, store: Store) -> RemoteStore:
        return type(self)(store, self.uri, self.policy, self.credentials)

    # ``StoreRoot`` lists through the fsspec filesystem itself
    @property
    def fs(self) -> Any:
        return getattr(self._store, "fs", None)

    @property
    def path(self) -> Any:
        return getattr(self._store, "path", None)

    def url(self, key: str) -> str:
        return f"{self.uri}/{key}" if key else self.uri

    async def call(self, key: str, op: Callable[[], Awaitable[T]]) -> T:
        """``op()`` with retries, back-off and the overall deadline."""
        p = self.policy
        loop = asyncio.get_running_loop()
        end = loop.time() + p.deadline
        attempt = 0
        while True:
            attempt += 1
            remaining = end - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining) as budget:
                    return await op()
            except (asyncio.CancelledError, FileNotFoundError):
                raise  # FileNotFoundError: not there (zarr's stores read it as missing)
            except Exception as e:
                over = remaining <= 0 or budget.expired()
                failure = (
                    _Failure(f"not done within {p.deadline:g} s", False) if over else classify(e, p)
                )
                pause = p.pause(attempt)
                if failure.retry and attempt < p.attempts and loop.time() + pause < end:
                    log.debug("%s: %s; retrying in %.2f s", self.url(key), failure.text, pause)
                    await asyncio.sleep(pause)
                    continue
                raise self._error(key, failure, attempt) from e

    def _error(self, key: str, failure: _Failure, attempts: int) -> RemoteError:
        text = failure.text
        if failure.status in (401, 403) or text == "access denied":
            text += f"; {self.credentials}" if self.credentials else ""
        elif failure.text.startswith("HTTP"):
            text += f" after {attempts} attempt{'s' if attempts > 1 else ''}"
        else:
            text += f" ({attempts} attempt{'s' if attempts > 1 else ''})"
        return RemoteError(f"{self.url(key)}: {text}", status=failure.status, attempts=attempts)

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        async def once() -> Buffer | None:
            buf = await self._store.get(key, prototype, byte_range)
            return None if buf is None else checked(buf, byte_range)

        return await self.call(key, once)

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    # zarr's coalescing range reader and batch reader: ``Store``'s, over ``self.get``
    # (retried, checked), not straight to the wrapped store as ``WrapperStore``'s would
    def get_ranges(
        self,
        key: str,
        byte_ranges: Sequence[ByteRequest | None],
        *,
        prototype: BufferPrototype,
        max_concurrency: int | None = None,
        max_gap_bytes: int | None = None,
        max_coalesced_bytes: int | None = None,
    ) -> AsyncIterator[Sequence[tuple[int, Buffer | None]]]:
        given = {
            "max_concurrency": max_concurrency,
            "max_gap_bytes": max_gap_bytes,
            "max_coalesced_bytes": max_coalesced_bytes,
        }
        kwargs = {k: v for k, v in given.items() if v is not None}
        return Store.get_ranges(self, key, byte_ranges, prototype=prototype, **kwargs)

    _get_many = Store._get_many

    async def exists(self, key: str) -> bool:
        return await self.call(key, lambda: self._store.exists(key))

    async def getsize(self, key: str) -> int:
        return await self.call(key, lambda: self._store.getsize(key))

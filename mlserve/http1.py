"""A minimal HTTP/1.1 keep-alive client for the request path and for generating load.

A general-purpose async client (httpx) spends around half a millisecond of CPU per request,
and grpc.aio 0.2-0.3 ms per call (measured on 2 cores), so the control plane's calls to
Triton and the benchmark's load would cost more than the work they carry. This client does
only what both need: ``POST`` a ready-made body on a pooled keep-alive connection and read
the status, headers and body (``Content-Length`` or chunked). Around 50-90 µs per call;
``benchmarks/http1_client_cost.py`` compares it with httpcore and httpx (why it is kept).

Protocol cases it handles on purpose: interim ``1xx`` answers are skipped; ``204``,
``304`` and ``1xx`` have no body whatever their headers say; ``Content-Length`` and chunk
sizes must be ASCII digits (hex for chunks), never negative, at most ``max_body_bytes``;
every chunk must end with CRLF; IPv6 hosts are bracketed in ``Host``; each write is
drained; idle connections are bounded (``max_idle``) and closed after ``idle_timeout_s``;
and a request is re-sent on a fresh connection only when the reused one failed before
any byte of the response arrived (never after the head, so a POST is not repeated once the
server answered).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

_MAX_HEADER_BYTES = 64 * 1024
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NO_BODY = frozenset({204, 304})


class HttpProtocolError(Exception):
    """The server's answer is not HTTP/1.1 this client understands."""


def error_kind(exc: BaseException) -> str:
    """The benchmark error kind of a failed :meth:`Http1Client.post`."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, HttpProtocolError):
        return "bad_response"
    if isinstance(exc, OSError | asyncio.IncompleteReadError):
        return "connection"
    return type(exc).__name__


class Http1Response(NamedTuple):
    """A response: its status, headers (names in lower case) and body."""

    status: int
    body: bytes
    headers: dict[str, str]


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class _NothingReceivedError(Exception):
    """A reused connection failed before any byte of the answer: safe to send again."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Http1Client:
    """``await client.post(path, body)`` over pooled keep-alive connections.

    One connection carries one request at a time; the pool grows to the number of requests
    in flight, and keeps at most ``max_idle`` idle ones, each for ``idle_timeout_s``. Raises
    ``TimeoutError`` past the call's ``timeout_s`` (default: the client's;
    ``connect_timeout_s`` to connect), ``OSError`` / ``asyncio.IncompleteReadError`` when
    the connection fails, and ``HttpProtocolError`` for an answer it cannot parse. A
    kept-alive connection the server closed meanwhile (nothing of the answer received) is
    retried once on a fresh one.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 3.0,
        content_type: str = "application/json",
        max_idle: int = 256,
        idle_timeout_s: float = 30.0,
        max_body_bytes: int = 1 << 30,
    ) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host:port URLs are supported; got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle
        self.idle_timeout_s = idle_timeout_s
        self.max_body_bytes = max_body_bytes
        host = f"[{self.host}]" if ":" in self.host else self.host
        host_header = f"{host}:{self.port}"
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head_suffix = (
            f" HTTP/1.1\r\nhost: {host_header}\r\n{extra}content-type: {content_type}\r\n"
        ).encode("latin-1")
        self._idle: deque[_Connection] = deque()
        self._closed = False

    async def post(
        self,
        path: str,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Http1Response:
        """Send ``POST {path}`` with ``body`` (and extra ``headers``); the response.
        ``on_sent`` runs once the request is written, before its answer is awaited."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) if headers else ""
        request = b"".join(
            (
                b"POST ",
                (self.prefix + path).encode("latin-1"),
                self._head_suffix,
                extra.encode("latin-1"),
                b"content-length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        async with asyncio.timeout(self.timeout_s if timeout_s is None else timeout_s):
            connection = self._take_idle()
            if connection is not None:
                try:
                    return await self._exchange(connection, request, True, on_sent)
                except _NothingReceivedError:
                    connection.close()
                except BaseException:
                    connection.close()
                    raise
            connection = await self._connect()
            try:
                return await self._exchange(connection, request, False, on_sent)
            except _NothingReceivedError as exc:
                connection.close()
                raise exc.cause from None
            except BaseException:
                connection.close()
                raise

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection that has not expired."""
        idle = self._idle
        while idle:
            connection = idle.pop()
            if time.monotonic() - connection.idle_since < self.idle_timeout_s:
                return connection
            connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        if self._closed:
            connection.close()
            return
        now = time.monotonic()
        connection.idle_since = now
        idle = self._idle
        idle.append(connection)
        while idle and (
            len(idle) > self.max_idle or now - idle[0].idle_since >= self.idle_timeout_s
        ):
            idle.popleft().close()

    async def _connect(self) -> _Connection:
        async with asyncio.timeout(self.connect_timeout_s):
            reader, writer = await asyncio.open_connection(
                self.host, self.port, limit=_MAX_HEADER_BYTES
            )
        return _Connection(reader, writer)

    async def _exchange(
        self,
        connection: _Connection,
        request: bytes,
        reused: bool,
        on_sent: Callable[[], None] | None,
    ) -> Http1Response:
        reader = connection.reader
        try:
            connection.writer.write(request)
            if on_sent is not None:
                on_sent()
            await connection.writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HttpProtocolError("response headers too large") from exc
        except asyncio.IncompleteReadError as exc:
            if reused and not exc.partial:
                raise _NothingReceivedError(exc) from exc
            raise
        except ConnectionError as exc:
            if reused:
                raise _NothingReceivedError(exc) from exc
            raise
        status, headers = _parse_head(head)
        while 100 <= status < 200:
            head = await reader.readuntil(b"\r\n\r\n")
            status, headers = _parse_head(head)
        length = headers.get("content-length")
        keep_alive = headers.get("connection", "keep-alive").lower() == "keep-alive"
        if status in _NO_BODY:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader, self.max_body_bytes)
        elif length is not None:
            body = await reader.readexactly(_content_length(length, self.max_body_bytes))
        else:
            body = await _read_to_eof(reader, self.max_body_bytes)
            keep_alive = False
        if keep_alive:
            self._release(connection)
        else:
            connection.close()
        return Http1Response(status, body, headers)

    async def aclose(self) -> None:
        """Close the idle connections (ones in use close when their request ends)."""
        self._closed = True
        idle, self._idle = self._idle, deque()
        for connection in idle:
            connection.close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers (lower-case names) of a response head. An HTTP/1.0 answer
    without ``connection: keep-alive`` closes its connection, as the protocol says."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers = {} if parts[0] == "HTTP/1.1" else {"connection": "close"}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def _content_length(value: str, limit: int) -> int:
    if not (value.isascii() and value.isdigit()):
        raise HttpProtocolError(f"content-length is not a number: {value[:40]!r}")
    length = int(value)
    if length > limit:
        raise HttpProtocolError(f"content-length {length} exceeds {limit} bytes")
    return length


async def _read_to_eof(reader: asyncio.StreamReader, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while data := await reader.read(65536):
        total += len(data)
        if total > limit:
            raise HttpProtocolError(f"response body exceeds {limit} bytes")
        parts.append(data)
    return b"".join(parts)


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        digits = size_line.split(b";", 1)[0].strip()
        if not digits or not _HEX.issuperset(digits) or len(digits) > 16:
            raise HttpProtocolError(f"not a chunk size: {size_line[:40]!r}")
        size = int(digits, 16)
        total += size
        if total > limit:
            raise HttpProtocolError(f"chunked body exceeds {limit} bytes")
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpProtocolError("a chunk does not end with CRLF")

"""A minimal HTTP/1.1 keep-alive client for the request path and for generating load.

A general-purpose async client (httpx) spends around half a millisecond of CPU per request,
and grpc.aio 0.2-0.3 ms per call (measured on 2 cores), so the control plane's calls to
Triton and the benchmark's load would cost more than the work they carry. This client does
only what both need: ``POST`` a ready-made body on a pooled keep-alive connection and read
the status, headers and body (``Content-Length`` or chunked). Around 50-90 µs per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

_MAX_HEADER_BYTES = 64 * 1024


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
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class Http1Client:
    """``await client.post(path, body)`` over pooled keep-alive connections.

    One connection carries one request at a time; the pool grows to the number of requests
    in flight. Raises ``TimeoutError`` past the call's ``timeout_s`` (default: the client's;
    ``connect_timeout_s`` to connect), ``OSError`` / ``asyncio.IncompleteReadError`` when
    the connection fails, and ``HttpProtocolError`` for an answer it cannot parse. A
    kept-alive connection the server closed meanwhile is retried once on a fresh one.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 3.0,
        content_type: str = "application/json",
    ) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host:port URLs are supported; got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        host_header = f"{self.host}:{self.port}"
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head_suffix = (
            f" HTTP/1.1\r\nhost: {host_header}\r\n{extra}content-type: {content_type}\r\n"
        ).encode("latin-1")
        self._idle: list[_Connection] = []
        self._closed = False

    async def post(
        self,
        path: str,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Http1Response:
        """Send ``POST {path}`` with ``body`` (and extra ``headers``); the response."""
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
            reused = bool(self._idle)
            connection = self._idle.pop() if reused else await self._connect()
            try:
                return await self._exchange(connection, request)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                connection.close()
                stale = isinstance(exc, ConnectionError) or not exc.partial
                if not (reused and stale):
                    raise
            except BaseException:
                connection.close()
                raise
            connection = await self._connect()
            try:
                return await self._exchange(connection, request)
            except BaseException:
                connection.close()
                raise

    async def _connect(self) -> _Connection:
        async with asyncio.timeout(self.connect_timeout_s):
            reader, writer = await asyncio.open_connection(
                self.host, self.port, limit=_MAX_HEADER_BYTES
            )
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> Http1Response:
        connection.writer.write(request)
        reader = connection.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            connection.close()
            raise HttpProtocolError("response headers too large") from exc
        status, headers = _parse_head(head)
        length = headers.get("content-length")
        keep_alive = headers.get("connection", "keep-alive").lower() == "keep-alive"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        elif length is not None:
            body = await reader.readexactly(_content_length(length))
        else:
            body = await reader.read()
            keep_alive = False
        if keep_alive and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        return Http1Response(status, body, headers)

    async def aclose(self) -> None:
        """Close the idle connections (ones in use close when their request ends)."""
        self._closed = True
        idle, self._idle = self._idle, []
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


def _content_length(value: str) -> int:
    if not value.isdigit():
        raise HttpProtocolError(f"content-length is not a number: {value[:40]!r}")
    return int(value)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HttpProtocolError(f"not a chunk size: {size_line[:40]!r}") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)

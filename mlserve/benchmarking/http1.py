"""A minimal HTTP/1.1 keep-alive client for generating load.

A general-purpose async client (httpx) spends around half a millisecond of CPU per request,
so on a small machine the load generator, not the server, would set the measured ceiling.
This client does only what a benchmark needs: ``POST`` a ready-made body on a pooled
keep-alive connection and read the status and body (``Content-Length`` or chunked). The
checks before a run still use httpx, for its clear errors.
"""

from __future__ import annotations

import asyncio
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


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class Http1Client:
    """``await client.post(path, body) -> (status, body)`` over pooled keep-alive connections.

    One connection carries one request at a time; the pool grows to the number of requests
    in flight. Raises ``TimeoutError`` past ``timeout_s`` (``connect_timeout_s`` to connect),
    ``OSError`` / ``asyncio.IncompleteReadError`` when the connection fails, and
    ``HttpProtocolError`` for an answer it cannot parse. A kept-alive connection the server
    closed meanwhile is retried once on a fresh one.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 3.0,
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
        self._head_suffix = f" HTTP/1.1\r\nhost: {host_header}\r\n{extra}".encode("latin-1")
        self._idle: list[_Connection] = []
        self._closed = False

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send ``POST {path}`` with ``body`` (JSON) and return the status and body."""
        request = b"".join(
            (
                b"POST ",
                (self.prefix + path).encode("latin-1"),
                self._head_suffix,
                b"content-type: application/json\r\ncontent-length: ",
                str(len(body)).encode(),
                b"\r\n\r\n",
                body,
            )
        )
        async with asyncio.timeout(self.timeout_s):
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

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[int, bytes]:
        connection.writer.write(request)
        reader = connection.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            connection.close()
            raise HttpProtocolError("response headers too large") from exc
        status, length, chunked, keep_alive = _parse_head(head)
        if chunked:
            body = await _read_chunked(reader)
        elif length is not None:
            body = await reader.readexactly(length)
        else:
            body = await reader.read()
            keep_alive = False
        if keep_alive and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        return status, body

    async def aclose(self) -> None:
        """Close the idle connections (ones in use close when their request ends)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, content length, chunked, keep-alive) from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    length: int | None = None
    chunked = False
    keep_alive = parts[0] == "HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key == "content-length":
            length = int(value.strip())
        elif key == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif key == "connection":
            keep_alive = value.strip().lower() == "keep-alive"
    return int(parts[1]), length, chunked, keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)

"""``/metrics`` on a port of its own (``monitoring.port``), beside the API port.

Many Prometheus setups scrape a dedicated metrics port (seed S1 configures 9090). This is a
small asyncio server on the control plane's event loop (request-path metrics are read on
that loop, see :mod:`mlserve.monitoring.loop_metrics`), with HTTP/1.1 framing by ``h11``:
``GET /metrics`` answers the exposition, anything else a 404. One request per connection at
a time, requests read up to 16 KiB of headers and 10 s. With several workers each one
listens on the port (``SO_REUSEPORT``: the kernel spreads the connections) and answers the
exposition merged over every worker (:mod:`mlserve.monitoring.worker_metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import h11
from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)
_READ_TIMEOUT_S = 10.0
_MAX_HEADER_BYTES = 16 * 1024


class MetricsListener:
    """Serves ``exposition()`` at ``http://host:port/metrics`` until :meth:`stop`;
    ``reuse_port`` lets every worker of one control plane bind the same port."""

    def __init__(
        self, exposition: Callable[[], bytes], host: str, port: int, *, reuse_port: bool = False
    ) -> None:
        self.exposition = exposition
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind and listen; OSError when the port is taken."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_port=self.reuse_port or None
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEADER_BYTES)
        try:
            while True:
                event = await self._next_event(connection, reader)
                if not isinstance(event, h11.Request):
                    break
                while not isinstance(await self._next_event(connection, reader), h11.EndOfMessage):
                    pass
                writer.write(self._answer(connection, event))
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    break
                connection.start_next_cycle()
        except (h11.RemoteProtocolError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _next_event(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Event | type[h11.PAUSED] | type[h11.NEED_DATA]:
        while True:
            event = connection.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(65536), _READ_TIMEOUT_S)
            connection.receive_data(data)

    def _answer(self, connection: h11.Connection, request: h11.Request) -> bytes:
        if request.method == b"GET" and request.target.split(b"?")[0] == b"/metrics":
            body, status, kind = self.exposition(), 200, CONTENT_TYPE_LATEST
        else:
            body, status, kind = b"not found: GET /metrics\n", 404, "text/plain"
        headers = [("content-type", kind), ("content-length", str(len(body)))]
        return b"".join(
            (
                connection.send(h11.Response(status_code=status, headers=headers)) or b"",
                connection.send(h11.Data(data=body)) or b"",
                connection.send(h11.EndOfMessage()) or b"",
            )
        )

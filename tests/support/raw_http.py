"""Send a request body of any size over a plain socket, without holding it in memory.

``send_streamed`` writes the head, then the body in 64 KiB chunks (``Content-Length`` or
chunked), while a reader thread takes the answer as soon as it comes, so a server that
answers early (a 413 on the declared length) is seen even when it closes the connection
before the body is through.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

_CHUNK_BYTES = 65536


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    bytes_sent: int


def send_streamed(
    url: str,
    method: str,
    path: str,
    *,
    prefix: bytes,
    filler: bytes,
    suffix: bytes,
    total_bytes: int,
    headers: dict[str, str],
    declare_length: bool = True,
    timeout_s: float = 60.0,
) -> RawAnswer:
    """Send ``prefix``, ``filler`` repeated, ``suffix``: ``total_bytes`` in all (give or
    take one ``filler``); the parsed answer and how much of the body went out before the
    server stopped reading."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout_s)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    repeats = (total_bytes - len(prefix) - len(suffix)) // len(filler)
    length = len(prefix) + repeats * len(filler) + len(suffix)
    lines.append(f"Content-Length: {length}" if declare_length else "Transfer-Encoding: chunked")
    received = bytearray()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                received.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunk = filler * max(1, _CHUNK_BYTES // len(filler))
        repeats = (total_bytes - len(prefix) - len(suffix)) // len(filler)
        whole, rest = divmod(repeats * len(filler), len(chunk))
        pieces = [prefix, *([chunk] * whole), filler * (rest // len(filler)), suffix]
        for piece in pieces:
            sock.sendall(piece if declare_length else b"%x\r\n%b\r\n" % (len(piece), piece))
            sent += len(piece)
        if not declare_length:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: what it said is in `received`
    reader.join(timeout_s)
    sock.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer_headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        answer_headers[name.strip().lower()] = value.strip()
    if answer_headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return RawAnswer(int(status_line.split()[1]), answer_headers, body, sent)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)

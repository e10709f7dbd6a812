"""Whole lines to a file descriptor, written in batches of up to ``PIPE_BUF`` bytes.

Why: the request log writes one line per request to standard output. Under
``PYTHONUNBUFFERED=1`` (set by our image, as by most Python images) ``sys.stdout`` writes
each line through at once: a ``write`` syscall per request, and when standard output is a
pipe (Docker's log driver, systemd, a supervisor) each one also wakes the reader. Measured
in process with ``benchmarks/request_cost.py`` and its output piped to another process: a
warm ``/predict`` took 117 µs of CPU with the log and 47 µs without; with the lines batched
here it is back to what writing them to a file costs (docs/performance.md).

:class:`LineSink` keeps the lines it is given and writes them when :meth:`flush` is called
(the request log does it at most ``FLUSH_AFTER_S`` after a line, and at exit) or once
``max_pending_bytes`` wait. Lines are joined into chunks of at most ``select.PIPE_BUF``
bytes (a longer line goes alone), so every chunk written to a pipe is atomic: the lines of
several workers sharing one standard output never interleave mid-line. Not thread-safe:
one event loop writes.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator

CHUNK_BYTES = select.PIPE_BUF
"""The largest write a pipe takes atomically (4,096 bytes on Linux)."""


class LineSink:
    """Lines (bytes ending in a newline) kept until :meth:`flush` writes them to ``fd``."""

    def __init__(self, fd: int, *, max_pending_bytes: int = 1 << 20) -> None:
        self.fd = fd
        self.max_pending_bytes = max_pending_bytes
        self.dropped = 0
        """Lines lost because ``fd`` refused them (closed, or a broken pipe)."""
        self._lines: list[bytes] = []
        self._pending = 0

    @property
    def pending(self) -> int:
        """Lines written here and not yet to ``fd``."""
        return len(self._lines)

    def write(self, line: bytes) -> None:
        """Keep ``line``; written at the next flush, or now once too much waits."""
        self._lines.append(line)
        self._pending += len(line)
        if self._pending >= self.max_pending_bytes:
            self.flush()

    def flush(self) -> None:
        """Write every kept line, in line-aligned chunks; a refusing ``fd`` drops them."""
        lines, self._lines, self._pending = self._lines, [], 0
        written = 0
        try:
            for chunk, count in _chunks(lines):
                _write_all(self.fd, chunk)
                written += count
        except OSError:
            self.dropped += len(lines) - written


def _chunks(lines: list[bytes]) -> Iterator[tuple[bytes, int]]:
    """Consecutive lines joined up to ``CHUNK_BYTES`` (a longer line alone), with how many
    lines each chunk holds."""
    start, size = 0, 0
    for i, line in enumerate(lines):
        if size and size + len(line) > CHUNK_BYTES:
            yield b"".join(lines[start:i]), i - start
            start, size = i, 0
        size += len(line)
    if start < len(lines):
        yield b"".join(lines[start:]), len(lines) - start


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

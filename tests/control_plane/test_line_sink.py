"""LineSink: request-log lines batched into whole-line writes (control_plane/line_sink.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from mlserve.control_plane.line_sink import CHUNK_BYTES, LineSink, _chunks


def read_all(fd: int) -> bytes:
    parts = []
    while part := os.read(fd, 65536):
        parts.append(part)
    return b"".join(parts)


def test_lines_wait_for_the_flush_and_arrive_whole_and_in_order() -> None:
    read_end, write_end = os.pipe()
    sink = LineSink(write_end)
    lines = [f"line {i} {'x' * (i % 300)}\n".encode() for i in range(2000)]
    for line in lines:
        sink.write(line)
    assert sink.pending == 2000
    os.set_blocking(read_end, False)
    with pytest.raises(BlockingIOError):  # nothing written before the flush
        os.read(read_end, 10)
    os.set_blocking(read_end, True)
    reader = subprocess.Popen(  # drains the pipe while the flush writes more than it holds
        [sys.executable, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"],
        stdin=read_end,
        stdout=subprocess.PIPE,
    )
    os.close(read_end)
    sink.flush()
    os.close(write_end)
    out, _ = reader.communicate(timeout=30)
    assert sink.pending == 0
    assert out == b"".join(lines)


def test_chunks_are_line_aligned_and_at_most_pipe_buf_unless_one_line_is_longer() -> None:
    long_line = b"y" * (CHUNK_BYTES * 2) + b"\n"
    lines = [b"a" * 100 + b"\n"] * 100 + [long_line] + [b"b\n"] * 5
    chunks = list(_chunks(lines))
    assert b"".join(chunk for chunk, _ in chunks) == b"".join(lines)
    assert sum(count for _, count in chunks) == len(lines)
    for chunk, count in chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= CHUNK_BYTES or (count == 1 and chunk == long_line)
    assert (long_line, 1) in chunks
    assert list(_chunks([])) == []


def test_too_much_waiting_is_written_at_once() -> None:
    read_end, write_end = os.pipe()
    sink = LineSink(write_end, max_pending_bytes=1000)
    for _ in range(9):
        sink.write(b"z" * 99 + b"\n")
    assert sink.pending == 9
    sink.write(b"z" * 99 + b"\n")  # 1000 bytes wait: written now
    assert sink.pending == 0
    os.close(write_end)
    assert read_all(read_end) == (b"z" * 99 + b"\n") * 10


def test_a_closed_output_drops_lines_and_counts_them_without_raising() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: EPIPE (Python ignores SIGPIPE)
    sink = LineSink(write_end)
    sink.write(b"one\n")
    sink.write(b"two\n")
    sink.flush()
    assert sink.dropped == 2
    assert sink.pending == 0
    os.close(write_end)


def test_two_processes_sharing_one_pipe_never_interleave_mid_line() -> None:
    # Like two workers writing their request logs to one standard output.
    writer = textwrap.dedent(
        """
        import random, sys
        from mlserve.control_plane.line_sink import LineSink
        sink = LineSink(1)
        name = sys.argv[1]
        for i in range(20000):
            sink.write(f"{name} {i} {'p' * random.randrange(200)} end\\n".encode())
            if i % 500 == 499:  # ~55 KB at once: the pipe fills and the writes block midway
                sink.flush()
        sink.flush()
        """
    )
    read_end, write_end = os.pipe()
    workers = [
        subprocess.Popen([sys.executable, "-c", writer, name], stdout=write_end)
        for name in ("w1", "w2")
    ]
    os.close(write_end)
    parts = []
    while part := os.read(read_end, 4096):  # a slow reader keeps the pipe full
        parts.append(part)
        time.sleep(0.0002)
    lines = b"".join(parts).decode().splitlines()
    os.close(read_end)
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    assert len(lines) == 40000
    seen: dict[str, list[int]] = {"w1": [], "w2": []}
    for line in lines:
        name, number, padding, end = line.split(" ")
        assert end == "end", line
        assert set(padding) <= {"p"}, line
        seen[name].append(int(number))
    assert seen == {"w1": list(range(20000)), "w2": list(range(20000))}

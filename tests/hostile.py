"""A hostile HTTP server on loopback, for tests of what the harness does when a server misbehaves.

    with hostile_server({"/v2/auth/token": token_grant(), "/endpoint": drip(b"{}")}) as server:
        ...  # server.url is http://127.0.0.1:PORT; server.requests lists the paths asked for

Each path is scripted with an `Answer` (or a list of them, served in turn, the last one again
and again); a path without one is answered 404. An answer writes raw bytes to the connection,
so it can break HTTP on purpose: drip bytes, send a gzip bomb, a bad header line, close the
connection mid-body, JSON nested too deep; `token_grant()` answers a token request normally.
Every loop is bounded in count and in time and ends as soon as the server stops; leaving the
`with` block stops the server and joins every thread it started. Only loopback, one request
per connection (each answer closes it).
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# An answer: (the connection, the server's stop event) -> None; it writes, the server closes.
Answer = Callable[[socket.socket, threading.Event], None]

TOKEN = "hostile-access-token-0123456789abcdef"  # a test value, granted by token_grant()
MAX_REQUEST = 64 * 1024 * 1024  # bytes of a request the server reads, at most
REQUEST_WAIT = 5.0  # seconds the server waits for a request's bytes


@dataclass
class HostileServer:
    url: str  # http://127.0.0.1:PORT
    requests: list[str] = field(default_factory=list)  # the paths asked for, in order


def _head(status: int = 200, **headers: str | int) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send(connection: socket.socket, data: bytes) -> bool:
    """Write `data`; False when the client has gone (it gave up, as it should)."""
    try:
        connection.sendall(data)
    except OSError:
        return False
    return True


def raw(data: bytes) -> Answer:
    """Exactly these bytes, then the connection closed."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        _send(connection, data)

    return answer


def json_answer(value: Any, status: int = 200) -> Answer:
    body = json.dumps(value).encode()
    return raw(_head(status, Content_Type="application/json", Content_Length=len(body)) + body)


def gzip_json(value: Any) -> Answer:
    """A JSON answer, gzip-encoded as servers often send it."""
    body = gzip.compress(json.dumps(value).encode())
    head = _head(
        200, Content_Type="application/json", Content_Encoding="gzip", Content_Length=len(body)
    )
    return raw(head + body)


def bad_gzip() -> Answer:
    """An answer that says it is gzip-encoded but is not."""
    body = b'{"Meta": {}}'
    head = _head(
        200, Content_Type="application/json", Content_Encoding="gzip", Content_Length=len(body)
    )
    return raw(head + body)


def token_grant() -> Answer:
    """A normal OAuth token answer, granting TOKEN for five minutes."""
    return json_answer({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300})


def deep_json(depth: int = 100_000) -> Answer:
    """A JSON array nested `depth` levels deep."""
    body = b"[" * depth + b"]" * depth
    return raw(_head(200, Content_Type="application/json", Content_Length=len(body)) + body)


def drip(body: bytes = b'{"Meta": {}}', every: float = 0.2, for_at_most: float = 60.0) -> Answer:
    """Headers at once, then the body one byte every `every` seconds (never a silence long
    enough for a read timeout), for at most `for_at_most` seconds."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        head = _head(200, Content_Type="application/json", Content_Length=len(body))
        _drip_bytes(connection, stop, head, body, every, for_at_most)

    return answer


def drip_headers(every: float = 0.2, for_at_most: float = 60.0) -> Answer:
    """The status line, then a header line that never ends, one byte every `every` seconds."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        _drip_bytes(
            connection, stop, b"HTTP/1.1 200 OK\r\nX-Drip: ", b"a" * 100_000, every, for_at_most
        )

    return answer


def _drip_bytes(
    connection: socket.socket,
    stop: threading.Event,
    head: bytes,
    body: bytes,
    every: float,
    for_at_most: float,
) -> None:
    ends = time.monotonic() + for_at_most
    if not _send(connection, head):
        return
    for index in range(len(body)):  # bounded by the body, the time and the server's stop
        if stop.wait(every) or time.monotonic() > ends:
            return
        if not _send(connection, body[index : index + 1]):
            return


def silent(for_at_most: float = 60.0) -> Answer:
    """Reads the request, answers nothing for `for_at_most` seconds (or until the server stops)."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        stop.wait(for_at_most)

    return answer


def hang_up() -> Answer:
    """Closes the connection without answering."""

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        pass

    return answer


def malformed_header() -> Answer:
    """A status line, then a header line without a colon."""
    return raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nThis is not a header\r\n\r\n{}")


def closed_mid_body(promised: int = 1000, sent: int = 10) -> Answer:
    """Promises `promised` bytes of body, sends `sent` of them and closes the connection."""
    return raw(_head(200, Content_Type="application/json", Content_Length=promised) + b"{" * sent)


def gzip_bomb(inflated: int = 4 << 30) -> Answer:
    """A gzip-encoded JSON answer whose body inflates to `inflated` bytes of zeros (a multiple of
    1 MiB; the default 4 GiB is about 4 MB on the wire)."""

    body = bomb(inflated)  # built now, not while a client waits

    def answer(connection: socket.socket, stop: threading.Event) -> None:
        head = _head(
            200,
            Content_Type="application/json",
            Content_Encoding="gzip",
            Content_Length=len(body),
        )
        _send(connection, head + body)

    return answer


@functools.cache
def bomb(inflated: int) -> bytes:
    """gzip of `inflated` zero bytes, built from one compressed MiB repeated (each MiB
    compressed after a full flush is the same bytes), in well under a second for 4 GiB."""
    mib = 1 << 20
    if inflated % mib or inflated <= 0:
        raise ValueError(f"gzip_bomb: {inflated} is not a positive multiple of 1 MiB")
    zeros = bytes(mib)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: with a gzip header and trailer
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    last_block = compressor.flush()[:-8]  # the end of the deflate stream, without its trailer
    trailer = struct.pack(
        "<II", zeros_crc32(inflated // mib, zlib.crc32(zeros), mib), inflated & 0xFFFFFFFF
    )
    return first + again * (inflated // mib - 1) + last_block + trailer


def zeros_crc32(count: int, block_crc: int, block: int) -> int:
    """The CRC-32 of `count` blocks of `block` zero bytes each, the CRC of one being
    `block_crc`: blocks joined by doubling, not 4 GiB run through zlib.crc32 (a second)."""
    if count < 0 or block < 0:
        raise ValueError(f"zeros_crc32: {count} blocks of {block} bytes")
    crc = 0  # of nothing
    while count:
        if count & 1:
            crc = crc32_joined(crc, block_crc, block)
        block_crc, block, count = crc32_joined(block_crc, block_crc, block), block * 2, count >> 1
    return crc


def crc32_joined(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of two byte strings end to end from the CRC of each and the second's length,
    as zlib's crc32_combine: the first CRC carried through `second_length` zero bytes (a
    linear map over GF(2), raised to that power by squaring), then the second's added."""
    if second_length < 0:
        raise ValueError(f"crc32_joined: a length of {second_length}")

    def apply(operator: list[int], vector: int) -> int:
        total = 0
        for row in operator:
            if not vector:
                break
            if vector & 1:
                total ^= row
            vector >>= 1
        return total

    def square(operator: list[int]) -> list[int]:
        return [apply(operator, row) for row in operator]

    one_bit = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit, reflected polynomial
    operator = square(square(square(one_bit)))  # eight zero bits: one zero byte
    while second_length:
        if second_length & 1:
            first = apply(operator, first)
        operator, second_length = square(operator), second_length >> 1
    return first ^ second


def _read_request(connection: socket.socket) -> str | None:
    """The path of the request on `connection` (its body read and dropped); None if none came."""
    connection.settimeout(REQUEST_WAIT)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = min(int(value.strip()), MAX_REQUEST)
        while len(body) < length:
            chunk = connection.recv(min(65536, length - len(body)))
            if not chunk:
                return None
            body += chunk
    except (OSError, ValueError):
        return None
    parts = lines[0].split(" ")
    return parts[1].split("?")[0] if len(parts) > 1 else None


@contextmanager
def hostile_server(answers: Mapping[str, Answer | Sequence[Answer]]) -> Iterator[HostileServer]:
    """A server on 127.0.0.1 answering each path as scripted; stopped on leaving the block."""
    stop = threading.Event()
    scripts = {path: list(a) if isinstance(a, Sequence) else [a] for path, a in answers.items()}
    lock = threading.Lock()
    served: dict[str, int] = {}

    def next_answer(path: str) -> Answer:
        with lock:
            state.requests.append(path)
            script = scripts.get(path)
            if not script:
                return json_answer({"error": f"no answer scripted for {path}"}, 404)
            count = served.get(path, 0)
            served[path] = count + 1
            return script[min(count, len(script) - 1)]

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            connection: socket.socket = self.request
            path = _read_request(connection)
            if path is not None:
                next_answer(path)(connection, stop)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = False
        block_on_close = True  # server_close() joins every answering thread
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    state = HostileServer(f"http://127.0.0.1:{server.server_address[1]}")
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        yield state
    finally:
        stop.set()
        server.shutdown()
        serving.join()
        server.server_close()

"""What comes off the wire, bounded in time and size whatever the server does.

httpx bounds each socket operation (a read timeout restarts with every byte), never a request
as a whole, and inflates a gzip body without limit. Here:

* `deadline(seconds)` sets when the requests made inside the block must be over (nested blocks
  keep the sooner end). The transport of `bounded_transport()` cuts every connect, read and
  write to what is left of it, so a server dripping its headers or its body one byte at a time
  is cut off when the time is up; `read_body` checks it between chunks as well, for any
  transport.
* `read_body` undoes the Content-Encoding itself, chunk by chunk, and never inflates more than
  the limit (plus one byte, to know that there was more).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

ACCEPT_ENCODING = "gzip, deflate"  # what read_body decodes: never more than that is asked for
_CODINGS = {"gzip": 47, "x-gzip": 47, "deflate": 47}  # zlib wbits 32 + 15: either header
_WRITE_PIECE = 64 * 1024  # bytes written at a time, each within what is left of the deadline

_ends: ContextVar[float | None] = ContextVar("techval_request_deadline", default=None)


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Within the block, requests end `seconds` from now (None: no limit of its own), or when
    an enclosing block's deadline ends, if that is sooner."""
    outer = _ends.get()
    ends = None if seconds is None else time.monotonic() + seconds
    if outer is not None and (ends is None or outer < ends):
        ends = outer
    token = _ends.set(ends)
    try:
        yield
    finally:
        _ends.reset(token)


def remaining() -> float | None:
    """Seconds left before the deadline of the enclosing block; None: no deadline."""
    ends = _ends.get()
    return None if ends is None else ends - time.monotonic()


def _cut(timeout: float | None, error: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_PIECE):  # a server reading slowly is cut too
            piece = buffer[start : start + _WRITE_PIECE]
            self._stream.write(piece, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _BoundedStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bounded_transport(*, tls: bool = True) -> httpx.HTTPTransport:
    """httpx's own transport, its connects, reads and writes cut to the request's deadline.
    httpx takes no network backend, so it is swapped into the pool it built
    (tests/unit/test_hostile_answers.py fails if an httpx release moves it). `tls=False` for a
    client that can reach no https URL: the CA bundle is not loaded (20-35 ms a run)."""
    transport = httpx.HTTPTransport() if tls else httpx.HTTPTransport(verify=False)
    pool = transport._pool
    pool._network_backend = _BoundedBackend(pool._network_backend)
    return transport


def check_deadline(request: httpx.Request) -> None:
    """httpx.ReadTimeout when the deadline has passed (between chunks, for any transport)."""
    left = remaining()
    if left is not None and left <= 0:
        raise httpx.ReadTimeout("the request's deadline passed", request=request)


class _Inflater:
    """The Content-Encoding undone, chunk by chunk, never producing more than it is allowed."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        # the last coding applied is undone first; identity and unknown codings pass through
        self.layers = [zlib.decompressobj(_CODINGS[c]) for c in reversed(codings) if c in _CODINGS]

    def feed(self, data: bytes, room: int, *, last: bool = False) -> bytes | None:
        """`data` decoded; None when it decodes to more than `room` bytes (each layer is held
        to `room`: an intermediate coding of a JSON answer is never larger than the answer)."""
        for layer in self.layers:
            data = layer.decompress(data, room + 1)
            if last:
                data += layer.flush()
            if len(data) > room:
                return None
        return data if len(data) <= room else None  # identity: the chunk as it came


def read_body(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The body of a streamed `response`, its Content-Encoding undone, and whether it was over
    `max_bytes` (decoded): then nothing more is read, and what was kept is not all of it.
    A coded body that does not decode is an httpx.DecodingError."""
    try:  # a transport that built the response whole (in memory) has decoded it already
        content = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        return content[:max_bytes], len(content) > max_bytes
    inflater = _Inflater(response.headers.get("content-encoding", ""))
    body = bytearray()
    try:
        for chunk in response.iter_raw():
            check_deadline(response.request)
            data = inflater.feed(chunk, max_bytes - len(body))
            if data is None:
                return bytes(body), True
            body += data
        data = inflater.feed(b"", max_bytes - len(body), last=True)
    except zlib.error as exc:
        coding = response.headers.get("content-encoding", "")
        raise httpx.DecodingError(
            f"the {coding} body does not decode ({exc})", request=response.request
        ) from None
    if data is None:
        return bytes(body), True
    body += data
    return bytes(body), False

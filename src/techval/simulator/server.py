"""The simulator as a real HTTP/1.1 server on loopback, in a background thread."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from techval.simulator.app import Simulator, too_large

CHUNK = 1 << 20


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout, Ctrl-C) is not the server's error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator
    stopping: threading.Event  # set by RunningSimulator.stop(): no answer is held back then


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: _Server

    def _serve(self) -> None:
        simulator = self.server.simulator
        length = int(self.headers.get("Content-Length") or 0)
        if length > simulator.max_message_bytes:
            # Read what was sent (so the client sees the answer, not a reset), keep none of it.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
            reply = too_large(simulator.max_message_bytes)
        else:
            body = self.rfile.read(length) if length else b""
            reply = simulator.handle(self.command, self.path, dict(self.headers.items()), body)
        if simulator.answer_delay:
            # A round trip to Redox, held here: outside the simulator's lock, so concurrent
            # clients wait at the same time; a stopping server lets its answers go at once.
            self.server.stopping.wait(simulator.answer_delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "private, no-cache, no-store, must-revalidate")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(reply.body)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Silent: request lines may carry identifiers, and the harness records exchanges itself."""


SHUTDOWN_POLL_S = 0.02


class RunningSimulator:
    """A started server; `url` is its base URL, `stop()` shuts it down."""

    def __init__(self, simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self._server = _Server((host, port), _Handler)
        self._server.simulator = simulator
        self._server.stopping = threading.Event()
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self.serve_forever, name="techval-simulator", daemon=True
        )

    def start(self) -> RunningSimulator:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        # socketserver polls for shutdown every 0.5 s by default: every run would wait that
        # long to stop its simulator
        self._server.serve_forever(poll_interval=SHUTDOWN_POLL_S)

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

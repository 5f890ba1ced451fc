"""An httpx transport that calls the simulator in-process: no socket, for tests and benchmarks."""

from __future__ import annotations

import httpx

from techval.simulator.app import Simulator


def simulator_transport(simulator: Simulator) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        reply = simulator.handle(
            request.method, request.url.path, dict(request.headers.items()), request.read()
        )
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    return httpx.MockTransport(handle)

"""`make bench`: what the harness costs beyond the network, and what the simulator can take.

Prints a table and writes reports/bench.json. Not a test: nothing here passes or fails; the
figures are compared with the goals of issues 6 and 11 and reported with the machine they came
from, each beside its baseline from the same run.

0. the fixed cost of a short run (`techval run --tags organization --no-html`) beside
   `python -c "import pytest"`;
1. the whole suite on the simulator, end to end (`techval run`, with and without the HTML
   report), and the harness's own overhead per exchange: the time `RedoxClient.send` takes
   (validation, redaction, recording, Allure attachment) minus a plain httpx POST of the same
   bodies;
2. validation throughput with compiled validators, and a 40 MB VisitPush validated and
   attached: time and peak memory against the message size;
3. the simulator under 16 concurrent keep-alive clients: requests per second, p50/p99;
4. the suite under pytest-xdist with 200 ms added to every answer (a Redox round trip),
   the organization record lifecycle kept on one worker (--dist loadgroup).
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from techval.cli import _Handoff
from techval.core.auth import token_provider
from techval.core.config import load_settings
from techval.core.paths import project_root
from techval.core.redaction import Redactor
from techval.core.schemas import SchemaRegistry
from techval.harness.run import start_run
from techval.simulator import RunningSimulator, provision

ROOT = project_root()
TECHVAL = [sys.executable, "-m", "techval.cli"]


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _timed_run(args: list[str], reports: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(
        [*TECHVAL, "run", "--env", "simulator", "--reports", str(reports), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - start, done


def suite_end_to_end(folder: Path) -> dict[str, Any]:
    """The whole suite with the HTML report, then without it (`--no-html`)."""
    wall, done = _timed_run([], folder / "e2e")
    bare, _ = _timed_run(["--no-html"], folder / "e2e-bare")
    har = json.loads((folder / "e2e" / "exchanges.har").read_text())
    return {
        "wall_s": round(wall, 2),
        "no_html_s": round(bare, 2),
        "exit": done.returncode,
        "exchanges": len(har["log"]["entries"]),
    }


def fixed_cost(folder: Path, repeats: int = 5) -> dict[str, Any]:
    """What a short run costs end to end (`--tags organization --no-html`), beside what
    starting Python and importing pytest costs on the same machine; medians of `repeats`."""

    def median_of(command: list[str]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
            times.append(time.perf_counter() - start)
        return round(statistics.median(times), 2)

    reports = str(folder / "fixed")
    short = [*TECHVAL, "run", "--env", "simulator", "--tags", "organization", "--no-html"]
    return {
        "run_organization_no_html_s": median_of([*short, "--reports", reports]),
        "import_pytest_s": median_of([sys.executable, "-c", "import pytest"]),
        "repeats": repeats,
    }


def harness_overhead(folder: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The suite in-process, timing every send; then the same bodies through plain httpx."""
    run = start_run(load_settings("simulator"))
    client, sends = run.client, []
    original = client.send

    def timed(message: dict[str, Any]) -> Any:
        start = time.perf_counter()
        try:
            return original(message)
        finally:
            sends.append(time.perf_counter() - start)

    client.send = timed  # type: ignore[method-assign]
    reports = folder / "inprocess"
    with contextlib.redirect_stdout(io.StringIO()):
        _run_pytest(reports, run)
    sent = [
        (e.label, e.request_body) for e in client.exchanges if e.label != "token" and e.attempt == 1
    ]

    # The run's simulator stopped with the run: replay on a fresh one, provisioned the same way.
    settings = load_settings("simulator")
    running = RunningSimulator(provision(settings)).start()
    token = _token(settings, running.url)
    plain = []
    with httpx.Client(timeout=30) as http:
        for _, body in sent:
            data = json.dumps(body).encode()
            start = time.perf_counter()
            http.post(
                f"{running.url}/endpoint",
                content=data,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            plain.append(time.perf_counter() - start)
    running.stop()
    harness_ms, plain_ms = statistics.mean(sends) * 1000, statistics.mean(plain) * 1000
    return {
        "exchanges": len(sends),
        "harness_send_ms": round(harness_ms, 3),
        "plain_httpx_ms": round(plain_ms, 3),
        "overhead_per_exchange_ms": round(harness_ms - plain_ms, 3),
    }, sent


def _token(settings: Any, url: str) -> str:
    with httpx.Client() as http:
        auth = settings.with_base_url(url).auth
        return token_provider(auth, http, Redactor(), lambda exchange: None).token()


def _run_pytest(reports: Path, run: Any) -> None:
    pytest.main(
        [
            str(ROOT / "steps"),
            "-q",
            f"--rootdir={ROOT}",
            f"--config-file={ROOT / 'pyproject.toml'}",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
            f"--alluredir={reports / 'allure-results'}",
            "--clean-alluredir",
            f"--techval-reports={reports}",
        ],
        plugins=[_Handoff(run)],
    )


def validation(sent: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    registry = SchemaRegistry()
    messages = [(registry.schema_for(body), body) for _, body in sent]
    for name, body in messages:
        registry.validate(name, body)  # compile every validator first
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        for name, body in messages:
            registry.validate(name, body)
        count += len(messages)
    rate = count / (time.perf_counter() - start)
    push = next(body for label, body in sent if label == "ClinicalSummary.VisitPush")
    big = copy.deepcopy(push)
    big["Header"]["Document"]["Title"] = "x" * 39_000_000  # just under Redox's 40 MB
    size = len(json.dumps(big).encode())
    settings = load_settings("simulator")
    run = start_run(settings)
    from techval.core.exchange import Exchange

    def validate_and_attach() -> None:
        run.client.check_request(big)
        exchange = Exchange("ClinicalSummary.VisitPush", "POST", "x", {}, big, "now")
        json.dumps(run.reporter.redactor.data(exchange.as_document()), ensure_ascii=False)

    start = time.perf_counter()
    validate_and_attach()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    validate_and_attach()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    run.close()
    return {
        "messages_per_s": round(rate),
        "visitpush_bytes": size,
        "visitpush_validate_and_attach_s": round(seconds, 2),
        "visitpush_peak_memory_x": round(peak / size, 2),
    }


def _load_client(url: str, body: bytes, token: str, seconds: float, out: list[float]) -> None:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        connection.request("POST", "/endpoint", body, headers)
        connection.getresponse().read()
        out.append(time.perf_counter() - start)
    connection.close()


def simulator_load(sent: list[tuple[str, dict[str, Any]]], clients: int = 16) -> dict[str, Any]:
    settings = load_settings("simulator")
    running = RunningSimulator(provision(settings)).start()
    token = _token(settings, running.url)
    body = json.dumps(next(b for label, b in sent if label == "Organization.Query")).encode()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=_load_client, args=(running.url, body, token, 5.0, out))
        for out in latencies
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    running.stop()
    every = sorted(x for out in latencies for x in out)
    return {
        "clients": clients,
        "requests_per_s": round(len(every) / wall),
        "p50_ms": round(every[len(every) // 2] * 1000, 1),
        "p99_ms": round(every[int(len(every) * 0.99)] * 1000, 1),
        "note": "clients run in the same process as the simulator (2 cores shared)",
    }


def xdist_scaling(folder: Path, latency: float = 0.2) -> list[dict[str, Any]]:
    environment = yaml.safe_load((ROOT / "environments/simulator.yaml").read_text())
    environment["simulator"]["latency"] = latency
    config = folder / "latency.yaml"
    config.write_text(yaml.safe_dump(environment))
    rows = []
    for workers in (0, 2, 4, 8):
        extra = ["-n", str(workers), "--dist", "loadgroup"] if workers else []
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "steps"),
                "-q",
                f"--env-file={config}",
                f"--alluredir={folder / f'x{workers}'}",
                "--clean-alluredir",
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        rows.append(
            {
                "workers": workers,
                "wall_s": round(time.perf_counter() - start, 2),
                "exit": done.returncode,
            }
        )
    return rows


def main() -> int:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        results: dict[str, Any] = {"machine": machine()}
        results["fixed_cost"] = fixed_cost(folder)
        results["suite"] = suite_end_to_end(folder)
        results["overhead"], sent = harness_overhead(folder)
        results["validation"] = validation(sent)
        results["simulator_load"] = simulator_load(sent)
        results["xdist_200ms"] = xdist_scaling(folder)
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten: {out}")
    return 0


def table(r: dict[str, Any]) -> str:
    m, s, o, v, load = r["machine"], r["suite"], r["overhead"], r["validation"], r["simulator_load"]
    f = r["fixed_cost"]
    rows = [
        (
            "machine",
            f"{m['cpus']} CPUs, {m['memory_gib']} GiB, {m['cpu']}, Python {m['python']}",
            "",
        ),
        (
            "techval run --tags organization --no-html",
            f"{f['run_organization_no_html_s']} s "
            f"(python -c 'import pytest' {f['import_pytest_s']} s; medians of {f['repeats']})",
            "< 1.5 s",
        ),
        (
            "suite on the simulator, report included",
            f"{s['wall_s']} s ({s['exchanges']} exchanges)",
            "< 4 s",
        ),
        ("suite on the simulator, --no-html", f"{s['no_html_s']} s", ""),
        (
            "harness overhead per exchange",
            f"{o['overhead_per_exchange_ms']} ms "
            f"({o['harness_send_ms']} vs plain httpx {o['plain_httpx_ms']})",
            "< 1 ms",
        ),
        ("validation throughput", f"{v['messages_per_s']} messages/s", ""),
        (
            "40 MB VisitPush validate + attach",
            f"{v['visitpush_validate_and_attach_s']} s, "
            f"peak {v['visitpush_peak_memory_x']}x its size",
            "< 2 s, < 5x",
        ),
        (
            "simulator, 16 clients",
            f"{load['requests_per_s']} req/s, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms",
            ">= 1000 req/s",
        ),
    ]
    rows += [
        (
            f"xdist, 200 ms answers, {x['workers'] or 'no'} workers",
            f"{x['wall_s']} s (exit {x['exit']})",
            "",
        )
        for x in r["xdist_200ms"]
    ]
    width = max(len(a) for a, _, _ in rows)
    value = max(len(b) for _, b, _ in rows)
    return "\n".join(f"{a:<{width}}  {b:<{value}}  {c}".rstrip() for a, b, c in rows)


if __name__ == "__main__":
    sys.exit(main())

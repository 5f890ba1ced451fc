"""`make bench`: what the harness costs beyond the network, and what the simulator can take.

Prints a table and writes reports/bench.json. Not a test: nothing here passes or fails; the
figures are compared with the goals of issues 6 and 11 and reported with the machine they came
from, each beside its baseline from the same run.

0. the fixed cost of a short run (`techval run --tags organization --no-html`) beside
   `python -c "import pytest"`;
1. the whole suite on the simulator, end to end (`techval run`, with and without the HTML
   report), and the harness's own overhead per exchange: the time `RedoxClient.send` takes
   (validation, the bounded read, the answer's checks; the exchange's evidence is built after
   the send, at the step's end) minus a plain httpx POST of the same bodies, three times over
   (a shared machine is noisy): the repeat with the median ratio; then, in a run of its own,
   the sending thread's CPU per exchange split by stage (request checks, the HTTP round trip,
   the answer's checks; and after the send each kind of evidence, and the whole);
2. validation throughput with compiled validators, and a 40 MB VisitPush validated and
   attached: time and peak memory against the message size;
3. the simulator under 16 concurrent keep-alive clients: requests per second, p50/p99;
4. the suite under pytest-xdist with 200 ms added to every answer (a Redox round trip),
   the organization record lifecycle kept on one worker (--dist loadgroup).

`--scale` (`make bench-scale`, about 9 minutes on 2 CPUs; not part of `make bench`) measures
instead the scale section and keeps the figures of the other sections in bench.json:

5. the suite with Redox-like timing (`simulator.answer_delay` 0.2 s on every answer, pushes
   searchable after 5 s, data-on-demand polling from 5 s as against Redox dev), with 2 and with
   20 configured organizations (a temporary environment file from environments/simulator.yaml,
   the added organizations under the same arc), `techval run --no-html --workers N` for
   N = 1, 2, 4, 8 against one shared simulator. Beside each row its critical path, the longest
   chain of dependent exchanges and waits: the most, over the lifecycle groups, of the summed
   durations of a group's scenarios (a scenario without a group is its own chain), from the
   verdict.json of the 1-worker run; the goal is 8 workers within 1.5x of it. Then 4 shards
   (`--shard K/4`, the 4 started at once as CI's matrix does, each with its own simulator)
   and `techval merge` of their 4 folders (`--no-html`): the wall time of both, and of the
   merge alone (goal: under 2 s).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.client
import importlib
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from techval.cli.invocation import Handoff as _Handoff
from techval.core.auth import token_provider
from techval.core.config import load_settings
from techval.core.exchange import Exchange
from techval.core.paths import project_root
from techval.core.redaction import Redactor
from techval.core.schemas import SchemaRegistry
from techval.harness.run import start_run
from techval.simulator import RunningSimulator, provision
from techval.validation.rules import OutgoingRules

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


def harness_overhead(
    folder: Path, repeats: int = 3
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The suite in-process, every send paired with a plain httpx POST of the same body.
    First a warm-up run, not counted: the one-off costs of a process (compiling each schema,
    the first connection, lazy imports) are a run's fixed cost, not an exchange's; its ratio is
    shown beside. Then `repeats` runs (a shared machine is noisy): the figures are those of the
    repeat with the median ratio, each a mean over every exchange of that repeat."""
    cold, _ = _overhead_once(folder / "inprocess-warmup")
    rows: list[dict[str, Any]] = []
    sent: list[tuple[str, dict[str, Any]]] = []
    for repeat in range(repeats):
        row, sent = _overhead_once(folder / f"inprocess-{repeat}")
        rows.append(row)
    ratios = sorted(row["ratio"] for row in rows)
    median = next(row for row in rows if row["ratio"] == ratios[len(ratios) // 2])
    stages = _stages(folder / "stages")
    return {
        **median,
        "ratios": [row["ratio"] for row in rows],
        "repeats": repeats,
        "warmup_ratio": cold["ratio"],
        "stages_cpu_ms": stages,
    }, sent


# Where the sending thread's CPU goes, by stage: (label, module, owner, attribute, in the send).
# The evidence is built after the send (at the step's end: EventStream.defer), so its stages
# are not in the send's time: they are shown apart, and with the send's as the whole cost of an
# exchange. Each is wrapped for one extra in-process run (the timed repeats run unwrapped).
STAGES = [
    (
        "request checks (schema, outgoing rules)",
        "techval.core.client",
        "RedoxClient",
        "check_request",
        True,
    ),
    ("HTTP round trip (httpx, bounded read)", "techval.core.client", None, "timed_request", True),
    ("answer parsed and checked", "techval.core.client", "RedoxClient", "_read_response", True),
    ("evidence: HAR entry (redaction)", "techval.harness.evidence.har", None, "entry", False),
    ("evidence: drift shape", "techval.harness.evidence.drift", None, "shape_of", False),
    ("evidence: Allure attachment", "techval.core.reporting", "Reporter", "exchange", False),
    ("evidence: event line", "techval.harness.events", "EventFile", "__call__", False),
]
DEFERRED = "after the send"  # how the stages outside the send are labelled


def _stages(reports: Path) -> dict[str, float]:
    """CPU ms per exchange of each stage: those of the send, the rest of the send as "other"
    (the wrappers' own cost included); those after it (the evidence), labelled so, and their
    sum with the send's CPU: what an exchange costs the harness in all. A run of its own, so
    the timed repeats are not slowed by the wrappers."""
    spent = dict.fromkeys([label for label, *_ in STAGES], 0.0)
    originals = []
    for label, module_name, owner_name, attribute, _ in STAGES:
        module = importlib.import_module(module_name)
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, attribute)
        originals.append((owner, attribute, original))

        def timed(*args: Any, _label: str = label, _original: Any = original, **kwargs: Any) -> Any:
            began = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += time.thread_time() - began

        setattr(owner, attribute, timed)
    try:
        row, _ = _overhead_once(reports)
    finally:
        for owner, attribute, original in originals:
            setattr(owner, attribute, original)
    per = {label: seconds * 1000 / row["exchanges"] for label, seconds in spent.items()}
    in_send = {label: per[label] for label, *_, sent in STAGES if sent}
    after = {label: per[label] for label, *_, sent in STAGES if not sent}
    figures = {label: round(ms, 3) for label, ms in in_send.items()}
    figures["other"] = round(row["harness_send_cpu_ms"] - sum(in_send.values()), 3)
    figures |= {
        f"{DEFERRED}: {label.removeprefix('evidence: ')}": round(ms, 3)
        for label, ms in after.items()
    }
    figures["the send and its evidence, in all"] = round(
        row["harness_send_cpu_ms"] + sum(after.values()), 3
    )
    return figures


def _overhead_once(reports: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """One in-process run of the suite. Each send is paired with a plain httpx POST of the
    same body to a second simulator, provisioned the same way (so it answers alike): measured
    side by side, between the same steps, the one before the other in turn, so that neither
    finds the CPU's caches warmed by the other more often. Then, for comparison, the same
    bodies again through plain httpx, back to back (its caches always warm)."""
    settings = load_settings("simulator")
    run = start_run(settings)
    plain_server = RunningSimulator(provision(settings)).start()
    plain_url = f"{plain_server.url}/endpoint"
    plain_headers = {
        "Authorization": f"Bearer {_token(settings, plain_server.url)}",
        "Content-Type": "application/json",
    }
    plain_http = httpx.Client(timeout=30)
    client = run.client
    sends: list[float] = []
    cpu: list[float] = []
    plain: list[float] = []
    plain_cpu: list[float] = []
    recorded: list[Exchange] = []
    client.hooks.append(recorded.append)  # every exchange, as the reports get them
    original = client.send

    def harness(message: dict[str, Any]) -> Any:
        start, began = time.perf_counter(), time.thread_time()
        try:
            return original(message)
        finally:
            sends.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - began)

    def alone(message: dict[str, Any]) -> None:
        start, began = time.perf_counter(), time.thread_time()
        plain_http.post(plain_url, content=json.dumps(message).encode(), headers=plain_headers)
        plain.append(time.perf_counter() - start)
        plain_cpu.append(time.thread_time() - began)

    def paired(message: dict[str, Any]) -> Any:
        if len(sends) % 2:
            answer = harness(message)
            alone(message)
            return answer
        alone(message)
        return harness(message)

    client.send = paired  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            _run_pytest(reports, run)
    finally:
        plain_http.close()
        plain_server.stop()
    sent = [(e.label, e.request_body) for e in recorded if e.label != "token" and e.attempt == 1]
    back_to_back = _back_to_back(settings, [body for _, body in sent])
    harness_ms, plain_ms = statistics.mean(sends) * 1000, statistics.mean(plain) * 1000
    return {
        "exchanges": len(sends),
        "harness_send_ms": round(harness_ms, 3),
        "plain_httpx_ms": round(plain_ms, 3),
        "overhead_per_exchange_ms": round(harness_ms - plain_ms, 3),
        "ratio": round(harness_ms / plain_ms, 2),
        # CPU time of the sending thread alone (the simulator answers in another thread):
        # steadier than wall time on a shared machine, though not the goal's measure
        "harness_send_cpu_ms": round(statistics.mean(cpu) * 1000, 3),
        "plain_httpx_cpu_ms": round(statistics.mean(plain_cpu) * 1000, 3),
        "plain_back_to_back_ms": back_to_back,
        "ratio_to_back_to_back": round(harness_ms / back_to_back, 2),
    }, sent


def _back_to_back(settings: Any, bodies: list[dict[str, Any]]) -> float:
    """Mean ms of a plain httpx POST of each body in turn, nothing in between, to a fresh
    simulator provisioned the same way."""
    running = RunningSimulator(provision(settings)).start()
    headers = {
        "Authorization": f"Bearer {_token(settings, running.url)}",
        "Content-Type": "application/json",
    }
    times = []
    with httpx.Client(timeout=30) as http:
        for body in bodies:
            data = json.dumps(body).encode()
            start = time.perf_counter()
            http.post(f"{running.url}/endpoint", content=data, headers=headers)
            times.append(time.perf_counter() - start)
    running.stop()
    return round(statistics.mean(times) * 1000, 3)


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
    return {"messages_per_s": round(rate), **big_visit_push(push)}


def big_visit_push(push: dict[str, Any], title_bytes: int = 39_000_000) -> dict[str, Any]:
    """`push` grown to just under Redox's 40 MB, validated and attached: time, then (again)
    peak memory. Each check with fresh outgoing rules, as in a run of its own: one run's rules
    refuse a document ID pushed before."""
    big = copy.deepcopy(push)
    big["Header"]["Document"]["Title"] = "x" * title_bytes
    size = len(json.dumps(big).encode())
    settings = load_settings("simulator")
    run = start_run(settings)

    def validate_and_attach() -> None:
        run.client.outgoing = OutgoingRules(settings)
        run.client.check_request(big)
        exchange = Exchange("ClinicalSummary.VisitPush", "POST", "x", {}, big, "now")
        json.dumps(run.reporter.redactor.data(exchange.as_document()), ensure_ascii=False)

    try:
        start = time.perf_counter()
        validate_and_attach()
        seconds = time.perf_counter() - start
        tracemalloc.start()
        validate_and_attach()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        run.close()
    return {
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
    environment["simulator"]["answer_delay"] = latency
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


SCALE_WORKERS = (1, 2, 4, 8)
SCALE_ORGANIZATIONS = (2, 20)
SCALE_SHARDS = 4
ANSWER_DELAY = 0.2  # s, a round trip to Redox
PUSH_DELAY = 5.0  # s before a push is searchable
# Polled as against Redox dev (environments/dev.yaml): the first retry after the push delay.
PUSH_POLLING = {"attempts": 12, "deadline": 180, "interval": 5}


def scale_environment(folder: Path, organizations: int) -> Path:
    """environments/simulator.yaml with Redox-like timing and `organizations` organizations:
    its own, then "Techval Bench Clinic N" (OIDs numbered on under the first one's arc)."""
    environment = yaml.safe_load((ROOT / "environments/simulator.yaml").read_text())
    environment["simulator"].update(answer_delay=ANSWER_DELAY, repository_delay=PUSH_DELAY)
    environment["data_on_demand"] = dict(PUSH_POLLING)
    listed = environment["organization"]
    listed = listed if isinstance(listed, list) else [listed]
    first = listed[0]
    stem = first["oid"].rsplit(".", 1)[0]  # ....1.1.1 (organization OIDs end .1.<n>)
    taken = {org["oid"] for org in listed}
    added: list[dict[str, Any]] = []
    number = 1
    while len(listed) + len(added) < organizations:
        number += 1
        oid = f"{stem}.{number}"
        if oid in taken:
            continue
        added.append(
            {
                "name": f"Techval Bench Clinic {number}",
                "oid": oid,
                "type": "Connection",
                "part_of": first["oid"],
                "address": {
                    "street": f"{number} Bench St",
                    "city": "Madison",
                    "state": "WI",
                    "zip": "53703",
                    "country": "US",
                },
                "contacts": [
                    {"purpose": "Technical", "name": "Jane Admin", "emails": ["it@clinic.example"]}
                ],
            }
        )
    environment["organization"] = [*listed, *added][:organizations]
    path = folder / f"scale-{organizations}-organizations.yaml"
    path.write_text(yaml.safe_dump(environment, sort_keys=False))
    load_settings(config_path=path, root=ROOT)  # a mistake here, not in every run
    return path


def critical_path(verdict: dict[str, Any]) -> dict[str, Any]:
    """The longest chain of dependent exchanges and waits in a run: the most, over lifecycle
    groups, of the summed durations of a group's scenarios; a scenario with group null is a
    chain of its own. `work_s` is the sum of all durations (what one worker does)."""
    scenarios = [s for step in verdict["steps"] for s in step["scenarios"]]
    chains: dict[str, float] = {}
    for index, scenario in enumerate(scenarios):
        group = scenario.get("group")
        key = str(group) if group is not None else f"scenario {index}: {scenario['name']}"
        chains[key] = chains.get(key, 0.0) + float(scenario.get("duration_s") or 0.0)
    longest = max(chains, key=lambda key: chains[key], default="")
    return {
        "critical_path_s": round(chains.get(longest, 0.0), 2),
        "longest": longest,
        "chains": len(chains),
        "scenarios": len(scenarios),
        "work_s": round(sum(chains.values()), 2),
        "grouped": any("group" in s for s in scenarios),
    }


class MissingCommand(Exception):
    """The techval of this checkout cannot run the scale section."""


def _check_scale_commands() -> None:
    def usage(*command: str) -> str:
        done = subprocess.run(
            [*TECHVAL, *command, "--help"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout if done.returncode == 0 else ""

    run_usage = usage("run")
    missing = [f"run {option}" for option in ("--workers", "--shard") if option not in run_usage]
    missing += [] if "--reports" in usage("merge") else ["merge"]
    if missing:
        raise MissingCommand(
            "the scale section needs `techval run --workers N`, `techval run --shard K/N` and "
            f"`techval merge DIR... --reports OUT`; this techval lacks: {', '.join(missing)}"
        )


def _scale_run(config: Path, reports: Path, *args: str) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(
        [*TECHVAL, "run", "--no-html", "--config", str(config), "--reports", str(reports), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return _outcome(time.perf_counter() - start, done, reports)


def _outcome(
    seconds: float, done: subprocess.CompletedProcess[str], reports: Path
) -> dict[str, Any]:
    result = json.loads(path.read_text()) if (path := reports / "verdict.json").is_file() else {}
    row = {
        "wall_s": round(seconds, 2),
        "exit": done.returncode,
        "verdict": result.get("verdict"),
        "scenarios": result.get("counts", {}).get("total"),
    }
    if done.returncode not in (0, 1):  # could not run: say why
        row["error"] = (done.stderr or done.stdout).strip().splitlines()[-1:]
    return row


def _shards_and_merge(config: Path, folder: Path) -> dict[str, Any]:
    """The 4 shards started at once (as CI's matrix runs them, each with its own simulator),
    then `techval merge` of their folders: the wall time of both, and of the merge alone."""
    folders = [folder / f"shard-{k}" for k in range(1, SCALE_SHARDS + 1)]
    start = time.perf_counter()
    with ThreadPoolExecutor(SCALE_SHARDS) as pool:  # each thread times its own shard
        shards = list(
            pool.map(
                lambda k: _scale_run(config, folders[k - 1], "--shard", f"{k}/{SCALE_SHARDS}"),
                range(1, SCALE_SHARDS + 1),
            )
        )
    shards_s = time.perf_counter() - start
    merged = folder / "merged"
    began = time.perf_counter()
    done = subprocess.run(
        [*TECHVAL, "merge", *map(str, folders), "--reports", str(merged), "--no-html"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    merge = _outcome(time.perf_counter() - began, done, merged)
    return {
        "shards": SCALE_SHARDS,
        "concurrent": True,
        "shards_s": round(shards_s, 2),
        "merge_s": merge["wall_s"],
        "wall_s": round(shards_s + merge["wall_s"], 2),
        "merge_exit": merge["exit"],
        "verdict": merge["verdict"],
        "scenarios": merge["scenarios"],
        "each_shard": shards,
    }


def scale(folder: Path) -> dict[str, Any]:
    _check_scale_commands()
    section: dict[str, Any] = {
        "machine": machine(),
        "answer_delay_s": ANSWER_DELAY,
        "repository_delay_s": PUSH_DELAY,
        "data_on_demand": PUSH_POLLING,
        "organizations": {},
    }
    for count in SCALE_ORGANIZATIONS:
        config = scale_environment(folder, count)
        runs, chain = [], None
        for workers in SCALE_WORKERS:
            reports = folder / f"scale-{count}-w{workers}"
            row = _scale_run(config, reports, "--workers", str(workers))
            if workers == 1:
                path = reports / "verdict.json"
                chain = critical_path(json.loads(path.read_text())) if path.is_file() else None
            runs.append({"workers": workers, **row})
        section["organizations"][str(count)] = {
            "critical_path": chain,
            "runs": runs,
            "sharded": _shards_and_merge(config, folder / f"scale-{count}-sharded"),
        }
    return section


def scale_table(section: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for count, figures in section["organizations"].items():
        chain = figures["critical_path"]
        path = chain["critical_path_s"] if chain else None
        for run in figures["runs"]:
            ratio = f", {run['wall_s'] / path:.2f}x" if path else ""
            rows.append(
                (
                    f"--workers {run['workers']}, {count} organizations",
                    f"{run['wall_s']} s (exit {run['exit']}, {run['verdict']}), "
                    f"critical path {path if path is not None else '?'} s{ratio}",
                    "<= 1.5x critical path" if run["workers"] == max(SCALE_WORKERS) else "",
                )
            )
        if chain:
            rows.append(
                (
                    f"  critical path, {count} organizations",
                    f"{chain['longest']} of {chain['chains']} chains "
                    f"({chain['scenarios']} scenarios, {chain['work_s']} s of work)"
                    + ("" if chain["grouped"] else "; verdict.json has no groups"),
                    "",
                )
            )
        sharded = figures["sharded"]
        rows += [
            (
                f"{sharded['shards']} shards at once + merge, {count} organizations",
                f"{sharded['wall_s']} s (shards {sharded['shards_s']} s: "
                + ", ".join(str(shard["wall_s"]) for shard in sharded["each_shard"])
                + f"; {sharded['scenarios']} scenarios merged, {sharded['verdict']})",
                "",
            ),
            (
                f"  techval merge of {sharded['shards']} shards, {count} organizations",
                f"{sharded['merge_s']} s (exit {sharded['merge_exit']})",
                "< 2 s",
            ),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    options = _arguments().parse_args(argv)
    out = ROOT / "reports" / "bench.json"
    previous = _read_json(out)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        if options.scale:  # the other sections' figures stay as the last `make bench` left them
            try:
                results = {**previous, "scale": scale(folder)}
            except MissingCommand as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 2
        else:
            results = {"machine": machine()}
            results["fixed_cost"] = fixed_cost(folder)
            results["suite"] = suite_end_to_end(folder)
            results["overhead"], sent = harness_overhead(folder)
            results["validation"] = validation(sent)
            results["simulator_load"] = simulator_load(sent)
            results["xdist_200ms"] = xdist_scaling(folder)
            if "scale" in previous:  # kept from the last `make bench-scale`
                results["scale"] = previous["scale"]
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        _rows_table(_machine_row(results["scale"]["machine"]), *scale_table(results["scale"]))
        if options.scale
        else table(results)
    )
    print(f"\nwritten: {out}")
    return 0


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        action="store_true",
        help="measure only the scale section (workers, shards, merge; about 9 minutes)",
    )
    return parser


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _machine_row(m: dict[str, Any]) -> tuple[str, str, str]:
    return (
        "machine",
        f"{m['cpus']} CPUs, {m['memory_gib']} GiB, {m['cpu']}, Python {m['python']}",
        "",
    )


def _rows_table(*rows: tuple[str, str, str]) -> str:
    width = max(len(a) for a, _, _ in rows)
    value = max(len(b) for _, b, _ in rows)
    return "\n".join(f"{a:<{width}}  {b:<{value}}  {c}".rstrip() for a, b, c in rows)


def table(r: dict[str, Any]) -> str:
    m, s, o, v, load = r["machine"], r["suite"], r["overhead"], r["validation"], r["simulator_load"]
    f = r["fixed_cost"]
    rows = [
        _machine_row(m),
        (
            "techval run --tags organization --no-html",
            f"{f['run_organization_no_html_s']} s "
            f"(python -c 'import pytest' {f['import_pytest_s']} s: "
            f"{f['run_organization_no_html_s'] / f['import_pytest_s']:.1f}x; "
            f"medians of {f['repeats']})",
            "< 1.5 s, <= 5x import pytest",
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
            f"({o['harness_send_ms']} vs plain httpx {o['plain_httpx_ms']}, side by side: "
            f"{o['ratio']}x; median of {o['repeats']}: "
            f"{', '.join(f'{x}x' for x in o['ratios'])}; warm-up run {o['warmup_ratio']}x)",
            "<= 1.7x plain httpx",
        ),
        (
            "  against plain httpx back to back",
            f"{o['plain_back_to_back_ms']} ms: {o['ratio_to_back_to_back']}x",
            "",
        ),
        (
            "  CPU of the sending thread per exchange",
            f"{o['harness_send_cpu_ms']} ms (plain httpx {o['plain_httpx_cpu_ms']} ms)",
            "",
        ),
        *((f"    {label}", f"{ms} ms", "") for label, ms in o.get("stages_cpu_ms", {}).items()),
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
    return _rows_table(*rows)


if __name__ == "__main__":
    sys.exit(main())

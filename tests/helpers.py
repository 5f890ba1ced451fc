"""Shared builders for the harness's own tests."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import resource
import subprocess
import sys
import time
import types
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import pytest
import yaml

from techval.core.client import RedoxClient
from techval.core.config import Settings, load_settings
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.core.schemas import SchemaRegistry
from techval.harness.evidence import leaks, verdict
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.section import Section
from techval.simulator import Simulator, provision
from techval.simulator.transport import simulator_transport
from techval.validation.fhir.headers import HeaderRules
from techval.validation.rules import OutgoingRules

ROOT = Path(__file__).resolve().parents[1]
REDOX_GATEWAY = "2.16.840.1.113883.3.6147.458.2"  # a directory record the simulator seeds
CLIENT_SECRET = "test-client-secret-5f1d2a9c8e7b-0123456789abcdef0123456789"  # a test value

ORGANIZATION = {
    "name": "Harness Test Clinic",
    "oid": "2.16.840.1.113883.3.6147.458.99999.1.1.1.1",
    "type": "Connection",
    "part_of": "2.16.840.1.113883.3.6147.458.2",
    "address": {"street": "1 Test Way", "city": "Madison", "state": "WI", "zip": "53703"},
    "contacts": [{"purpose": "Technical", "name": "Pat Tester", "emails": ["pat@test.example"]}],
}


def environment(**changes: Any) -> dict[str, Any]:
    """An environment document for the simulator, with HS384 so no key file is needed."""
    document: dict[str, Any] = {
        "name": "harness-test",
        "production": False,
        "simulator": {"start": True, "port": 0, "repository_delay": 0.01},
        "auth": {
            "method": "jwt",
            "token_url": "/v2/auth/token",
            "client_id": "harness-test-client",
            "algorithm": "HS384",
            "client_secret": CLIENT_SECRET,
        },
        "destinations": {"data_on_demand": "0b8a4a55-3c3e-4f3a-9d55-1c2b3d4e5f60"},
        "carequality": {"user_id": "Tester, Pat"},
        "oids": {
            "patient": "2.16.840.1.113883.3.6147.458.99999.1.1.2.1",
            "document": "2.16.840.1.113883.3.6147.458.99999.1.1.3.1",
        },
        "data_on_demand": {"attempts": 4, "deadline": 5, "interval": 0.01},
        "location_query": {"attempts": 6, "deadline": 5, "interval": 0.01},
        "retries": {"attempts": 4, "backoff": 0.05, "backoff_max": 0.2},
        "organization": [dict(ORGANIZATION)],
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def write_environment(folder: Path, **changes: Any) -> Path:
    path = folder / "environment.yaml"
    path.write_text(yaml.safe_dump(environment(**changes), sort_keys=False), encoding="utf-8")
    return path


def settings_for(folder: Path, **changes: Any) -> Settings:
    return load_settings(config_path=write_environment(folder, **changes), root=ROOT)


class RecordingClient(RedoxClient):
    """A client that also keeps every exchange it made (the harness's client keeps none: its
    exchanges go into the run's event stream)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exchanges: list[Exchange] = []
        self.hooks.append(self.exchanges.append)


def in_process_client(settings: Settings, simulator: Simulator | None = None) -> RecordingClient:
    """A client talking to a provisioned simulator through httpx, without a socket."""
    simulator = simulator or provision(settings)
    settings = settings.with_base_url("http://simulator.test")
    return RecordingClient(
        settings,
        SchemaRegistry(),
        Redactor(settings.auth.secret_values()),
        transport=simulator_transport(simulator),
        outgoing=OutgoingRules(settings),
        outgoing_headers=HeaderRules(settings),
    )


@dataclass
class RunResult:
    code: int
    stdout: str
    stderr: str
    reports: Path

    def cases(self) -> dict[str, str]:
        """JUnit test case name -> '' when it passed, else its failure or error message."""
        tree = ET.parse(self.reports / "junit.xml")
        outcome = {}
        for case in tree.iter("testcase"):
            problem = case.find("failure")
            problem = problem if problem is not None else case.find("error")
            outcome[case.get("name", "")] = "" if problem is None else problem.get("message", "")
        return outcome

    def allure_results(self) -> list[dict[str, Any]]:
        folder = self.reports / "allure-results"
        return [json.loads(p.read_text()) for p in folder.glob("*-result.json")]


def shared_run(
    factory: pytest.TempPathFactory, name: str, make: Callable[[Path], RunResult]
) -> RunResult:
    """A run made once for the whole test session, `make(folder)`, by whichever test worker
    asks first; the others wait for it and read it (pytest-xdist's recipe for a session
    fixture made once). Tests only read a shared run's reports."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = factory.getbasetemp().parent if worker else factory.getbasetemp()
    folder, made = root / f"shared-{name}", root / f"shared-{name}.json"
    failed = root / f"shared-{name}.failed"
    with (root / f"shared-{name}.lock").open("a") as lock:
        _lock(lock, f"the shared run {name!r}")  # released when the file closes
        if failed.exists():  # the worker that made it says why, once; the others name it
            raise AssertionError(f"the shared run {name!r} failed: {failed.read_text()}")
        if made.exists():
            found = json.loads(made.read_text())
            return RunResult(**{**found, "reports": Path(found["reports"])})
        folder.mkdir()
        try:
            result = make(folder)
        except Exception as exc:  # a skip, or Ctrl-C, is no failure to tell the others
            failed.write_text(f"{type(exc).__name__}: {exc}"[:2000])
            raise
        made.write_text(json.dumps({**asdict(result), "reports": str(result.reports)}))
        return result


def _lock(file: IO[str], what: str, within: float = 600) -> None:
    """An exclusive lock on `file`, waited for at most `within` seconds (a run that never
    ends in another worker fails this test instead of hanging the suite)."""
    deadline = time.monotonic() + within
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: still being made after {within:g} s") from None
            time.sleep(0.05)  # a poll of the lock, bounded by the deadline


def run_techval(
    args: list[str],
    reports: Path,
    timeout: float = 120,
    command: str = "run",
    *,
    html: bool = False,
    cwd: Path = ROOT,
    process: bool = False,
    **env: str,
) -> RunResult:
    """A `techval` command (`run` by default) as a user would start it (from `cwd`, the project
    root unless given); a run writes no HTML report unless the test reads it (`html=True`).

    It runs in this process (`cli.main`, as pytester runs pytest in-process): the interpreter
    start and the imports, most of a short run's cost, are paid once per test worker. A run on
    several workers, or a test of what only a fresh interpreter shows, asks for a `process`
    (then `timeout` bounds it)."""
    extra = ["--no-html"] if command == "run" and not html else []
    argv = [command, "--reports", str(reports), *extra, *args]
    code, out, err = techval_main(
        argv, cwd=cwd, process=process or _workers(args) > 1, timeout=timeout, **env
    )
    return RunResult(code, out, err, reports)


def techval_main(
    argv: list[str], *, cwd: Path = ROOT, process: bool = False, timeout: float = 120, **env: str
) -> tuple[int, str, str]:
    """`techval ARGV` from `cwd` with `env` added: its exit code, stdout and stderr. In this
    process unless a `process` is asked for (then `timeout` bounds it)."""
    if not process:
        return _in_this_process(argv, cwd, env)
    completed = subprocess.run(
        [sys.executable, "-m", "techval.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env},
    )
    return completed.returncode, completed.stdout, completed.stderr


def _workers(args: list[str]) -> int:
    """The --workers of a command line (1 when not given)."""
    for index, arg in enumerate(args):
        if arg.startswith("--workers="):
            return int(arg.partition("=")[2])
        if arg == "--workers" and index + 1 < len(args):
            return int(args[index + 1])
    return 1


def _in_this_process(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`techval ARGV` through `cli.main` in this process, from `cwd`, with `env` added to the
    environment; what it printed, and the modules it imported (the suite's step modules, which
    pytest-bdd binds to a run's options) forgotten again, as pytester does."""
    from techval import cli  # the CLI's imports are paid once per test worker

    out, err = io.StringIO(), io.StringIO()
    modules = dict(sys.modules)
    with contextlib.ExitStack() as stack:
        saved = {key: os.environ.get(key) for key in env}
        stack.callback(_restore_environment, saved)
        os.environ.update(env)
        stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's exit on a bad command line
            code = exc.code if isinstance(exc.code, int) else 2
        finally:
            for name in set(sys.modules) - set(modules):
                if _bound_to_a_run(sys.modules[name]):
                    del sys.modules[name]
    return code, out.getvalue(), err.getvalue()


def _bound_to_a_run(module: types.ModuleType | None) -> bool:
    """A module a run imported that the next run must import again: a suite's test module
    binds its scenarios to the run's features folder at import. The harness's own modules and
    the libraries stay (imported again, their classes would no longer be the same classes)."""
    file = getattr(module, "__file__", None)
    if file is None:
        return False
    path = Path(file).resolve()
    kept = [ROOT / "src", Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    return not any(path.is_relative_to(folder) for folder in kept)


def _restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def assert_evidence_agrees(reports: Path) -> dict[str, Any]:
    """verdict.json, junit.xml and the Allure results tell the same story; the verdict."""
    verdict = json.loads((reports / "verdict.json").read_text())
    scenarios = [s for step in verdict["steps"] for s in step["scenarios"]]
    allure = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    assert sorted((s["name"], s["status"]) for s in scenarios) == sorted(
        (r["name"], r["status"]) for r in allure
    )
    counts = verdict["counts"]
    cases = list(ET.parse(reports / "junit.xml").iter("testcase"))
    problems = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(cases) == counts["total"] == len(allure)
    assert len(problems) == counts["failed"] + counts["broken"]
    assert len(skipped) == counts["skipped"]
    for step in verdict["steps"]:
        statuses = {s["status"] for s in step["scenarios"]}
        failed = any(  # an outage (could not run) is not a failed step
            s["status"] in ("failed", "broken") and s["kind"] != "could_not_run"
            for s in step["scenarios"]
        )
        offered = [s for s in step["scenarios"] if s["kind"] != "not_offered"]
        statuses = {s["status"] for s in offered}
        none_ran = not statuses or (
            statuses == {"skipped"} and not step["counts"]["not_applicable"]
        )
        left_out = step["counts"]["not_selected"]
        assert left_out == len(step["not_selected"])
        assert step["verdict"] == (
            "failed"
            if failed
            else "not_selected"
            if not step["scenarios"] and left_out
            else "not_offered"
            if step["scenarios"] and not offered
            else "skipped"
            if none_ran
            else "passed"
            if statuses == {"passed"} and not left_out
            else "incomplete"
        )
    return verdict


def applied(
    section: Section, result: dict[str, Any], found: Assembled, reports: Path
) -> dict[str, Any]:
    """`section`'s part of verdict.json put into `result` (the earlier sections' parts), as
    sections.apply_all puts it: the verdict of `found`, a run without a known-failures file
    (its outcomes are its decided ones)."""
    decided = Decided(found)
    earlier = MappingProxyType(dict(result))
    result.update(section.apply(verdict.from_decided(decided), earlier, decided, reports))
    return result


def techval_process(
    *args: str, cwd: Path = ROOT, timeout: float = 120, memory: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`techval ARGS` in a fresh interpreter, as a user starts it (`memory`: the address space
    it may use, set between fork and exec)."""

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "techval.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=limit,  # only setrlimit, between fork and exec
    )


def every_text(folder: Path) -> dict[str, str]:
    """Every file under `folder`, zip members and the HTML report's embedded data included."""
    texts = {}
    for path in (p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    texts[f"{path.name}!{name}"] = archive.read(name).decode("utf-8", "replace")
            continue
        texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
        for name, data in leaks.embedded(texts[str(path)]).items():
            texts[f"{path}#{name}"] = data
    return texts

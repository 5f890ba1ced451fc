"""One validation run: its settings, the simulator when it has one, the client, and the
event stream every exchange goes into.

Starting a run is where "could not run" is decided: production guard, simulator start-up,
and a first token request that proves the credentials and the server before any scenario.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import AuthError, ConfigError, CouldNotRun, TransportError
from techval.core.exchange import Exchange
from techval.core.paths import project_root
from techval.core.redaction import Redactor, patient_values
from techval.core.reporting import Reporter
from techval.core.schemas import SchemaRegistry
from techval.harness import events
from techval.harness.evidence import drift, har
from techval.simulator import RunningSimulator, provision
from techval.validation.fhir.headers import HeaderRules
from techval.validation.patients import load_patients
from techval.validation.rules import OutgoingRules


@dataclass
class Run:
    settings: Settings
    client: RedoxClient
    reporter: Reporter
    stream: events.EventStream
    simulator: RunningSimulator | None = None
    current: events.ScenarioExchanges = field(default_factory=events.ScenarioExchanges)
    stop_told: bool = False  # the run_stopped event was emitted
    write_error: OSError | None = None  # the file system refused a write under the reports
    first_token: CouldNotRun | None = None  # why the first token was not granted

    def __post_init__(self) -> None:
        self.stream.subscribe(self.current)
        self.stream.subscribe(self._attach)

    def _attach(self, event: events.Record) -> None:
        if isinstance(event, events.ExchangeRecorded) and event.exchange is not None:
            self.reporter.exchange(event.exchange)

    def close(self) -> None:
        try:
            self.stream.settle()
        finally:
            self.client.close()
            if self.simulator:
                self.simulator.stop()
                self.simulator = None


def redactor_for(settings: Settings) -> Redactor:
    """The run's redactor: its secrets, and the test patients' values as patient data."""
    patients = load_patients(settings.test_patients).values()
    return Redactor(
        settings.auth.secret_values(),
        patient_values({"d": p.demographics, "i": p.identifiers} for p in patients),
        mask_patient_data=settings.reports.mask_patient_data,
        machine_paths=machine_paths(),
    )


def machine_paths() -> list[tuple[str, str]]:
    """The folders of this machine a traceback may name, longest first, and how to show them."""
    folders = {str(project_root()) + os.sep: ""}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        folders.setdefault(prefix.rstrip(os.sep) + os.sep, "<python>/")
    folders.setdefault(str(Path.home()) + os.sep, "~/")
    return sorted(folders.items(), key=lambda item: -len(item[0]))


def start_run(
    settings: Settings,
    *,
    allow_production: bool = False,
    simulator_url: str | None = None,
    stream: events.EventStream | None = None,
) -> Run:
    """`simulator_url`: a simulator already running for this run (the workers of
    `techval run --workers N` share the one their controller started); `stream`: the
    process's event stream, when its subscribers are already listening."""
    if settings.production and not allow_production:
        raise ConfigError(
            f"{settings.name} is a production environment: refusing to send test data "
            "without --allow-production"
        )
    redactor_for(settings)  # reads the test patients first: a bad file is one line, not a trace
    running = None
    if simulator_url:
        settings = settings.with_base_url(simulator_url)
    elif settings.simulator and settings.simulator.start:
        port = settings.simulator.port
        try:
            running = RunningSimulator(provision(settings), port=port).start()
        except OSError as exc:  # the port is taken, or not this user's to open
            raise ConfigError(
                f"simulator.port {port}: the simulator cannot listen there ({exc.strerror})"
            ) from None
        settings = settings.with_base_url(running.url)
    redactor = redactor_for(settings)
    stream = stream or events.EventStream()

    current = events.ScenarioExchanges()

    def record(exchange: Exchange) -> None:
        current.add(exchange)  # the steps read it now; its evidence is built later
        scenario = stream.scenario

        written = False

        def evidence() -> None:
            nonlocal written
            if written:  # run again after a signal stopped it once it was being written
                return
            with redactor.reusing():  # its bodies masked once, for the HAR and the attachment
                recorded = events.ExchangeRecorded(
                    exchange=exchange,
                    scenario=scenario,
                    entry=har.entry(exchange, redactor),
                    log_ids=list(exchange.log_ids),
                    shape=drift.shape_of(exchange, mask=redactor.text),
                )
                written = True  # never twice in the file: an interrupted write is not redone
                stream.emit(recorded)

        stream.defer(evidence)

    client = RedoxClient(
        settings,
        SchemaRegistry(),
        redactor,
        on_exchange=[record],
        outgoing=OutgoingRules(settings),
        outgoing_headers=HeaderRules(settings),
        settle=stream.settle,
    )
    reporter = Reporter(  # its findings (redacted by the reporter) go into the event stream
        redactor,
        on_finding=lambda requirement, message: stream.emit(
            events.Finding(scenario=stream.scenario, requirement=requirement, message=message)
        ),
        settle=stream.settle,
    )
    run = Run(settings, client, reporter, stream, running, current)
    try:
        client.auth.token()  # proves the credentials and that the server answers
    except (AuthError, TransportError) as exc:
        # Every scenario is then reported as not run, and the reports are complete.
        client.health.stop(str(exc))
        run.first_token = exc
    except BaseException:
        run.close()
        raise
    return run

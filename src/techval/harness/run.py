"""One validation run: its settings, the simulator when it has one, and the client.

Starting a run is where "could not run" is decided: production guard, simulator start-up,
and a first token request that proves the credentials and the server before any scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import ConfigError
from techval.core.redaction import Redactor, patient_values
from techval.core.reporting import Reporter
from techval.core.schemas import SchemaRegistry
from techval.simulator import RunningSimulator, provision
from techval.validation.patients import load_patients
from techval.validation.rules import OutgoingRules


@dataclass
class Run:
    settings: Settings
    client: RedoxClient
    reporter: Reporter
    simulator: RunningSimulator | None = None

    def close(self) -> None:
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
    )


def start_run(settings: Settings, *, allow_production: bool = False) -> Run:
    if settings.production and not allow_production:
        raise ConfigError(
            f"{settings.name} is a production environment: refusing to send test data "
            "without --allow-production"
        )
    running = None
    if settings.simulator and settings.simulator.start:
        running = RunningSimulator(provision(settings), port=settings.simulator.port).start()
        settings = settings.with_base_url(running.url)
    redactor = redactor_for(settings)
    reporter = Reporter(redactor)
    client = RedoxClient(
        settings,
        SchemaRegistry(),
        redactor,
        on_exchange=[reporter.exchange],
        outgoing=OutgoingRules(settings),
    )
    run = Run(settings, client, reporter, running)
    try:
        client.auth.token()  # proves the credentials and that the server answers
    except BaseException:
        run.close()
        raise
    return run

"""Redox guesses of the FHIR API that are keys of the environment file, not constants: the
Content-Type of a JSON body (`fhir.content_type`), against the simulator's FHIR routes (which
keep their own expectations, FhirOptions)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import ConfigError, RedoxRefused
from techval.simulator import provision
from techval.simulator.app import Simulator
from techval.validation import directory
from techval.validation.fhir.organization import FhirDirectory
from tests.helpers import RecordingClient, in_process_client, settings_for


def fhir_run(
    tmp_path: Path, **fhir: Any
) -> tuple[FhirDirectory, RecordingClient, Settings, Simulator]:
    settings = settings_for(tmp_path, api="fhir", fhir=fhir or None)
    simulator = provision(settings)
    return FhirDirectory(settings), in_process_client(settings, simulator), settings, simulator


def creates(simulator: Simulator) -> list[str]:
    """The Content-Type of each Organization create the simulator received."""
    return [
        request.headers.get("content-type", "")
        for request in simulator.captured
        if request.method == "POST" and request.path.endswith("/Organization")
    ]


# -- fhir.content_type ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("configured", "sent"),
    [
        (None, "application/fhir+json"),  # the default
        ("application/json", "application/json"),  # Redox's create example (1.10)
    ],
)
def test_the_configured_content_type_is_sent_and_the_simulator_takes_both(
    tmp_path: Path, configured: str | None, sent: str
) -> None:
    keys = {"content_type": configured} if configured else {}
    api, client, settings, simulator = fhir_run(tmp_path, **keys)
    assert settings.fhir.content_type == sent
    profile = settings.organizations[0]
    directory.accepted(api, directory.create_or_adopt(api, client, profile))
    assert creates(simulator) == [sent]
    write = next(e for e in client.exchanges if e.label == "Organization create")
    headers = {name.lower(): value for name, value in write.request_headers.items()}
    assert headers["content-type"] == sent  # as the evidence records it


def test_a_content_type_the_server_does_not_take_is_refused_naming_it(tmp_path: Path) -> None:
    api, client, settings, simulator = fhir_run(tmp_path, content_type="application/json")
    only = ("application/fhir+json",)
    simulator.fhir.options = replace(simulator.fhir.options, json_content_types=only)
    write = directory.create_or_adopt(api, client, settings.organizations[0])
    with pytest.raises(RedoxRefused, match=r"HTTP 415.*Content-Type application/json"):
        directory.accepted(api, write)


def test_the_content_type_is_checked_when_the_environment_loads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fhir\.content_type"):
        settings_for(tmp_path, api="fhir", fhir={"content_type": "text/plain"})

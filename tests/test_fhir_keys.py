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


# -- fhir.already_exists ----------------------------------------------------------------------
def rerun(tmp_path: Path, status: int, text: str, **fhir: Any) -> tuple[Any, ...]:
    """A create of an OID the simulator already holds, refused with `status` and `text`."""
    api, client, settings, simulator = fhir_run(tmp_path, **fhir)
    simulator.fhir.options = replace(
        simulator.fhir.options, already_exists_status=status, already_exists_text=text
    )
    profile = settings.organizations[0]
    directory.accepted(api, directory.create_or_adopt(api, client, profile))  # the first run
    return api, client, profile, directory.create_or_adopt(api, client, profile)  # a re-run


def test_a_configured_409_is_adopted_with_an_update(tmp_path: Path) -> None:
    known = {"status": [403, 409], "text": "already exists"}
    api, client, profile, write = rerun(
        tmp_path, 409, "Organization {oid} already exists", already_exists=known
    )
    assert [e.status for e in write.exchanges] == [409, 200]
    assert write.exchanges[1].label == "Organization update"
    directory.accepted(api, write)
    directory.expect_record(api, directory.read_back(api, client, profile), profile, active=True)


def test_the_documented_403_is_adopted_by_default(tmp_path: Path) -> None:
    api, _client, _profile, write = rerun(tmp_path, 403, "{oid} already exists.")
    assert [e.status for e in write.exchanges] == [403, 200]
    directory.accepted(api, write)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (409, "{oid} already exists."),  # the text, another status
        (403, "Organization {oid} is a duplicate"),  # the status, another text
    ],
)
def test_a_refusal_not_configured_fails_naming_its_status_text_and_the_key(
    tmp_path: Path, status: int, text: str
) -> None:
    api, _client, profile, write = rerun(tmp_path, status, text)
    assert len(write.exchanges) == 1  # not adopted
    with pytest.raises(RedoxRefused) as failure:
        directory.accepted(api, write)
    said = text.format(oid=profile.oid)
    assert str(failure.value) == (
        f"Organization create: Redox answered HTTP {status}: {said} (a create of a known OID "
        "is adopted when refused with HTTP 403 with an error text containing 'already "
        "exists.'; if Redox refuses a known OID so, set fhir.already_exists in the "
        "environment file)"
    )
    assert failure.value.status == status


def test_already_exists_is_read_and_checked_when_the_environment_loads(tmp_path: Path) -> None:
    one = settings_for(tmp_path, api="fhir", fhir={"already_exists": {"status": 409}})
    assert (one.fhir.already_exists.statuses, one.fhir.already_exists.text) == (
        (409,),
        "already exists.",
    )
    wrongs: list[dict[str, Any]] = [{"status": 200}, {"status": []}, {"text": " "}, {"x": 1}]
    for wrong in wrongs:
        with pytest.raises(ConfigError, match=r"fhir\.already_exists"):
            settings_for(tmp_path, api="fhir", fhir={"already_exists": wrong})

"""Redox guesses of the FHIR API that are keys of the environment file, not constants: the
Content-Type of a JSON body (`fhir.content_type`), against the simulator's FHIR routes (which
keep their own expectations, FhirOptions)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import BreaksRedoxRule, ConfigError, RedoxRefused
from techval.core.verifies import requirements_of
from techval.simulator import provision
from techval.simulator.app import Simulator
from techval.validation import directory
from techval.validation.checks import succeeded
from techval.validation.fhir.headers import carequality_header_values
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


# -- fhir.header_values -----------------------------------------------------------------------
ROLE, PURPOSE = "x-user-role", "x-purpose-of-use"


@pytest.mark.parametrize(
    ("written", "role", "purpose"),
    [
        ({}, "112247003", "TREATMENT"),  # the default: bare codes
        ({"user_role": "code"}, "112247003", "TREATMENT"),
        (
            {"user_role": "code^display", "purpose_of_use": "code^display"},
            "112247003^Medical Doctor",
            "TREATMENT^Treatment",
        ),
        ({"purpose_of_use": "display"}, "112247003", "Treatment"),
        (
            {"user_role": "{code}^{display}^{system}"},
            "112247003^Medical Doctor^2.16.840.1.113883.6.96",
            "TREATMENT",
        ),
    ],
)
def test_each_header_value_format_writes_the_coded_headers(
    tmp_path: Path, written: dict[str, str], role: str, purpose: str
) -> None:
    settings = settings_for(
        tmp_path, api="fhir", fhir={"header_values": written} if written else None
    )
    headers = settings.carequality_headers()
    assert (headers[ROLE], headers[PURPOSE]) == (role, purpose)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ({"user_role": "{code"}, r"fhir\.header_values\.user_role: '\{code' is neither"),
        ({"user_role": "{oid}"}, r"fhir\.header_values\.user_role: '\{oid\}' is neither"),
        ({"purpose_of_use": "TREATMENT"}, r"fhir\.header_values\.purpose_of_use: 'TREATMENT'"),
        ({"purpose_of_use": "{code!r}"}, r"fhir\.header_values\.purpose_of_use"),
        ({"user_id": "code"}, r"fhir\.header_values"),  # not a coded field
    ],
)
def test_a_header_value_format_is_checked_when_the_environment_loads(
    tmp_path: Path, written: dict[str, str], said: str
) -> None:
    with pytest.raises(ConfigError, match=said):
        settings_for(tmp_path, api="fhir", fhir={"header_values": written})


def patient_search(tmp_path: Path, simulated: dict[str, str] | None, **fhir: Any) -> Any:
    """A Patient search at the sender's organization, the simulator expecting `simulated`."""
    _api, client, settings, simulator = fhir_run(tmp_path, **fhir)
    assert dict(simulator.fhir.options.header_values) == {
        "user_role": "{code}",
        "purpose_of_use": "{code}",
    }  # the simulator's own: never the harness's fhir.header_values
    if simulated is not None:
        expected = {**simulator.fhir.options.header_values, **simulated}
        simulator.fhir.options = replace(simulator.fhir.options, header_values=expected)
    slug = settings.fhir.patients_slug.format(oid=settings.organizations[0].oid)
    return client.request(
        "Patient search",
        "POST",
        settings.fhir.path(slug, "Patient/_search"),
        form={"_id": ["nobody"]},
        headers=settings.carequality_headers(),
        response_schema="fhir/Bundle.searchset",
    )


def test_a_header_value_the_server_does_not_expect_fails_naming_the_header(
    tmp_path: Path,
) -> None:
    search = patient_search(tmp_path, None, header_values={"user_role": "code^display"})
    with pytest.raises(RedoxRefused) as failure:
        succeeded(search)
    assert str(failure.value) == (
        "Patient search: Redox answered HTTP 401: Unauthorized: the x-user-role header is not "
        "{code} with a SNOMED CT code"
    )


def test_a_header_value_written_as_the_server_expects_is_taken(tmp_path: Path) -> None:
    both = {"user_role": "{code}^{display}", "purpose_of_use": "{display}"}
    search = patient_search(
        tmp_path, both, header_values={"user_role": "code^display", "purpose_of_use": "display"}
    )
    succeeded(search)
    (tmp_path / "again").mkdir()
    wrong = patient_search(tmp_path / "again", {"purpose_of_use": "{code}^{display}"})
    with pytest.raises(RedoxRefused, match=r"the x-purpose-of-use header is not \{code\}\^"):
        succeeded(wrong)


# -- CQ-03, CQ-04 through the headers ---------------------------------------------------------
def test_a_purpose_other_than_treatment_is_not_sent_naming_the_header(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        api="fhir",
        carequality={"user_id": "Doolittle, John", "purpose_of_use": {"code": "PAYMENT"}},
    )
    client = in_process_client(settings)
    slug = settings.fhir.patients_slug.format(oid=settings.organizations[0].oid)
    with pytest.raises(BreaksRedoxRule) as failure:
        client.request(
            "Patient search",
            "POST",
            settings.fhir.path(slug, "Patient/_search"),
            form={"_id": ["nobody"]},
            headers=settings.carequality_headers(),
        )
    assert str(failure.value) == (
        "Patient search: the request breaks a Redox rule, not sent: header x-purpose-of-use: "
        "'PAYMENT' does not carry TREATMENT as {code} (Carequality metadata)"
    )
    assert requirements_of(failure.value) == ("CQ-03", "CQ-04")
    assert client.exchanges == []  # nothing sent


@pytest.mark.parametrize(
    ("written", "headers", "problem"),
    [
        ({}, {"X-User-Role": "Medical Doctor"}, "header x-user-role: 'Medical Doctor' does not"),
        (
            {"user_role": "code^display"},
            {"x-user-role": "112247003"},  # not written as the key says
            "header x-user-role: '112247003' does not carry a SNOMED CT code as {code}^{display}",
        ),
        ({}, {"x-purpose-of-use": "treatment"}, "header x-purpose-of-use: 'treatment' does not"),
    ],
)
def test_a_coded_header_breaking_its_rule_is_named(
    tmp_path: Path, written: dict[str, str], headers: dict[str, str], problem: str
) -> None:
    keys = {"header_values": written} if written else None
    settings = settings_for(tmp_path, api="fhir", fhir=keys)
    (found,) = carequality_header_values(settings, headers)
    assert found.startswith(problem)
    assert carequality_header_values(settings, settings.carequality_headers()) == []
    assert carequality_header_values(settings, {}) == []  # the directory's requests: none


def test_a_display_holding_the_templates_separator_still_gives_the_code() -> None:
    from techval.core.config import written_parts

    assert written_parts("{display}^{code}", "Dr^Med^112247003") == {
        "display": "Dr^Med",
        "code": "112247003",
    }
    assert written_parts("{code}^{display}", "112247003^Dr^Med") == {
        "code": "112247003",
        "display": "Dr^Med",
    }
    assert written_parts("{code}", "not a code") is None

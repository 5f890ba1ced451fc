"""What the FHIR side refuses to send and checks on what it sent (catalogue FHIR-04, FHIR-05):
an Organization whose id is not the OID of its identifier is not sent; a request to ceq-xca
that went out without the Carequality headers fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from techval.core.config import FhirSettings
from techval.core.errors import BreaksRedoxRule, CheckFailed
from techval.core.exchange import Exchange
from techval.validation.fhir import organization
from techval.validation.fhir.documents import FhirDocuments
from techval.validation.fhir.organization import FhirDirectory, id_is_oid, resource
from techval.validation.fhir.search import carried_headers
from techval.validation.located import Location
from tests.helpers import RecordingClient, in_process_client, settings_for

OID = "2.16.840.1.113883.3.6147.458.99999.1.1.1.1"
OID_SYSTEM = FhirSettings().oid_system


def organization_with(**changes: Any) -> dict[str, Any]:
    found = {
        "resourceType": "Organization",
        "id": OID,
        "identifier": [{"use": "official", "system": OID_SYSTEM, "value": OID}],
        "active": True,
        "name": "Harness Test Clinic",
    }
    return {**found, **changes}


def test_the_organization_sent_has_the_oid_of_its_identifier_as_id(tmp_path: Path) -> None:
    profile = settings_for(tmp_path, api="fhir").organizations[0]
    sent = resource(profile)
    assert sent["id"] == profile.oid
    id_is_oid("Organization create", sent)  # conforming: nothing raised
    id_is_oid("Organization create", organization_with())


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"id": OID[:-1] + "2"}, r"\$\.id: not the OID of \$\.identifier"),
        ({"id": None}, r"\$\.id: not the OID of \$\.identifier"),
        (
            {"identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{OID}"}]},
            r"\$\.identifier: no OID identifier \(system http://www\.hl7\.org/oid/\)",
        ),
        ({"identifier": []}, r"\$\.identifier: no OID identifier"),
        ({"identifier": "not a list"}, r"\$\.identifier: no OID identifier"),
    ],
)
def test_an_organization_whose_id_is_not_its_oid_breaks_the_redox_rule(
    changes: dict[str, Any], said: str
) -> None:
    with pytest.raises(BreaksRedoxRule, match=rf"^Organization update: not sent: {said}") as err:
        id_is_oid("Organization update", organization_with(**changes))
    assert "Redox requires the id to be the OID of the identifier" in str(err.value)
    assert "\n" not in str(err.value)


def fhir_client(tmp_path: Path) -> tuple[FhirDirectory, RecordingClient]:
    settings = settings_for(tmp_path, api="fhir")
    return FhirDirectory(settings), in_process_client(settings)


def test_the_directory_does_not_send_an_organization_whose_id_is_not_its_oid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, client = fhir_client(tmp_path)
    profile = directory.settings.organizations[0]
    built = organization.resource

    def wrong_id(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**built(*args, **kwargs), "id": "2.16.840.1.113883.3.6147.458.99999.9"}

    monkeypatch.setattr(organization, "resource", wrong_id)
    with pytest.raises(BreaksRedoxRule, match=r"^Organization create: not sent: \$\.id"):
        directory.create(client, profile)
    with pytest.raises(BreaksRedoxRule, match=r"^Organization update: not sent: \$\.id"):
        directory.update(client, profile, active=False)
    assert [e for e in client.exchanges if e.label.startswith("Organization")] == []
    monkeypatch.undo()
    assert directory.create(client, profile).status == 201  # the same profile, conforming


def sent(headers: dict[str, str]) -> Exchange:
    return Exchange(
        "DocumentReference search", "POST", "http://x/fhir/R4/ceq-xca:1.2/Development/x", headers,
        None, "2026-01-01T00:00:00.000Z", status=200,
    )  # fmt: skip


def test_a_request_without_a_carequality_header_or_another_value_fails() -> None:
    expected = {"x-sender-organization-id": OID, "x-user-id": "Tester, Pat"}
    carried_headers(sent({"X-Sender-Organization-Id": OID, "X-User-Id": "Tester, Pat"}), expected)
    with pytest.raises(CheckFailed, match=r"^DocumentReference search: header x-user-id: missing$"):
        carried_headers(sent({"x-sender-organization-id": OID}), expected)
    with pytest.raises(CheckFailed, match=r"header x-user-id: not the environment's value$"):
        carried_headers(sent({"x-sender-organization-id": OID, "x-user-id": "svc"}), expected)


def test_a_document_request_that_went_out_without_the_headers_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, api="fhir")
    client = in_process_client(settings)
    documents = FhirDocuments(settings)
    location = Location("2.16.840.1.113883.3.6147.458.5555.1", "Elsewhere", (), "patient-1")
    (answer, *_) = documents.search(client, location).pages  # as sent: every header, nothing raised
    assert {k.lower() for k in settings.carequality_headers()} <= {
        k.lower() for k in answer.request_headers
    }
    real = RecordingClient.request

    def dropping(self: RecordingClient, *args: Any, **kwargs: Any) -> Exchange:
        exchange = real(self, *args, **kwargs)
        exchange.request_headers.pop("x-purpose-of-use", None)  # lost on the way out
        return exchange

    monkeypatch.setattr(RecordingClient, "request", dropping)
    with pytest.raises(CheckFailed, match=r"^DocumentReference search: header x-purpose-of-use"):
        documents.search(client, location)
    with pytest.raises(CheckFailed, match=r"^DocumentReference read: header x-purpose-of-use"):
        documents.retrieve(client, location, "document-1")

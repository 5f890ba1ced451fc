"""The simulator speaks Redox's FHIR R4 API on the Carequality onramp (redox-fhir.md), over the
same state as its Data Model routes. Requests are built here, never by the harness."""

from __future__ import annotations

import base64
import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml

from techval.core.config import Settings
from techval.simulator import RunningSimulator, Simulator
from techval.simulator.faults import named
from techval.simulator.fhir_config import FhirOptions
from techval.simulator.transport import simulator_transport

BASE = "/fhir/R4"
ORGS = f"{BASE}/ceq-orgs/Development"
HEALTH_SYSTEM = "2.16.840.1.113883.3.9999.1"
PEDIATRIC = "2.16.840.1.113883.3.9999.2"
SENIOR_CARE = "2.16.840.1.113883.3.9999.3"
HARNESS_OID = "2.16.840.1.113883.3.6147.458.99999.1.1.1.1"
PATIENT_OID = "2.16.840.1.113883.3.6147.458.99999.1.1.2.1"
NEW_OID = "2.16.840.1.113883.3.6147.458.99999.1.1.1.7"
OID_SYSTEM = "http://www.hl7.org/oid/"
HEADERS = {
    "x-sender-organization-id": HARNESS_OID,
    "x-user-id": "Tester, Pat",
    "x-organization-name": "Harness Test Clinic",
    "x-user-role": "112247003",
    "x-purpose-of-use": "TREATMENT",
}
TIMOTHY = {"given": "Timothy", "family": "Bixby", "birthdate": "2008-01-06"}
NOBODY = {"given": "Nomatch", "family": "Quillfeather", "birthdate": "1901-01-01"}
V3 = "{urn:hl7-org:v3}"


def xcpd(oid: str) -> str:
    return f"{BASE}/ceq-xcpd:{oid}/Development"


def xca(oid: str) -> str:
    return f"{BASE}/ceq-xca:{oid}/Development"


@dataclass
class Fhir:
    simulator: Simulator
    http: httpx.Client

    def search(self, path: str, form: dict[str, Any], **headers: str) -> httpx.Response:
        return self.http.post(path, data=form, headers={**HEADERS, **headers})

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path, headers=HEADERS)

    def write(self, method: str, path: str, resource: Any) -> httpx.Response:
        return self.http.request(
            method, path, json=resource, headers={"Content-Type": "application/fhir+json"}
        )


def client_for(simulator: Simulator, url: str | None = None) -> httpx.Client:
    """A client with a valid token: in-process, or to a running server's `url`."""
    token = simulator.tokens._issue(300)
    transport = None if url else simulator_transport(simulator)
    return httpx.Client(
        transport=transport,
        base_url=url or "http://simulator.test",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def fhir(simulator: Simulator) -> Iterator[Fhir]:
    simulator.repository.delay = 0
    with client_for(simulator) as http:
        yield Fhir(simulator, http)


def organization(oid: str = NEW_OID, **changes: Any) -> dict[str, Any]:
    """An Organization as Redox's create example shows it (4.1, 4.2, 4.5)."""
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": oid,
        "identifier": [{"use": "official", "system": OID_SYSTEM, "value": oid}],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "https://sequoiaproject.org/fhir/sphd/CodeSystem/OrganizationType",
                        "code": "Connection",
                    }
                ]
            }
        ],
        "name": "Lakeside Family Practice",
        "address": [
            {"line": ["9 Lake St"], "city": "Madison", "state": "WI", "postalCode": "53711"}
        ],
        "partOf": {"identifier": {"system": OID_SYSTEM, "value": "2.16.840.1.113883.3.6147.458.2"}},
        "contact": [
            {
                "purpose": {"text": "Technical"},
                "name": {"text": "Pat Tester"},
                "telecom": [{"system": "email", "value": "pat@lakeside.example"}],
            },
            {
                "purpose": {"text": "Administrative"},
                "name": {"text": "Front Desk"},
                "telecom": [{"system": "phone", "value": "+16085550111", "use": "work"}],
            },
        ],
    }
    resource.update(changes)
    return resource


def issue_texts(response: httpx.Response) -> list[str]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return [issue["details"]["text"] for issue in body["issue"]]


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [entry["resource"] for entry in bundle.get("entry", [])]


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def data_model(settings: Settings, purpose: str, model: str, event: str, **body: Any) -> Any:
    """A Data Model message as Redox's documentation shows it, built here."""
    return {
        "Meta": {
            "DataModel": model,
            "EventType": event,
            "Destinations": [{"ID": settings.destinations[purpose]}],
        },
        **copy.deepcopy(body),
    }


def post_endpoint(fhir: Fhir, message: Any) -> dict[str, Any]:
    response = fhir.http.post("/endpoint", json=message)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# -- routing, authentication, answers as Redox sends them -----------------------------------


def test_answers_are_fhir_json_with_a_trace_id_on_each(fhir: Fhir) -> None:
    answers = [
        fhir.http.get(f"{ORGS}/Organization/{HEALTH_SYSTEM}"),
        fhir.http.get(f"{ORGS}/Organization/1.2.3"),
        fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY, **{"x-user-id": ""}),
    ]
    assert [a.status_code for a in answers] == [200, 404, 401]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/fhir+json")
    traces = {answer.headers["redox-trace-id"] for answer in answers}
    assert len(traces) == 3 and all(traces)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{ORGS}/Organization/{HEALTH_SYSTEM}"),
        ("POST", f"{ORGS}/Organization"),
        ("PUT", f"{ORGS}/Organization/{HEALTH_SYSTEM}"),
        ("POST", f"{ORGS}/Organization/_search"),
        ("POST", f"{xcpd(HEALTH_SYSTEM)}/Patient/_search"),
        ("POST", f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search"),
        ("GET", f"{xca(HEALTH_SYSTEM)}/DocumentReference/x"),
        ("GET", f"{ORGS}/page/Organization/search/abc.next"),
        ("GET", f"{BASE}/no-such-slug/Development/Patient/1"),
    ],
)
def test_every_route_needs_a_bearer_token(simulator: Simulator, method: str, path: str) -> None:
    with httpx.Client(
        transport=simulator_transport(simulator), base_url="http://simulator.test"
    ) as http:
        assert http.request(method, path, headers=HEADERS).status_code == 401
        forged = {**HEADERS, "Authorization": "Bearer forged"}
        answer = http.request(method, path, headers=forged)
    assert answer.status_code == 401 and answer.headers["redox-trace-id"]


def test_an_unknown_slug_is_redox_404(fhir: Fhir) -> None:
    answer = fhir.http.post(f"{BASE}/ceq-nope/Development/Organization/_search")
    assert answer.status_code == 404
    (issue,) = answer.json()["issue"]
    assert issue["severity"] == "fatal" and issue["code"] == "not-found"
    assert issue["details"]["text"] == "Unknown slug ceq-nope"  # 8.4
    assert issue["details"]["coding"][0]["code"] == "MSG_NO_MODULE"


@pytest.mark.parametrize("environment", ["Staging", "Production", "development", "Dev"])
def test_another_environment_segment_is_404(fhir: Fhir, environment: str) -> None:
    answer = fhir.http.get(f"{BASE}/ceq-orgs/{environment}/Organization/{HEALTH_SYSTEM}")
    assert answer.status_code == 404 and issue_texts(answer) == ["Unknown slug ceq-orgs"]


def test_a_resource_the_slug_does_not_serve_is_an_unknown_slug(fhir: Fhir) -> None:
    answer = fhir.http.post(f"{ORGS}/Observation/_search")
    assert answer.status_code == 404 and issue_texts(answer) == ["Unknown slug ceq-orgs"]
    answer = fhir.http.delete(f"{ORGS}/Organization/{HEALTH_SYSTEM}")
    assert answer.status_code == 404


def test_an_operation_a_known_resource_lacks_is_a_data_model_error(fhir: Fhir) -> None:
    answer = fhir.http.post(f"{ORGS}/Organization/$organization-create", json={})
    assert answer.status_code == 400  # 8.5: Data-Model-shaped, not an OperationOutcome
    meta = answer.json()["Meta"]
    assert meta["Errors"][0]["Text"] == "Invalid data model and/or event type."
    assert meta["Errors"][0]["Module"] == "Parser" and meta["Logs"][0]["ID"]
    assert meta["Source"]["Name"] == "Redox Request Ingress (Development)"


def test_a_post_to_a_resource_instance_is_an_empty_404(fhir: Fhir) -> None:
    answer = fhir.http.post(f"{ORGS}/Organization/{HEALTH_SYSTEM}", json={})
    assert answer.status_code == 404 and answer.content == b""  # 8.6


def test_the_environment_file_chooses_base_path_environment_and_slugs(fhir: Fhir) -> None:
    fhir.simulator.fhir.options = FhirOptions.from_settings(
        SimpleNamespace(
            environment="Staging",
            base_path="/api/fhir",
            organizations_slug="cq-directory",
            headers={"user_id": "x-requesting-user"},
        )
    )
    assert fhir.http.get(f"{ORGS}/Organization/{HEALTH_SYSTEM}").status_code == 404
    answer = fhir.http.get(f"/api/fhir/cq-directory/Staging/Organization/{HEALTH_SYSTEM}")
    assert answer.status_code == 200 and answer.json()["id"] == HEALTH_SYSTEM
    path = f"/api/fhir/ceq-xcpd:{HEALTH_SYSTEM}/Staging/Patient/_search"
    answer = fhir.search(path, TIMOTHY)
    assert answer.status_code == 401
    assert issue_texts(answer) == [
        "Unauthorized: Carequality metadata missing - x-requesting-user header"
    ]
    assert fhir.search(path, TIMOTHY, **{"x-requesting-user": "Tester"}).status_code == 200


# -- ceq-orgs: the organization record -------------------------------------------------------


def test_create_answers_201_with_the_stored_organization(fhir: Fhir) -> None:
    answer = fhir.write("POST", f"{ORGS}/Organization", organization())
    assert answer.status_code == 201
    assert answer.headers["location"].endswith(f"{ORGS}/Organization/{NEW_OID}")
    stored = answer.json()
    assert stored["id"] == NEW_OID and stored["name"] == "Lakeside Family Practice"
    assert stored["meta"]["lastUpdated"]
    read = fhir.http.get(f"{ORGS}/Organization/{NEW_OID}")
    assert read.status_code == 200 and read.json()["address"] == organization()["address"]


def test_read_answers_contacts_in_another_order(fhir: Fhir) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization())
    read = fhir.http.get(f"{ORGS}/Organization/{NEW_OID}").json()
    assert read["contact"] == list(reversed(organization()["contact"]))


def test_create_of_an_existing_oid_is_403_already_exists(fhir: Fhir) -> None:
    assert fhir.write("POST", f"{ORGS}/Organization", organization()).status_code == 201
    answer = fhir.write("POST", f"{ORGS}/Organization", organization(name="Another"))
    assert answer.status_code == 403 and issue_texts(answer) == [f"{NEW_OID} already exists."]


@pytest.mark.parametrize(
    ("changes", "status", "text"),
    [
        ({"id": None}, 400, "Organization.id is required and must equal the OID"),
        ({"id": "2.16.840.1.113883.3.6147.458.99999.1.1.1.8"}, 400, "must equal the OID"),
        ({"identifier": []}, 403, "Failed to parse request body as XML resource."),
        (
            {"identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{NEW_OID}"}]},
            403,
            "Failed to parse request body as XML resource.",
        ),
        ({"type": []}, 403, "Failed to parse request body as XML resource."),
        ({"name": None}, 400, "Organization.name is required"),
        ({"active": "yes"}, 400, "Organization.active is required"),
        ({"resourceType": "Bundle"}, 400, "not an Organization resource"),
    ],
)
def test_create_refusals(fhir: Fhir, changes: dict[str, Any], status: int, text: str) -> None:
    resource = {k: v for k, v in organization(**changes).items() if v is not None}
    answer = fhir.write("POST", f"{ORGS}/Organization", resource)
    assert answer.status_code == status and text in issue_texts(answer)[0]
    assert NEW_OID not in fhir.simulator.directory.records


def test_an_implementer_needs_a_contact(fhir: Fhir) -> None:
    resource = organization()
    resource["type"][0]["coding"][0]["code"] = "Implementer"
    del resource["contact"]
    answer = fhir.write("POST", f"{ORGS}/Organization", resource)
    assert answer.status_code == 403
    assert issue_texts(answer) == ["Failed to parse request body as XML resource."]


def test_a_body_that_is_not_json_is_400(fhir: Fhir) -> None:
    sent = {"Content-Type": "application/fhir+json"}
    answer = fhir.http.post(f"{ORGS}/Organization", content=b"<Organization/>", headers=sent)
    assert answer.status_code == 400 and answer.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("content_type", [None, "application/xml", "text/plain"])
def test_a_body_of_another_content_type_is_415_naming_it(
    fhir: Fhir, content_type: str | None
) -> None:
    sent = {"Content-Type": content_type} if content_type else {}
    body = json.dumps(organization()).encode()
    answer = fhir.http.post(f"{ORGS}/Organization", content=body, headers=sent)
    assert answer.status_code == 415
    assert answer.json()["issue"][0]["details"]["text"] == (
        f"Content-Type {content_type or '(none)'} is not supported: application/fhir+json or "
        "application/json"
    )


def test_read_of_an_unknown_organization_is_404(fhir: Fhir) -> None:
    answer = fhir.http.get(f"{ORGS}/Organization/1.2.3.4")
    assert answer.status_code == 404 and answer.json()["issue"][0]["code"] == "not-found"


def test_update_deactivate_and_restore_by_put(fhir: Fhir) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization())
    path = f"{ORGS}/Organization/{NEW_OID}"
    moved = organization(address=[{"line": ["10 Lake St"], "city": "Madison", "state": "WI"}])
    answer = fhir.write("PUT", path, moved)
    assert answer.status_code == 200 and answer.json()["address"][0]["line"] == ["10 Lake St"]
    assert fhir.http.get(path).json()["address"][0]["line"] == ["10 Lake St"]
    assert fhir.write("PUT", path, organization(active=False)).status_code == 200
    assert fhir.http.get(path).json()["active"] is False
    assert fhir.write("PUT", path, organization()).status_code == 200
    assert fhir.http.get(path).json()["active"] is True


def test_update_of_an_unknown_oid_is_not_valid(fhir: Fhir) -> None:
    answer = fhir.write("PUT", f"{ORGS}/Organization/{NEW_OID}", organization())
    assert answer.status_code == 403 and issue_texts(answer) == [f"id: {NEW_OID} is not valid."]


def test_update_needs_the_url_id_in_the_body(fhir: Fhir) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization())
    answer = fhir.write("PUT", f"{ORGS}/Organization/{HEALTH_SYSTEM}", organization())
    assert answer.status_code == 400 and "id in the URL" in issue_texts(answer)[0]


def test_post_with_an_existing_id_updates_when_the_update_verb_is_post(fhir: Fhir) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization())
    options = fhir.simulator.fhir.options
    fhir.simulator.fhir.options = replace(options, update_verb="POST")
    answer = fhir.write("POST", f"{ORGS}/Organization", organization(active=False))
    assert answer.status_code == 200 and answer.json()["active"] is False
    assert fhir.http.get(f"{ORGS}/Organization/{NEW_OID}").json()["active"] is False
    answer = fhir.write("POST", f"{ORGS}/Organization", organization(NEW_OID[:-1] + "9"))
    assert answer.status_code == 201  # a new id is still a create


def test_created_through_fhir_is_read_through_the_data_model(
    fhir: Fhir, test_settings: Settings
) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization())
    query = data_model(
        test_settings,
        "organization",
        "Organization",
        "Query",
        Directory="Carequality",
        Identifier={"ID": NEW_OID, "IDType": "OID"},
    )
    (record,) = post_endpoint(fhir, query)["Organizations"]
    assert record["Name"] == "Lakeside Family Practice" and record["Active"] is True
    assert record["Address"]["StreetAddress"] == "9 Lake St" and record["Address"]["ZIP"] == "53711"
    assert record["Type"]["Value"] == "Connection"
    assert record["PartOf"]["Identifier"]["Value"] == "2.16.840.1.113883.3.6147.458.2"
    contacts = {c["Name"]: c for c in record["Contacts"]}
    assert contacts["Pat Tester"]["EmailAddresses"] == ["pat@lakeside.example"]
    assert contacts["Front Desk"]["PhoneNumber"]["Work"] == "+16085550111"


def test_created_through_the_data_model_is_read_through_fhir(
    fhir: Fhir, test_settings: Settings
) -> None:
    record = {
        "Name": "Data Model Clinic",
        "Active": True,
        "Aliases": ["DM Clinic"],
        "Identifiers": [{"ID": NEW_OID, "IDType": "OID"}],
        "Type": {"System": None, "Value": "Connection"},
        "PartOf": {"Identifier": {"Value": HARNESS_OID}},
        "Contacts": [{"Purpose": "Technical", "Name": "Ann", "EmailAddresses": ["ann@dm.example"]}],
        "Address": {"StreetAddress": "5 Elm St", "City": "Madison", "State": "WI", "ZIP": "53703"},
    }
    new = data_model(
        test_settings,
        "organization",
        "Organization",
        "New",
        Directory="Carequality",
        Organizations=[record],
    )
    post_endpoint(fhir, new)
    read = fhir.http.get(f"{ORGS}/Organization/{NEW_OID}").json()
    assert read["name"] == "Data Model Clinic" and read["alias"] == ["DM Clinic"]
    assert read["identifier"] == [{"use": "official", "system": OID_SYSTEM, "value": NEW_OID}]
    assert read["partOf"]["identifier"]["value"] == HARNESS_OID
    assert read["address"][0]["line"] == ["5 Elm St"]
    assert read["contact"][0]["telecom"] == [{"system": "email", "value": "ann@dm.example"}]
    # a later Data Model update shows through FHIR, even for a record created through FHIR
    fhir.write("PUT", f"{ORGS}/Organization/{NEW_OID}", organization())
    update = copy.deepcopy(new)
    update["Meta"]["EventType"] = "Update"
    update["Action"] = "Update"
    update["Organizations"][0]["Active"] = False
    post_endpoint(fhir, update)
    read = fhir.http.get(f"{ORGS}/Organization/{NEW_OID}").json()
    assert read["active"] is False and read["name"] == "Data Model Clinic"


HEALTH, CLINIC, SENIOR, REDOX = (
    "Simulated Health System",
    "Simulated Pediatric Clinic",
    "Simulated Senior Care",
    "Redox",
)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"name": "simulated"}, [HEALTH, CLINIC, SENIOR]),
        ({"name": "Simulated Senior", "name-searchtype": "exact"}, []),
        ({"name": "simulated senior care", "name-searchtype": "exact"}, [SENIOR]),
        ({"address-city": "Monroe"}, [CLINIC]),
        ({"address-state": "CA"}, [SENIOR]),
        ({"address-postalcode": "53703"}, [REDOX, HEALTH]),
        ({"address-postalcode": "53711", "radius": "25"}, [REDOX, HEALTH, "Lakeside"]),
        ({"active": "false"}, ["Lakeside"]),
        ({"address-state": "TX"}, []),
    ],
)
def test_directory_search_filters(fhir: Fhir, form: dict[str, str], expected: list[str]) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization(name="Lakeside", active=False))
    answer = fhir.http.post(f"{ORGS}/Organization/_search", data=form)
    assert answer.status_code == 200
    assert [o["name"] for o in resources(answer.json())] == expected
    assert answer.json()["total"] == len(expected)


def test_directory_search_pages_by_index_and_limit(fhir: Fhir) -> None:
    form = {"address-state": "WI", "index": "1", "limit": "1"}
    bundle = fhir.http.post(f"{ORGS}/Organization/_search", data=form).json()
    assert [o["name"] for o in resources(bundle)] == [HEALTH]
    assert bundle["total"] == 3


def test_a_directory_may_page_by_index_and_limit_only(fhir: Fhir) -> None:
    fhir.simulator.fhir.options = replace(fhir.simulator.fhir.options, directory_next_links=False)
    names = []
    for index in range(4):
        form = {"index": str(index), "limit": "1"}
        bundle = fhir.http.post(f"{ORGS}/Organization/_search", data=form).json()
        assert next_link(bundle) is None and bundle["total"] == 4
        names += [o["name"] for o in resources(bundle)]
    assert names == [REDOX, HEALTH, CLINIC, SENIOR]
    other = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY)  # other slugs link
    assert other.status_code == 200


def test_next_links_are_followed_with_the_environments_verb(fhir: Fhir) -> None:
    fhir.simulator.fhir.options = replace(fhir.simulator.fhir.options, next_verb="POST")
    link = next_link(fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "1"}).json())
    assert link is not None
    assert fhir.http.get(link).status_code == 404  # not the way this environment pages
    answer = fhir.http.post(link, data={})
    assert answer.status_code == 200 and [o["name"] for o in resources(answer.json())] == [HEALTH]
    assert FhirOptions.from_settings(SimpleNamespace(next_verb="POST")).next_verb == "POST"


def test_next_links_are_followed_by_get_to_the_last_page(fhir: Fhir) -> None:
    bundle = fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "1"}).json()
    names, pages = [o["name"] for o in resources(bundle)], 1
    while (link := next_link(bundle)) is not None and pages < 10:
        assert link.startswith(f"http://simulator.test{ORGS}/page/Organization/search/")
        assert link.endswith(".next")
        answer = fhir.http.get(link)
        assert answer.status_code == 200 and answer.headers["redox-trace-id"]
        bundle, pages = answer.json(), pages + 1
        names += [o["name"] for o in resources(bundle)]
    assert names == [REDOX, HEALTH, CLINIC, SENIOR] and pages == 4
    assert bundle["total"] == 4


def test_page_links_expire_and_are_bounded(fhir: Fhir) -> None:
    now = [1000.0]
    pages = fhir.simulator.fhir.pages
    pages.clock = lambda: now[0]
    first = next_link(fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "1"}).json())
    assert first is not None
    now[0] += pages.lifetime + 1
    answer = fhir.http.get(first)
    assert answer.status_code == 404 and answer.json()["issue"][0]["code"] == "not-found"
    pages.capacity = 2
    links = [
        next_link(fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "1"}).json())
        for _ in range(3)
    ]
    assert [fhir.http.get(str(link)).status_code for link in links] == [404, 200, 200]


def test_a_page_link_of_another_slug_is_not_followed(fhir: Fhir) -> None:
    link = next_link(fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "1"}).json())
    assert link is not None
    key = link.rsplit("/", 1)[-1]
    assert fhir.get(f"{xcpd(HEALTH_SYSTEM)}/page/Organization/search/{key}").status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"name": ["Redox"]}', "application/fhir+json"), (b"name=Redox", "text/plain")],
)
def test_search_parameters_must_be_form_encoded(fhir: Fhir, body: bytes, content_type: str) -> None:
    answer = fhir.http.post(
        f"{ORGS}/Organization/_search", content=body, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 400 and "form-urlencoded" in issue_texts(answer)[0]


@pytest.mark.parametrize("form", [{"index": "first"}, {"limit": "-1"}])
def test_paging_parameters_are_whole_numbers(fhir: Fhir, form: dict[str, str]) -> None:
    answer = fhir.http.post(f"{ORGS}/Organization/_search", data=form)
    assert answer.status_code == 400 and "whole number" in issue_texts(answer)[0]


def test_directory_needs_no_carequality_headers_unless_configured(fhir: Fhir) -> None:
    assert fhir.http.post(f"{ORGS}/Organization/_search").status_code == 200
    options = fhir.simulator.fhir.options
    fhir.simulator.fhir.options = replace(options, headers_on_directory=True)
    assert fhir.http.post(f"{ORGS}/Organization/_search").status_code == 401
    assert fhir.search(f"{ORGS}/Organization/_search", {}).status_code == 200


# -- ceq-xcpd: patient search in one organization --------------------------------------------


def test_patient_search_answers_the_organizations_identifiers(fhir: Fhir) -> None:
    answer = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY)
    assert answer.status_code == 200
    (patient,) = resources(answer.json())
    assert {"system": "urn:oid:2.16.840.1.113883.3.9999.1.2", "value": "MRN-778899"} in patient[
        "identifier"
    ]
    assert patient["name"][0]["family"] == "Bixby" and patient["birthDate"] == "2008-01-06"
    assert patient["gender"] == "male" and patient["id"]
    entry = answer.json()["entry"][0]
    assert entry["search"]["mode"] == "match"
    assert entry["fullUrl"].endswith(f"{xcpd(HEALTH_SYSTEM)}/Patient/{patient['id']}")
    other = resources(fhir.search(f"{xcpd(PEDIATRIC)}/Patient/_search", TIMOTHY).json())
    assert other[0]["identifier"][0]["value"] == "PC-1001"  # each organization its own


@pytest.mark.parametrize(
    "identifier",
    [
        "urn:oid:2.16.840.1.113883.3.9999.1.2|MRN-778899",
        "MRN-778899",
        "2.16.840.1.113883.3.9999.1.2|MRN-778899",
        "|MRN-778899",
    ],
)
def test_patient_search_by_identifier(fhir: Fhir, identifier: str) -> None:
    answer = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", {"identifier": identifier})
    (patient,) = resources(answer.json())
    assert patient["name"][0]["given"][0] == "Timothy"


def test_patient_search_by_id(fhir: Fhir) -> None:
    path = f"{xcpd(HEALTH_SYSTEM)}/Patient/_search"
    (patient,) = resources(fhir.search(path, TIMOTHY).json())
    (again,) = resources(fhir.search(path, {"_id": patient["id"]}).json())
    assert again == patient
    assert resources(fhir.search(path, {"_id": "another"}).json()) == []


def test_an_unknown_patient_is_an_empty_searchset(fhir: Fhir) -> None:
    answer = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", NOBODY)
    assert answer.status_code == 200
    bundle = answer.json()
    assert bundle["total"] == 0 and "entry" not in bundle
    wrong = {"identifier": "urn:oid:2.16.840.1.113883.3.9999.2.2|MRN-778899"}
    assert resources(fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", wrong).json()) == []


@pytest.mark.parametrize(
    "form",
    [{}, {"given": "Timothy", "family": "Bixby"}, {"gender": "male"}, {"identifier": ""}],
)
def test_patient_search_needs_a_mandatory_parameter_set(fhir: Fhir, form: dict[str, str]) -> None:
    answer = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", form)
    assert answer.status_code == 400
    assert issue_texts(answer) == [
        "One of these search parameters is required: _id or identifier or given+family+birthdate"
    ]


@pytest.mark.parametrize("header", sorted(HEADERS))
def test_each_carequality_header_is_required(fhir: Fhir, header: str) -> None:
    for path in (
        f"{xcpd(HEALTH_SYSTEM)}/Patient/_search",
        f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search",
    ):
        answer = fhir.http.post(path, data=TIMOTHY, headers={**HEADERS, header: ""})
        assert answer.status_code == 401
        assert issue_texts(answer) == [
            f"Unauthorized: Carequality metadata missing - {header} header"
        ]


def test_the_sender_must_be_an_oid(fhir: Fhir) -> None:
    answer = fhir.search(
        f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY, **{"x-sender-organization-id": "Acme"}
    )
    assert answer.status_code == 401
    assert issue_texts(answer) == [
        "Unauthorized: the x-sender-organization-id header is not an OID"
    ]


def test_an_organization_nobody_answers_for_is_404(fhir: Fhir) -> None:
    for path in (
        f"{xcpd('1.2.3.4')}/Patient/_search",
        f"{xca('1.2.3.4')}/DocumentReference/_search",
    ):
        answer = fhir.search(path, {**TIMOTHY, "patient": "x"})
        assert answer.status_code == 404
        assert issue_texts(answer) == [f"Unknown slug {path.split('/')[3]}"]


def test_a_slug_with_its_colon_percent_encoded_is_the_same(fhir: Fhir) -> None:
    path = f"{BASE}/ceq-xcpd%3A{HEALTH_SYSTEM}/Development/Patient/_search"
    assert len(resources(fhir.search(path, TIMOTHY).json())) == 1


def test_several_matches_are_all_listed(tmp_path: Path, test_settings: Settings) -> None:
    """Test data where two people at one organization share name and birth date."""
    people = {
        "twin a": {"Demographics": {"FirstName": "Ann", "LastName": "Lee", "DOB": "1990-02-03"}},
        "twin b": {"Demographics": {"FirstName": "Ann", "LastName": "Lee", "DOB": "1990-02-03"}},
    }
    network = {
        "record_locator_id_type": "2.16.840.1.113883.3.6147.458.2",
        "organizations": [{"name": "Twin Clinic", "oid": "1.2.3.1", "patient_id_type": "1.2.3.2"}],
        "patients": [
            {
                "alias": "twin a",
                "network_id": "N-1",
                "held_at": [{"organization": "1.2.3.1", "id": "A"}],
            },
            {
                "alias": "twin b",
                "network_id": "N-2",
                "held_at": [{"organization": "1.2.3.1", "id": "B"}],
            },
        ],
    }
    data = tmp_path / "network"
    data.mkdir()
    (data / "network.yaml").write_text(yaml.safe_dump(network), encoding="utf-8")
    (tmp_path / "people.yaml").write_text(yaml.safe_dump(people), encoding="utf-8")
    simulator = Simulator(
        test_settings.destinations, data_dir=data, test_patients=tmp_path / "people.yaml"
    )
    form = {"given": "ann", "family": "LEE", "birthdate": "1990-02-03"}
    with client_for(simulator) as http:
        answer = http.post(f"{xcpd('1.2.3.1')}/Patient/_search", data=form, headers=HEADERS)
    found = resources(answer.json())
    assert sorted(p["identifier"][0]["value"] for p in found) == ["A", "B"]
    assert answer.json()["total"] == 2


# -- ceq-xca: documents ----------------------------------------------------------------------


def _patient_id(fhir: Fhir, oid: str, form: dict[str, str] = TIMOTHY) -> str:
    (patient,) = resources(fhir.search(f"{xcpd(oid)}/Patient/_search", form).json())
    return str(patient["id"])


def _cda(document: dict[str, Any]) -> ET.Element:
    (content,) = document["content"]
    assert content["attachment"]["contentType"] == "text/xml"
    return ET.fromstring(base64.b64decode(content["attachment"]["data"]))


def test_document_search_lists_the_patients_cda_documents(fhir: Fhir) -> None:
    patient = _patient_id(fhir, HEALTH_SYSTEM)
    form = {"patient": patient, "category": "urn:redox:document_kind|CDA"}
    answer = fhir.search(f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search", form)
    assert answer.status_code == 200
    (document,) = resources(answer.json())
    assert answer.json()["total"] == 1
    assert document["status"] == "current" and document["id"]
    assert document["category"] == [
        {"coding": [{"system": "urn:redox:document_kind", "code": "CDA"}]}
    ]
    assert document["subject"]["reference"] == f"Patient/{patient}"
    assert document["masterIdentifier"] == {
        "system": "urn:oid:2.16.840.1.113883.3.9999.1.3",
        "value": "doc-0001",
    }
    assert _cda(document).tag == f"{V3}ClinicalDocument"


def test_document_search_by_id_identifier_and_type(fhir: Fhir) -> None:
    path = f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search"
    (listed,) = resources(fhir.search(path, {"patient": _patient_id(fhir, HEALTH_SYSTEM)}).json())
    for form in (
        {"_id": listed["id"]},
        {"identifier": "urn:oid:2.16.840.1.113883.3.9999.1.3|doc-0001"},
        {"identifier": "2.16.840.1.113883.3.9999.1.3^doc-0001"},
        {"identifier": "doc-0001", "type": "http://loinc.org|34133-9"},
    ):
        assert [d["id"] for d in resources(fhir.search(path, form).json())] == [listed["id"]]
    for form in ({"_id": "other"}, {"identifier": "doc-0001", "type": "11506-3"}):
        assert resources(fhir.search(path, form).json()) == []
    other_kind = {"_id": listed["id"], "category": "urn:redox:document_kind|PDF"}
    assert resources(fhir.search(path, other_kind).json()) == []


def test_a_patient_without_documents_is_an_empty_searchset(fhir: Fhir) -> None:
    walter = {"given": "Walter", "family": "Carthwright", "birthdate": "1945-03-04"}
    form = {"patient": f"Patient/{_patient_id(fhir, SENIOR_CARE, walter)}"}
    answer = fhir.search(f"{xca(SENIOR_CARE)}/DocumentReference/_search", form)
    assert answer.status_code == 200 and answer.json()["total"] == 0
    assert "entry" not in answer.json()


def test_a_document_search_for_a_patient_not_held_is_404(fhir: Fhir) -> None:
    elsewhere = _patient_id(fhir, PEDIATRIC)
    answer = fhir.search(f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search", {"patient": elsewhere})
    assert answer.status_code == 404
    assert issue_texts(answer) == ["The file you're looking for isn't found."]  # 6.12


def test_document_search_needs_a_mandatory_parameter(fhir: Fhir) -> None:
    form = {"category": "urn:redox:document_kind|CDA"}
    answer = fhir.search(f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search", form)
    assert answer.status_code == 400
    assert issue_texts(answer) == [
        "One of these search parameters is required: _id or identifier or patient"
    ]


def test_document_read(fhir: Fhir) -> None:
    path = f"{xca(HEALTH_SYSTEM)}/DocumentReference"
    form = {"patient": _patient_id(fhir, HEALTH_SYSTEM)}
    (listed,) = resources(fhir.search(f"{path}/_search", form).json())
    answer = fhir.get(f"{path}/{listed['id']}")
    assert answer.status_code == 200 and answer.json() == listed
    assert _cda(answer.json()).find(f"{V3}recordTarget") is not None
    missing = fhir.get(f"{path}/no-such-document")
    assert missing.status_code == 404
    assert issue_texts(missing) == ["The file you're looking for isn't found."]
    assert fhir.get(f"{xca(PEDIATRIC)}/DocumentReference/{listed['id']}").status_code == 404
    assert fhir.http.get(f"{path}/{listed['id']}").status_code == 401  # headers on reads too


# -- the repository: pushed through the Data Model, found through FHIR ----------------------

PUSHED_IDS = [{"ID": "techval-x", "IDType": PATIENT_OID}, {"ID": "0000000002", "IDType": "MR"}]
BARBARA = {"FirstName": "Barbara", "LastName": "Bixby", "DOB": "1982-07-24", "Sex": "Female"}
DOCUMENT_UUID = "0d6f3a52-1c44-4b8e-9a63-2f5e7b8c9d01"


@pytest.mark.parametrize(
    ("document_id", "master"),
    [
        (
            "2.16.840.1.113883.3.6147.458.99999.1.1.3.1^techval-doc-1",
            {
                "system": "urn:oid:2.16.840.1.113883.3.6147.458.99999.1.1.3.1",
                "value": "techval-doc-1",
            },
        ),
        (DOCUMENT_UUID, {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{DOCUMENT_UUID}"}),
    ],
)
def test_pushed_patient_and_document_are_found_after_the_repository_delay(
    fhir: Fhir, test_settings: Settings, document_id: str, master: dict[str, str]
) -> None:
    now = [50.0]
    fhir.simulator.repository.clock = lambda: now[0]
    fhir.simulator.repository.delay = 5.0
    patient = {"Identifiers": PUSHED_IDS, "Demographics": BARBARA}
    visit = {
        "Document": {
            "ID": document_id,
            "Title": "Visit Summary",
            "DateTime": "2026-01-01T15:00:00.000Z",
            "TypeCode": {"Code": "34133-9", "Name": "Summarization of Episode Note"},
        },
        "Patient": patient,
    }
    post_endpoint(
        fhir,
        data_model(test_settings, "data_on_demand", "PatientAdmin", "NewPatient", Patient=patient),
    )
    post_endpoint(
        fhir,
        data_model(test_settings, "data_on_demand", "Clinical Summary", "VisitPush", Header=visit),
    )
    search = f"{xcpd(HARNESS_OID)}/Patient/_search"
    by_identifier = {"identifier": f"urn:oid:{PATIENT_OID}|techval-x"}
    assert resources(fhir.search(search, by_identifier).json()) == []  # not yet applied
    now[0] += 5.0
    (found,) = resources(fhir.search(search, by_identifier).json())
    assert found["identifier"] == [  # as pushed, in another order
        {"system": "urn:redox:MR", "value": "0000000002"},
        {"system": f"urn:oid:{PATIENT_OID}", "value": "techval-x"},
    ]
    demographics = {"given": "Barbara", "family": "Bixby", "birthdate": "1982-07-24"}
    assert resources(fhir.search(search, demographics).json()) == [found]
    form = {"patient": found["id"]}
    (document,) = resources(
        fhir.search(f"{xca(HARNESS_OID)}/DocumentReference/_search", form).json()
    )
    assert document["masterIdentifier"] == master
    by_id = {"identifier": document_id}
    assert resources(fhir.search(f"{xca(HARNESS_OID)}/DocumentReference/_search", by_id).json())
    cda = _cda(document)
    patient_id = cda.find(f"{V3}recordTarget/{V3}patientRole/{V3}id")
    assert patient_id is not None and patient_id.get("extension") == "techval-x"


# -- faults: each one's effect on the wire ---------------------------------------------------


def test_fault_update_not_stored(fhir: Fhir) -> None:
    fhir.write("POST", f"{ORGS}/Organization", organization())
    fhir.simulator.faults.append(named("fhir_update_not_stored"))
    path = f"{ORGS}/Organization/{NEW_OID}"
    answer = fhir.write("PUT", path, organization(active=False))
    assert answer.status_code == 200 and answer.json()["active"] is False  # acknowledged
    assert fhir.http.get(path).json()["active"] is True  # ... not stored
    unknown = fhir.write("PUT", f"{ORGS}/Organization/{NEW_OID}9", organization(NEW_OID + "9"))
    assert unknown.status_code == 403  # still checked
    fhir.simulator.fhir.options = replace(fhir.simulator.fhir.options, update_verb="POST")
    assert fhir.write("POST", f"{ORGS}/Organization", organization(active=False)).status_code == 200
    assert fhir.http.get(path).json()["active"] is True


def test_fault_patients_without_identifiers(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_patients_without_identifiers"))
    answer = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    (patient,) = resources(answer.json())
    assert "identifier" not in patient and patient["name"][0]["family"] == "Bixby"


def _listed_and_read(fhir: Fhir) -> list[dict[str, Any]]:
    path = f"{xca(HEALTH_SYSTEM)}/DocumentReference"
    form = {"patient": _patient_id(fhir, HEALTH_SYSTEM)}
    (listed,) = resources(fhir.search(f"{path}/_search", form).json())
    read = fhir.get(f"{path}/{listed['id']}")
    assert read.status_code == 200
    return [listed, read.json()]


def test_fault_document_without_data(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_document_without_data"))
    for document in _listed_and_read(fhir):
        attachment = document["content"][0]["attachment"]
        assert "data" not in attachment and attachment["contentType"] == "text/xml"


def test_fault_document_not_xml(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_document_not_xml"))
    for document in _listed_and_read(fhir):
        with pytest.raises(ET.ParseError):
            _cda(document)


def test_fault_outcome_in_searchset(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_outcome_in_searchset"))
    form = {"patient": _patient_id(fhir, HEALTH_SYSTEM)}
    answer = fhir.search(f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search", form)
    assert answer.status_code == 200
    entries = answer.json()["entry"]
    outcome = [e for e in entries if e["resource"]["resourceType"] == "OperationOutcome"]
    (entry,) = outcome
    assert entry["search"]["mode"] == "outcome"
    assert entry["resource"]["issue"][0]["severity"] == "error"
    assert "document list" in entry["resource"]["issue"][0]["details"]["text"]


def test_fault_data_model_errors(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_data_model_errors"))
    answer = fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY)
    assert answer.status_code == 400 and answer.headers["content-type"].startswith(
        "application/json"
    )
    assert answer.json()["Meta"]["Errors"][0]["Text"] == "Invalid data model and/or event type."
    assert answer.headers["redox-trace-id"]
    assert fhir.http.get(f"{ORGS}/Organization/{HEALTH_SYSTEM}").status_code == 200  # elsewhere


def test_fault_one_per_page(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_one_per_page"))
    bundle = fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "50"}).json()
    names = [o["name"] for o in resources(bundle)]
    while (link := next_link(bundle)) is not None and len(names) < 10:
        bundle = fhir.http.get(link).json()
        names += [o["name"] for o in resources(bundle)]
        assert len(resources(bundle)) == 1
    assert names == [REDOX, HEALTH, CLINIC, SENIOR]


def test_fault_next_link_elsewhere(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("fhir_next_link_elsewhere"))
    bundle = fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "1"}).json()
    link = next_link(bundle)
    assert link is not None and link.startswith(f"http://elsewhere.example{ORGS}/page/")
    self_link = next(x["url"] for x in bundle["link"] if x["relation"] == "self")
    assert self_link.startswith("http://simulator.test/")  # only the next link moves


def test_generic_faults_reach_fhir_and_data_model_edits_do_not(fhir: Fhir) -> None:
    fhir.simulator.faults.append(named("meta_errors_on_success"))
    answer = fhir.http.get(f"{ORGS}/Organization/{HEALTH_SYSTEM}")
    assert answer.status_code == 200 and "Meta" not in answer.json()
    fhir.simulator.faults[:] = [named("server_error")]
    answer = fhir.http.get(f"{ORGS}/Organization/{HEALTH_SYSTEM}")
    assert answer.status_code == 500 and answer.headers["redox-trace-id"]


# -- over a real socket ----------------------------------------------------------------------


def test_a_real_server_pages_with_its_own_address(server: RunningSimulator) -> None:
    with client_for(server.simulator, server.url) as http:
        first = http.post(f"{ORGS}/Organization/_search", data={"limit": "3"})
        assert first.status_code == 200 and first.headers["redox-trace-id"]
        link = next_link(first.json())
        assert link is not None and link.startswith(f"{server.url}{ORGS}/page/")
        rest = http.get(link)
        assert rest.status_code == 200 and len(resources(rest.json())) == 1
        encoded = f"{BASE}/ceq-xcpd%3A{HEALTH_SYSTEM}/Development/Patient/_search"
        found = http.post(encoded, data=TIMOTHY, headers=HEADERS)
        assert len(resources(found.json())) == 1  # the slug's colon percent-encoded on the wire


# -- an independent second opinion: the FHIR R4B models of fhir.resources ------------------


def test_answers_are_valid_fhir(fhir: Fhir) -> None:
    pytest.importorskip("fhir.resources")
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.documentreference import DocumentReference
    from fhir.resources.R4B.operationoutcome import OperationOutcome
    from fhir.resources.R4B.organization import Organization

    fhir.write("POST", f"{ORGS}/Organization", organization())
    documents = _listed_and_read(fhir)
    bundles = [
        fhir.http.post(f"{ORGS}/Organization/_search", data={"limit": "2"}).json(),
        fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", TIMOTHY).json(),
        fhir.search(f"{xcpd(HEALTH_SYSTEM)}/Patient/_search", NOBODY).json(),
        fhir.search(
            f"{xca(HEALTH_SYSTEM)}/DocumentReference/_search", {"_id": documents[0]["id"]}
        ).json(),
    ]
    for bundle in bundles:
        Bundle.model_validate(bundle)
    for oid in (NEW_OID, HEALTH_SYSTEM, "2.16.840.1.113883.3.6147.458.2"):
        Organization.model_validate(fhir.http.get(f"{ORGS}/Organization/{oid}").json())
    DocumentReference.model_validate(documents[1])
    OperationOutcome.model_validate(fhir.http.get(f"{ORGS}/Organization/1.2.3").json())
    OperationOutcome.model_validate(fhir.http.post(f"{BASE}/x/Development/Patient/_search").json())

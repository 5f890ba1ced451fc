"""The FHIR schemas (schemas/fhir/): Redox's documented examples pass, each field Redox requires
is required, violations name the place and never the value, the fast path agrees with
jsonschema, and the fhir.resources R4B models agree that the examples are FHIR."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from typing import Any

import pytest

from techval.core.schemas import SchemaRegistry
from techval.simulator.app import CapturedRequest
from tests.fhir_second_opinion import invalid_by_fhir_resources, invalid_sent, resources_sent
from tests.helpers import ROOT
from tests.unit.test_schemas import TRICKY_STRINGS, jsonschema_only, lookup, mutate, places

REGISTRY = SchemaRegistry(ROOT / "schemas")
FHIR_SCHEMAS = sorted(
    p.relative_to(ROOT / "schemas").with_suffix("").as_posix()
    for p in (ROOT / "schemas" / "fhir").glob("*.json")
)
OID = "2.16.840.1.113883.3.6147.458.2"  # the OID of Redox's example
FULL_URL = "https://fhir.redoxengine.com/fhir-sandbox"  # recorded entry.fullUrl host
CDA = '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Summary</title></ClinicalDocument>'


def organization() -> dict[str, Any]:
    """Redox's create example (create-an-organization-record-with-fhir; its `type` is cut off
    in the published page, the Sequoia code system is the one Redox's schema names), with the
    name the API reference requires and a contained Endpoint (organization/create)."""
    return {
        "resourceType": "Organization",
        "id": OID,
        "identifier": [{"use": "official", "system": "http://www.hl7.org/oid/", "value": OID}],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "https://sequoiaproject.org/fhir/sphd/CodeSystem/OrganizationType",
                        "code": "Implementer",
                    }
                ]
            }
        ],
        "name": "Harness Test Clinic",
        "address": [
            {"line": ["1 Test Way"], "city": "Madison", "state": "WI", "postalCode": "53703"}
        ],
        "contained": [
            {
                "resourceType": "Endpoint",
                "id": "xcpd",
                "status": "active",
                "connectionType": {
                    "system": "https://sequoiaproject.org/fhir/sphd/ValueSet/EndpointConnectionType",
                    "code": "ihe-xcpd",
                },
                "payloadType": [{"coding": [{"code": "urn:ihe:iti:xcpd:2009"}]}],
                "address": "https://clinic.example/xcpd",  # not required by Redox; by FHIR
            }
        ],
    }


def patient() -> dict[str, Any]:
    """A patient as Redox's sandbox answers a Patient/_search (recorded shape: identifiers with
    urn:redox:{slug}:MR systems), with Redox's synthetic test patient."""
    return {
        "resourceType": "Patient",
        "id": "e167267c-16c9-4fe3-96ae-9cff5703e90a",
        "identifier": [
            {"use": "usual", "system": "urn:redox:redox-fhir-sandbox:MR", "value": "0000000001"}
        ],
        "active": True,
        "name": [{"use": "official", "family": "Bixby", "given": ["Timothy", "Paul"]}],
        "telecom": [{"system": "phone", "value": "+18088675301", "use": "home"}],
        "gender": "male",
        "birthDate": "2008-01-06",
        "address": [
            {
                "use": "home",
                "line": ["4762 Hickory Street"],
                "city": "Monroe",
                "state": "WI",
                "postalCode": "53566",
                "country": "US",
            }
        ],
    }


def document_reference() -> dict[str, Any]:
    """A CDA document as the DocumentReference _search and read pages document it."""
    return {
        "resourceType": "DocumentReference",
        "id": "doc-1",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
        "category": [{"coding": [{"system": "urn:redox:document_kind", "code": "CDA"}]}],
        "subject": {"reference": "Patient/e167267c-16c9-4fe3-96ae-9cff5703e90a"},
        "date": "2024-09-20T10:00:00Z",
        "content": [
            {
                "attachment": {
                    "contentType": "text/xml",
                    "data": base64.b64encode(CDA.encode()).decode(),
                }
            }
        ],
    }


def operation_outcome() -> dict[str, Any]:
    """The OperationOutcome Redox was recorded answering (404, an unknown operation)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "fatal",
                "code": "not-found",
                "details": {
                    "coding": [
                        {
                            "code": "MSG_NO_MODULE",
                            "system": "http://terminology.hl7.org/CodeSystem/operation-outcome",
                        }
                    ],
                    "text": "Unknown slug redox-fhir-sandbox",
                },
            }
        ],
    }


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    """A searchset as Redox's sandbox was recorded sending (fullUrl, search.mode, paging links)."""
    page = "https://api.redoxengine.com/fhir/R4/redox-fhir-sandbox/Development/page/Patient/search"
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [
            {"relation": "self", "url": f"{page}/5e8b3f0a-2c1d-4e6f-9a7b-0c1d2e3f4a5b.self"},
            {"relation": "next", "url": f"{page}/5e8b3f0a-2c1d-4e6f-9a7b-0c1d2e3f4a5b.next"},
        ],
        "entry": [
            {
                "fullUrl": f"{FULL_URL}/{r['resourceType']}/{r.get('id', 'x')}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("fhir/Organization", organization()),
    ("fhir/Patient", patient()),
    ("fhir/DocumentReference", document_reference()),
    ("fhir/OperationOutcome", operation_outcome()),
    ("fhir/Bundle.searchset", searchset(patient(), patient())),
    ("fhir/Bundle.searchset", searchset(document_reference())),
    ("fhir/Bundle.searchset", searchset(organization())),
    ("fhir/Bundle.searchset", searchset()),  # no match: an empty searchset
]


@pytest.mark.parametrize(
    ("name", "example"), EXAMPLES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_redox_examples_pass(name: str, example: dict[str, Any]) -> None:
    assert REGISTRY.validate(name, example) == []


@pytest.mark.parametrize(
    ("name", "example"), EXAMPLES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_fhir_r4b_models_accept_the_examples(name: str, example: dict[str, Any]) -> None:
    assert invalid_by_fhir_resources(example) == []


@pytest.mark.parametrize(
    ("name", "example", "path", "expected"),
    [
        ("fhir/Organization", organization(), ["resourceType"], "$.resourceType"),
        ("fhir/Organization", organization(), ["id"], "$.id"),
        ("fhir/Organization", organization(), ["identifier"], "$.identifier"),
        ("fhir/Organization", organization(), ["identifier", 0, "value"], "$.identifier[0].value"),
        (
            "fhir/Organization",
            organization(),
            ["identifier", 0, "system"],
            "$.identifier[0].system",
        ),
        ("fhir/Organization", organization(), ["active"], "$.active"),
        ("fhir/Organization", organization(), ["name"], "$.name"),
        ("fhir/Organization", organization(), ["contained", 0, "status"], "$.contained[0].status"),
        (
            "fhir/Organization",
            organization(),
            ["contained", 0, "connectionType"],
            "$.contained[0].connectionType",
        ),
        (
            "fhir/Organization",
            organization(),
            ["contained", 0, "connectionType", "system"],
            "$.contained[0].connectionType.system",
        ),
        (
            "fhir/Organization",
            organization(),
            ["contained", 0, "payloadType"],
            "$.contained[0].payloadType",
        ),
        (
            "fhir/Organization",
            organization(),
            ["contained", 0, "payloadType", 0, "coding", 0, "code"],
            "$.contained[0].payloadType[0].coding[0].code",
        ),
        ("fhir/Patient", patient(), ["resourceType"], "$.resourceType"),
        ("fhir/DocumentReference", document_reference(), ["resourceType"], "$.resourceType"),
        ("fhir/DocumentReference", document_reference(), ["status"], "$.status"),
        ("fhir/DocumentReference", document_reference(), ["category"], "$.category"),
        ("fhir/DocumentReference", document_reference(), ["content"], "$.content"),
        (
            "fhir/DocumentReference",
            document_reference(),
            ["content", 0, "attachment"],
            "$.content[0].attachment",
        ),
        (
            "fhir/DocumentReference",
            document_reference(),
            ["content", 0, "attachment", "contentType"],
            "$.content[0].attachment.contentType",
        ),
        (
            "fhir/DocumentReference",
            document_reference(),
            ["content", 0, "attachment", "data"],
            "$.content[0].attachment.data",
        ),
        ("fhir/OperationOutcome", operation_outcome(), ["resourceType"], "$.resourceType"),
        ("fhir/OperationOutcome", operation_outcome(), ["issue"], "$.issue"),
        (
            "fhir/OperationOutcome",
            operation_outcome(),
            ["issue", 0, "severity"],
            "$.issue[0].severity",
        ),
        ("fhir/OperationOutcome", operation_outcome(), ["issue", 0, "code"], "$.issue[0].code"),
        ("fhir/Bundle.searchset", searchset(), ["resourceType"], "$.resourceType"),
        ("fhir/Bundle.searchset", searchset(), ["type"], "$.type"),
        ("fhir/Bundle.searchset", searchset(), ["total"], "$.total"),
        ("fhir/Bundle.searchset", searchset(), ["link", 0, "relation"], "$.link[0].relation"),
        ("fhir/Bundle.searchset", searchset(), ["link", 0, "url"], "$.link[0].url"),
        (
            "fhir/Bundle.searchset",
            searchset(patient()),
            ["entry", 0, "resource"],
            "$.entry[0].resource",
        ),
        (
            "fhir/Bundle.searchset",
            searchset(patient()),
            ["entry", 0, "resource", "resourceType"],
            "$.entry[0].resource.resourceType",
        ),
        (
            "fhir/Bundle.searchset",
            searchset(document_reference()),
            ["entry", 0, "resource", "content", 0, "attachment", "data"],
            "$.entry[0].resource.content[0].attachment.data",
        ),
        (
            "fhir/Bundle.searchset",
            searchset(organization()),
            ["entry", 0, "resource", "name"],
            "$.entry[0].resource.name",
        ),
        (
            "fhir/Bundle.searchset",
            searchset(operation_outcome()),
            ["entry", 0, "resource", "issue", 0, "severity"],
            "$.entry[0].resource.issue[0].severity",
        ),
    ],
)
def test_each_required_field_missing_fails_naming_its_path(
    name: str, example: dict[str, Any], path: list[Any], expected: str
) -> None:
    violations = [str(v) for v in REGISTRY.validate(name, mutate(example, path))]
    assert f"{expected}: required field missing" in violations, violations


@pytest.mark.parametrize(
    ("name", "example", "path", "value", "expected"),
    [
        ("fhir/Organization", organization(), ["id"], "2.16.840.01", "$.id: is not an ISO OID"),
        ("fhir/Organization", organization(), ["active"], "true", "$.active: expected boolean"),
        (
            "fhir/Organization",
            organization(),
            ["identifier"],
            [],
            "$.identifier: must not be empty",
        ),
        (
            "fhir/Organization",
            organization(),
            ["resourceType"],
            "Patient",
            "$.resourceType: must be",
        ),
        ("fhir/Patient", patient(), ["birthDate"], "06/01/2008", "$.birthDate: is not a FHIR date"),
        ("fhir/Patient", patient(), ["gender"], "M", "$.gender: must be one of"),
        ("fhir/Patient", patient(), ["name", 0, "given"], "Timothy", "$.name[0].given: expected"),
        ("fhir/DocumentReference", document_reference(), ["status"], "final", "$.status: must be"),
        (
            "fhir/DocumentReference",
            document_reference(),
            ["category", 0, "coding", 0, "system"],
            "http://loinc.org",
            "$.category: has no entry of the required kind",
        ),
        (
            "fhir/DocumentReference",
            document_reference(),
            ["content", 0, "attachment", "data"],
            "<ClinicalDocument/>",
            "$.content[0].attachment.data: is not base64",
        ),
        ("fhir/DocumentReference", document_reference(), ["content"], [], "$.content: must not"),
        ("fhir/OperationOutcome", operation_outcome(), ["issue", 0, "severity"], "bad", "must be"),
        (
            "fhir/Bundle.searchset",
            searchset(),
            ["type"],
            "collection",
            "$.type: must be 'searchset'",
        ),
        ("fhir/Bundle.searchset", searchset(), ["total"], -1, "$.total: breaks the schema rule"),
        ("fhir/Bundle.searchset", searchset(), ["total"], "1", "$.total: expected integer"),
    ],
)
def test_nonconforming_resources_name_the_field(
    name: str, example: dict[str, Any], path: list[Any], value: Any, expected: str
) -> None:
    violations = [str(v) for v in REGISTRY.validate(name, mutate(example, path, value))]
    assert any(v.startswith(expected) or expected in v for v in violations), violations


def test_an_issue_needs_details_text_or_diagnostics() -> None:
    outcome = operation_outcome()
    issue = outcome["issue"][0]
    del issue["details"]["text"]
    assert REGISTRY.validate("fhir/OperationOutcome", outcome) != []
    issue["diagnostics"] = "Patient not found"
    assert REGISTRY.validate("fhir/OperationOutcome", outcome) == []


def test_a_searchset_entry_returned_in_part_is_not_held_to_the_required_fields() -> None:
    partial = {
        "resourceType": "DocumentReference",
        "id": "doc-1",
        "meta": {
            "tag": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                    "code": "SUBSETTED",
                }
            ]
        },
        "subject": {"reference": "Patient/p1"},
    }
    assert REGISTRY.validate("fhir/Bundle.searchset", searchset(partial)) == []
    del partial["meta"]
    assert REGISTRY.validate("fhir/Bundle.searchset", searchset(partial)) != []


def test_extra_fields_are_tolerated() -> None:
    for name, example in EXAMPLES:
        extended = {
            **copy.deepcopy(example),
            "meta": {"versionId": "1"},
            "somethingNewer": {"x": 1},
        }
        assert REGISTRY.validate(name, extended) == [], name


def test_violations_never_quote_the_value() -> None:
    value = "Bixby-Timothy-0000000001"
    for name, example in EXAMPLES:
        for path in places(example)[1:]:
            broken = mutate(example, list(path), value)
            text = " ".join(str(v) for v in REGISTRY.validate(name, broken))
            assert value not in text, (name, path)


def test_every_fhir_schema_has_a_fast_validator() -> None:
    assert "fhir/Organization" in FHIR_SCHEMAS and "fhir/Bundle.searchset" in FHIR_SCHEMAS
    assert [n for n in FHIR_SCHEMAS if REGISTRY.fast_validator(n) is None] == []


@pytest.mark.parametrize("value", [..., None, 1.5, "", "x y", *TRICKY_STRINGS[:3]])
def test_both_validators_agree_on_broken_resources(value: Any) -> None:
    """Each field deleted, or replaced: jsonschema-rs and jsonschema agree on validity, and the
    Violations are jsonschema's."""
    for name, example in EXAMPLES:
        fast = REGISTRY.fast_validator(name)
        assert fast is not None
        for path in places(example)[1:]:
            if isinstance(value, str) and not isinstance(lookup(example, path), str):
                continue
            broken = mutate(example, list(path), value)
            expected = jsonschema_only(REGISTRY, name, broken)
            assert REGISTRY.validate(name, broken) == expected, (name, path)
            with contextlib.suppress(ValueError):
                assert fast.is_valid(broken) == (expected == []), (name, path, value)


def test_the_second_opinion_names_the_place_and_not_the_value() -> None:
    broken = patient()
    broken["birthDate"] = "Bixby-0000000001"
    broken["nickname"] = "Timmy"
    found = invalid_by_fhir_resources(searchset(broken))
    assert any(f.startswith("$.entry[0].resource.birthDate: ") for f in found), found
    assert any(f.startswith("$.entry[0].resource.nickname: ") for f in found), found
    assert not any("Bixby" in f or "Timmy" in f for f in found), found
    assert invalid_by_fhir_resources({"resourceType": "Nonsense"}) == [
        "$.resourceType: not a FHIR R4B resource type"
    ]
    assert invalid_by_fhir_resources({}) == ["$.resourceType: missing or not a string"]


def test_where_redox_and_the_r4b_model_disagree_an_endpoint_without_address() -> None:
    """Redox's organization/create schema requires an Endpoint's status, connectionType and
    payloadType, not its address; FHIR R4(B) requires the address too. The schema follows
    Redox; what the harness sends must satisfy both."""
    endpoint_without_address = organization()
    del endpoint_without_address["contained"][0]["address"]
    assert REGISTRY.validate("fhir/Organization", endpoint_without_address) == []
    assert invalid_by_fhir_resources(endpoint_without_address) == [
        "$.contained[0].address: Value for the field 'address' is required."
    ]


def test_the_second_opinion_on_what_was_sent_reads_resources_not_forms_or_messages() -> None:
    fhir = {"content-type": "application/fhir+json"}
    broken = organization() | {"active": "maybe"}
    sent = [
        CapturedRequest(
            "POST", "/fhir/R4/ceq-orgs/Dev/Organization", fhir, json.dumps(organization()).encode()
        ),
        CapturedRequest(
            "PUT", f"/fhir/R4/ceq-orgs/Dev/Organization/{OID}", fhir, json.dumps(broken).encode()
        ),
        CapturedRequest(
            "POST",
            "/fhir/R4/ceq-xcpd:1.2/Dev/Patient/_search",
            {"content-type": "application/x-www-form-urlencoded"},
            b"given=Timothy&family=Bixby",
        ),
        CapturedRequest(
            "POST",
            "/endpoint",
            {"content-type": "application/json"},
            b'{"Meta": {"DataModel": "PatientAdmin"}}',
        ),
        CapturedRequest("GET", "/fhir/R4/ceq-orgs/Dev/Organization/1.2", {}, b""),
    ]
    assert [where for where, _ in resources_sent(sent)] == [
        "POST /fhir/R4/ceq-orgs/Dev/Organization",
        f"PUT /fhir/R4/ceq-orgs/Dev/Organization/{OID}",
    ]
    assert invalid_sent(sent) == [
        f"PUT /fhir/R4/ceq-orgs/Dev/Organization/{OID}: $.active: Input should be a valid boolean, "
        "unable to interpret input"
    ]

"""Data on demand: each documented rule fails on its own, polling is bounded, pushes are async."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed, ConfigError, InvalidMessage
from techval.core.schemas import SchemaRegistry
from techval.simulator.repository import Repository
from techval.validation import dod, rules, templates
from techval.validation.patients import load_patients, patient
from techval.validation.waiting import poll
from tests.helpers import ROOT, in_process_client, settings_for

PATIENTS = load_patients(ROOT / "fixtures/test_patients.yaml")
PERSON = patient(PATIENTS, "test patient 1")


def ids(settings: Settings) -> list[dict[str, str]]:
    return [dod.identifier(settings, PERSON)]


def visit(settings: Settings, kind: str = "summary") -> dict[str, Any]:
    return dod.visit_push(settings, PERSON, ids(settings), kind)


def broken(
    settings: Settings, message: dict[str, Any], pushed: set[str] | None = None
) -> list[str]:
    return [str(v) for v in rules.outgoing(message, "data_on_demand", settings, pushed or set())]


@pytest.mark.parametrize("kind", ["summary", "outpatient", "inpatient"])
def test_built_pushes_follow_schema_and_rules(test_settings: Settings, kind: str) -> None:
    registry = SchemaRegistry(ROOT / "schemas")
    for message in (
        dod.new_patient(test_settings, PERSON, ids(test_settings)),
        dod.patient_update(test_settings, ids(test_settings), dod.changed_contact_details(PERSON)),
        dod.patient_merge(
            test_settings, PERSON, ids(test_settings), [dod.identifier(test_settings, PERSON, "b")]
        ),
        visit(test_settings, kind),
    ):
        assert registry.validate_message(message) == []
        assert broken(test_settings, message) == []


def test_visit_push_carries_the_cda_narrative_and_a_new_document_id(
    test_settings: Settings,
) -> None:
    first, second = visit(test_settings), visit(test_settings)
    assert first["Header"]["Document"]["ID"] != second["Header"]["Document"]["ID"]
    assert first["Header"]["Document"]["ID"].startswith(test_settings.oids.document + "^")
    assert first["ProblemsText"] and first["PlanOfCareText"]


def test_duplicate_document_id_is_refused_before_sending(test_settings: Settings) -> None:
    client = in_process_client(test_settings)
    message = visit(test_settings)
    client.send(message)
    with pytest.raises(
        InvalidMessage, match=r"Header\.Document\.ID: was already pushed in this run"
    ):
        client.send(message)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda m: m["Header"]["Document"]["TypeCode"].update(Code="12345-6"),
            "$.Header.Document.TypeCode.Code: is not a document type Redox expects",
        ),
        (
            lambda m: m["Header"]["Document"]["TypeCode"].update(
                CodeSystem="2.16.840.1.113883.6.96", CodeSystemName="SNOMED"
            ),
            "$.Header.Document.TypeCode.CodeSystem: must be LOINC",
        ),
        (
            lambda m: m["Header"]["Document"]["TypeCode"].update(Code="18842-5"),
            "18842-5 (Discharge summary) does not fit an outpatient visit",
        ),
        (
            lambda m: m["Header"]["Patient"].update(Identifiers=[{"ID": "1", "IDType": "MR"}]),
            "$.Header.Patient.Identifiers: no identifier has your patient OID",
        ),
        (lambda m: m["Meta"].update(Test=False), "$.Meta.Test: must be true outside production"),
        (
            lambda m: m["Header"]["Document"].update(ID="visit-1"),
            "$.Header.Document.ID: is neither a GUID nor an ID prefixed with your document OID",
        ),
        (
            lambda m: m["Header"]["Document"].update(ID="1.2.3^visit-1"),
            "$.Header.Document.ID: the prefix is not your document OID",
        ),
        (
            lambda m: m["Header"]["Patient"]["Identifiers"].append(
                {"ID": "x", "IDType": "2.16.840.1.113883.3.6147.458.11111.1.1.2.1"}
            ),
            "$.Header.Patient.Identifiers[1].IDType: is not under your organization arc",
        ),
        (
            lambda m: m["Header"]["Patient"]["Identifiers"].append(
                {"ID": "x", "IDType": "2.16.04.1"}
            ),
            "$.Header.Patient.Identifiers[1].IDType: is not a valid OID",
        ),
        (
            lambda m: m.update(ProblemsText="x" * 41_000_000),
            "$: the message is 41.0 MB; Redox accepts at most 40 MB",
        ),
    ],
    ids=[
        "wrong-loinc",
        "not-loinc-system",
        "type-vs-visit",
        "no-patient-oid",
        "test-false",
        "document-id-format",
        "document-oid",
        "foreign-arc",
        "bad-oid",
        "41-mb",
    ],
)
def test_each_rule_fails_with_its_own_message(
    test_settings: Settings, edit: Any, expected: str
) -> None:
    message = visit(test_settings)
    edit(message)
    assert any(expected in text for text in broken(test_settings, message)), broken(
        test_settings, message
    )


def test_oversized_push_is_not_sent(test_settings: Settings) -> None:
    client = in_process_client(test_settings)
    message = visit(test_settings)
    message["ProblemsText"] = "x" * 41_000_000
    with pytest.raises(InvalidMessage, match="41.0 MB; Redox accepts at most 40 MB"):
        client.send(message)
    assert client.exchanges == []


def test_patient_admin_needs_the_patient_oid_everywhere(test_settings: Settings) -> None:
    message = dod.patient_merge(
        test_settings, PERSON, ids(test_settings), [{"ID": "old", "IDType": "MR"}]
    )
    oid = test_settings.oids.patient
    assert broken(test_settings, message) == [
        f"$.Patient.PreviousIdentifiers: no identifier has your patient OID {oid} as IDType"
    ]


def test_production_pushes_must_not_be_test(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        production=True,
        simulator=None,
        base_url="https://api.test",
        destinations={"data_on_demand": "0b8a4a55-3c3e-4f3a-9d55-1c2b3d4e5f60"},
    )
    message = dod.new_patient(settings, PERSON, [dod.identifier(settings, PERSON)])
    assert broken(settings, message) == []
    message["Meta"]["Test"] = True
    assert broken(settings, message) == ["$.Meta.Test: must not be true in production"]


def test_oids_outside_the_organization_arc_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="oids.patient: .* is not under your organization arc"):
        settings_for(
            tmp_path,
            oids={
                "patient": "2.16.840.1.113883.3.6147.458.11111.1.1.2.1",
                "document": "2.16.840.1.113883.3.6147.458.99999.1.1.3.1",
            },
        )


def test_template_without_a_value_names_the_placeholder() -> None:
    with pytest.raises(
        ConfigError, match=r"template PatientAdmin.NewPatient: no value for \{demographics\}"
    ):
        templates.render("PatientAdmin.NewPatient", {"patient_identifiers": []})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_returns_as_soon_as_found() -> None:
    clock = Clock()
    found = poll(
        lambda n: "ok" if n == 3 else None,
        what="x",
        attempts=5,
        deadline=60,
        interval=1,
        clock=clock,
        sleep=clock.sleep,
    )
    assert found == "ok" and clock.sleeps == [1, 2]


def test_poll_stops_at_the_attempt_limit() -> None:
    clock = Clock()
    with pytest.raises(CheckFailed, match=r"the document: not found after 3 attempts in 3.0 s"):
        poll(
            lambda n: None,
            what="the document",
            attempts=3,
            deadline=60,
            interval=1,
            clock=clock,
            sleep=clock.sleep,
        )


def test_poll_stops_at_the_deadline() -> None:
    clock = Clock()
    with pytest.raises(
        CheckFailed, match=r"not found after 3 attempts in 5.0 s \(limits: 50 attempts, 5 s\)"
    ):
        poll(
            lambda n: None,
            what="x",
            attempts=50,
            deadline=5,
            interval=2,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.sleeps == [2, 3]  # the last pause is cut to the deadline


def test_repository_applies_pushes_after_its_delay(test_settings: Settings) -> None:
    clock = Clock()
    repository = Repository(delay=2.0, clock=clock)
    oid = test_settings.carequality.sender.oid
    repository.serve(oid, "Clinic", test_settings.oids.patient)
    repository.new_patient(dod.new_patient(test_settings, PERSON, ids(test_settings)))
    assert repository.holding(oid, ids(test_settings)) is None
    clock.now = 2.0
    assert repository.holding(oid, ids(test_settings)) is not None


def test_repository_merge_moves_documents_and_retires_old_identifiers(
    test_settings: Settings,
) -> None:
    repository = Repository()
    oid = test_settings.carequality.sender.oid
    repository.serve(oid, "Clinic", test_settings.oids.patient)
    first, second = ids(test_settings), [dod.identifier(test_settings, PERSON, "b")]
    repository.new_patient(dod.new_patient(test_settings, PERSON, first))
    push = visit(test_settings)
    push["Header"]["Patient"]["Identifiers"] = copy.deepcopy(second)
    repository.visit_push(push)
    repository.merge(dod.patient_merge(test_settings, PERSON, first, second))
    assert repository.holding(oid, second) is None
    held = repository.holding(oid, first)
    assert held is not None and [d["id"] for d in held[1].documents] == [
        push["Header"]["Document"]["ID"]
    ]
    assert "ClinicalDocument" in repository.document_text(held[1].documents[0])


@pytest.mark.parametrize(
    ("change", "requirements", "rule"),
    [
        (
            lambda m: m["Header"]["Document"]["TypeCode"].update(Code="18842-5"),
            ("DOD-03",),
            "document_type",
        ),
        (lambda m: m["Meta"].update(Test=False), ("API-07",), "test_flag"),
        (lambda m: m["Header"]["Document"].update(ID="visit-1"), ("DOD-02",), "document_id"),
    ],
)
def test_a_refused_push_names_the_requirement_of_the_rule_it_broke(
    test_settings: Settings, change: Any, requirements: tuple[str, ...], rule: str
) -> None:
    """Not the request schema's API-06, whose check refuses it: the rule's own requirement,
    on each violation and on the refusal (the requirements table pins it there)."""
    message = visit(test_settings, "outpatient")
    change(message)
    found = rules.outgoing(message, "data_on_demand", test_settings, set())
    assert [(v.requirements, (v.check or "").rsplit(".", 1)[-1]) for v in found] == [
        (requirements, rule)
    ]
    client = in_process_client(test_settings)
    with pytest.raises(InvalidMessage) as refused:
        client.send(message)
    assert refused.value.requirements == requirements
    assert (refused.value.check or "").endswith(f"rules.{rule}")


def test_a_push_without_your_patient_oid_and_one_off_your_arc_name_each_its_requirement(
    test_settings: Settings,
) -> None:
    message = dod.new_patient(test_settings, PERSON, ids(test_settings))
    message["Patient"]["Identifiers"] = [
        {"ID": "x", "IDType": "2.16.840.1.113883.3.6147.458.11111.1.1.2.1"}
    ]
    found = rules.outgoing(message, "data_on_demand", test_settings, set())
    assert {str(v).split(":")[0]: v.requirements for v in found} == {
        "$.Patient.Identifiers": ("DOD-04",),
        "$.Patient.Identifiers[0].IDType": ("DOD-05",),
    }

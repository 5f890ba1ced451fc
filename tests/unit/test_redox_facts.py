"""Each Redox fact is written down once (techval.core.redox): the harness and the simulator read
the same value, and the one table gives the documented answers (docs/redox-facts.md)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from techval.core import redox
from techval.core.config import Settings
from techval.simulator import faults, provision
from techval.simulator.record_locator import task_status
from techval.simulator.repository import Repository
from techval.simulator.tokens import LEGACY_LIFETIME, TokenIssuer
from techval.validation import dod, messages, rules
from techval.validation.patients import load_patients, patient
from tests.helpers import ROOT

PERSON = patient(load_patients(ROOT / "fixtures/test_patients.yaml"), "test patient 1")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
END = datetime(2026, 1, 1, 15, tzinfo=UTC)


def padded(size: int) -> dict[str, Any]:
    """A message of exactly `size` bytes as JSON."""
    return {"x": "a" * (size - len(json.dumps({"x": ""}).encode()))}


def test_the_simulator_and_the_harness_refuse_above_the_same_limit(
    test_settings: Settings,
) -> None:
    assert redox.MAX_MESSAGE_BYTES == 40_000_000  # Redox: 40 MB (redox-api.md 5.8)
    assert provision(test_settings).max_message_bytes == redox.MAX_MESSAGE_BYTES
    assert rules.size(padded(redox.MAX_MESSAGE_BYTES)) == []
    assert rules.size(padded(redox.MAX_MESSAGE_BYTES + 1)) != []
    assert faults.OVERSIZE > redox.MAX_MESSAGE_BYTES  # the oversized_response fault is over it


@pytest.mark.parametrize(
    ("encounter_class", "kind"),
    [
        ("AMB", "outpatient"),
        ("EMER", "outpatient"),
        ("IMP", "inpatient"),
        ("ACUTE", "inpatient"),
        ("NONAC", "inpatient"),
        ("FLD", None),
    ],
)
def test_encounter_classes_say_the_documented_kind_of_visit(
    encounter_class: str, kind: str | None
) -> None:
    assert redox.visit_kind(encounter_class) == kind


@pytest.mark.parametrize(
    ("kind", "fitting"),
    [("outpatient", {"34133-9", "11506-3"}), ("inpatient", {"34133-9", "18842-5"})],
)
def test_document_types_fit_the_documented_visits(kind: str, fitting: set[str]) -> None:
    assert redox.VISIT_KINDS[kind].document_types == fitting
    assert set(redox.DOCUMENT_TYPES) == {"34133-9", "11506-3", "18842-5"}


@pytest.mark.parametrize(
    ("kind", "code", "encounter_class"),
    [
        ("summary", "34133-9", "AMB"),
        ("outpatient", "11506-3", "AMB"),
        ("inpatient", "18842-5", "IMP"),
    ],
)
def test_pushes_and_the_rule_read_the_one_table(
    test_settings: Settings, kind: str, code: str, encounter_class: str
) -> None:
    message = dod.visit_push(test_settings, PERSON, [dod.identifier(test_settings, PERSON)], kind)
    document, encounters = message["Header"]["Document"], message["Encounters"]
    assert document["TypeCode"]["Code"] == code
    assert document["TypeCode"]["CodeSystem"] == redox.LOINC
    assert document["TypeCode"]["Name"] == redox.DOCUMENT_TYPES[code].name
    assert document["Title"] == redox.DOCUMENT_TYPES[code].title
    assert encounters[0]["Type"]["Code"] == encounter_class
    for visit in redox.VISIT_KINDS.values():
        for other in visit.encounter_classes:
            found = rules.document_type(document, [{"Type": {"Code": other}}])
            assert (found == []) == (code in visit.document_types), (other, found)


def test_timestamps_have_one_format(test_settings: Settings) -> None:
    assert redox.timestamp(END.replace(microsecond=123_456)) == "2026-01-01T15:00:00.123Z"
    other_zone = datetime(2026, 1, 1, 16, tzinfo=timezone(timedelta(hours=1)))
    assert redox.timestamp(other_zone) == "2026-01-01T15:00:00.000Z"
    assert STAMP.match(redox.timestamp())
    assert redox.cda_time(other_zone) == "20260101150000+0000"
    ids = [dod.identifier(test_settings, PERSON)]
    message = dod.visit_push(test_settings, PERSON, ids, now=END)
    assert message["Header"]["Document"]["Visit"]["EndDateTime"] == redox.timestamp(END)
    assert STAMP.match(message["Meta"]["EventDateTime"])
    issuer = TokenIssuer(clock=lambda: END.timestamp())
    expires = json.loads(issuer._legacy_tokens("key").body)["expires"]
    assert expires == redox.timestamp(END + timedelta(seconds=LEGACY_LIFETIME))


def test_the_simulators_cda_of_a_push_follows_the_push(test_settings: Settings) -> None:
    repository = Repository()
    repository.serve(test_settings.carequality.sender.oid, "Clinic", test_settings.oids.patient)
    ids = [dod.identifier(test_settings, PERSON)]
    repository.visit_push(dod.visit_push(test_settings, PERSON, ids, "inpatient", now=END))
    held = repository.holding(test_settings.carequality.sender.oid, ids)
    assert held is not None
    root = ET.fromstring(repository.document_text(held[1].documents[0]))
    v3 = f"{{{redox.HL7_V3}}}"
    effective = root.find(f"{v3}effectiveTime")
    assert effective is not None and effective.get("value") == redox.cda_time(END)
    code = root.find(f"{v3}code")
    assert code is not None and (code.get("code"), code.get("codeSystem")) == (
        "18842-5",
        redox.LOINC,
    )
    encounter = root.find(f"{v3}componentOf/{v3}encompassingEncounter/{v3}code")
    assert encounter is not None and encounter.get("code") == "IMP"


def test_carequality_metadata_keys_are_the_documented_five(test_settings: Settings) -> None:
    extensions = messages.carequality_extensions(test_settings)
    assert tuple(extensions) == redox.CAREQUALITY_EXTENSIONS
    assert all(e["url"] == redox.EXTENSION_URL + key for key, e in extensions.items())
    assert task_status(redox.SUCCESS) == {
        "url": redox.EXTENSION_URL + redox.TASK_STATUS,
        "string": redox.SUCCESS,
    }

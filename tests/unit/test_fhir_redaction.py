"""FHIR shapes that carry a patient and must not reach the evidence (issue 18 follow-ups): a
Bundle entry's `fullUrl` (`urn:uuid:<id>`, `.../Patient/<id>`), a reference to the patient
(`subject` with its identifier and display, `sourcePatientInfo`), search parameters in link and
request URLs, values echoed in an OperationOutcome, a contained Patient's contact, texts and
identifiers; each through the path the evidence takes (client -> exchange -> HAR, Allure
attachment, reproduction script) and the leak scan, which must find any of them unmasked.

The patient here is not one of the test patients: the redactor cannot know her values
beforehand, and learns them where it masks them by their place."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import allure
import httpx
import pytest

from techval.core.exchange import Exchange
from techval.core.redaction import PATIENT_MASK, Redactor, shape
from techval.core.reporting import Reporter
from techval.core.schemas import SchemaRegistry
from techval.harness.evidence import har, leaks, reproduce
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.harness.run import redactor_for
from tests.helpers import RecordingClient, applied, settings_for

BASE = "http://redox.test"
XCPD = "/fhir/R4/ceq-xcpd:2.16.840.1.113883.3.9999.7/Development"
XCA = "/fhir/R4/ceq-xca:2.16.840.1.113883.3.9999.7/Development"
PATIENT_ID = "5b0e7c1a-93d4-4f6e-8a2b-6c1d0e9f4a37"
MRN = "ZQ-55021"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.7.2"
CDA = "urn:redox:document_kind|CDA"
PAGE = "0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"
# Her identifying values: none may reach the evidence in any spelling.
IDENTIFYING = [
    PATIENT_ID,
    MRN,
    "Margarethe",
    "Quist",
    "1977-03-14",
    "+16175550143",
    "mquist@mail.test",
    "88 Larkspur Lane",
    "Ingeborg",
    "+16175550177",
]


def patient(**changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"use": "usual", "system": MRN_SYSTEM, "value": MRN}],
        "name": [
            {
                "use": "official",
                "family": "Quist",
                "given": ["Margarethe"],
                "text": "Margarethe Quist",
            }
        ],
        "telecom": [
            {"system": "phone", "value": "+16175550143", "use": "home"},
            {"system": "email", "value": "mquist@mail.test"},
        ],
        "gender": "female",
        "birthDate": "1977-03-14",
        "address": [
            {
                "use": "home",
                "line": ["88 Larkspur Lane"],
                "city": "Pemberton",
                "postalCode": "08068",
                "text": "88 Larkspur Lane, Pemberton NJ 08068",
            }
        ],
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                "code": "N",
                            }
                        ]
                    }
                ],
                "name": {"text": "Ingeborg Quist"},
                "telecom": [{"system": "phone", "value": "+16175550177"}],
            }
        ],
        **changes,
    }


def patients_found() -> dict[str, Any]:
    """A Patient searchset: her entry by `urn:uuid:`, a self link repeating the search, a
    page link, and an outcome echoing her id, MRN and name."""
    echo = f"matched {PATIENT_ID} (MRN {MRN}) for Margarethe Quist, born 03/14/1977"
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [
            {
                "relation": "self",
                "url": f"{BASE}{XCPD}/Patient?given=Margarethe&family=Quist"
                f"&birthdate=1977-03-14&identifier={MRN_SYSTEM}%7C{MRN}&_count=10",
            },
            {"relation": "next", "url": f"{BASE}{XCPD}/page/Patient/search/{PAGE}.next"},
        ],
        "entry": [
            {
                "fullUrl": f"urn:uuid:{PATIENT_ID}",
                "resource": patient(),
                "search": {"mode": "match"},
            },
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "information", "code": "informational", "diagnostics": echo}
                    ],
                },
                "search": {"mode": "outcome"},
            },
        ],
    }


def document() -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": "doc-1",
        "status": "current",
        "contained": [patient(id="p1")],
        "subject": {
            "reference": f"urn:uuid:{PATIENT_ID}",
            "type": "Patient",
            "identifier": {"system": MRN_SYSTEM, "value": MRN},
            "display": "Margarethe Quist",
        },
        "author": [{"reference": "Organization/2.16.840.1.113883.3.9999.7"}],
        "context": {"sourcePatientInfo": {"reference": f"Patient/{PATIENT_ID}"}},
        "content": [
            {
                "attachment": {
                    "contentType": "text/xml",
                    "data": base64.b64encode(
                        b"<ClinicalDocument>Quist</ClinicalDocument>"
                    ).decode(),
                }
            }
        ],
    }


def documents_found() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [
            {
                "relation": "self",
                "url": f"{BASE}{XCA}/DocumentReference?patient={PATIENT_ID}&category={CDA}",
            }
        ],
        "entry": [{"fullUrl": f"{BASE}{XCA}/DocumentReference/doc-1", "resource": document()}],
    }


NOT_FOUND = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "not-found",
            "details": {"text": f"No patient with identifier {MRN} at this organization"},
            "diagnostics": f"Patient/{PATIENT_ID} not found (Quist, Margarethe)",
        }
    ],
}


def answer(request: httpx.Request) -> httpx.Response:
    """Redox as this test plays it: a token, then the answers above by path."""
    path = request.url.path
    if path.endswith("/auth/token"):
        return httpx.Response(200, json={"access_token": "tok-" + "a" * 40, "expires_in": 300})
    fhir = {"Content-Type": "application/fhir+json"}
    if path.endswith("/Patient/_search"):
        return httpx.Response(200, json=patients_found(), headers=fhir)
    if path.endswith("/DocumentReference"):
        return httpx.Response(200, json=documents_found(), headers=fhir)
    located = {**fhir, "Content-Location": f"{BASE}{XCPD}/Patient/{PATIENT_ID}/_history/2"}
    return httpx.Response(404, json=NOT_FOUND, headers=located)


def raw_values(text: str) -> list[str]:
    """Her identifying values `text` holds, as they are (case aside)."""
    folded = text.casefold()
    return [value for value in IDENTIFYING if value.casefold() in folded]


# -- the redactor, one shape at a time ---------------------------------------------------------


def fresh() -> Redactor:
    return Redactor(["client-secret-value-1"])


def test_a_patient_entry_keeps_only_the_scheme_of_its_urn_fullurl() -> None:
    masked = fresh().data(patients_found())
    assert isinstance(masked, dict)
    entry = masked["entry"][0]
    assert entry["fullUrl"] == f"urn:uuid:{shape(PATIENT_ID)}"
    assert entry["resource"]["id"] == shape(PATIENT_ID)
    by_url = fresh().data({"fullUrl": f"{BASE}/Patient/{PATIENT_ID}", "resource": patient()})
    assert isinstance(by_url, dict) and by_url["fullUrl"] == f"{BASE}/Patient/{shape(PATIENT_ID)}"


def test_a_reference_to_the_patient_masks_its_id_identifier_and_display() -> None:
    masked = fresh().data(document())
    assert isinstance(masked, dict)
    assert masked["subject"] == {
        "reference": f"urn:uuid:{shape(PATIENT_ID)}",
        "type": "Patient",
        "identifier": {"system": MRN_SYSTEM, "value": "XX-99999"},
        "display": "Xxxxxxxxxx Xxxxx",
    }
    assert masked["context"] == {"sourcePatientInfo": {"reference": f"Patient/{shape(PATIENT_ID)}"}}
    assert masked["author"] == document()["author"]  # an organization is no patient


def test_a_contained_patient_is_masked_to_its_contact_texts_and_identifiers() -> None:
    masked = fresh().data(document())
    assert isinstance(masked, dict)
    (contained,) = masked["contained"]
    assert contained["name"][0]["text"] == "Xxxxxxxxxx Xxxxx"
    assert contained["address"][0]["text"] == "99 Xxxxxxxx Xxxx, Xxxxxxxxx XX 99999"
    assert contained["identifier"] == [{"use": "usual", "system": MRN_SYSTEM, "value": "XX-99999"}]
    assert contained["telecom"][1] == {"system": "email", "value": "xxxxxx@xxxx.xxxx"}
    (contact,) = contained["contact"]
    assert contact["name"] == {"text": "Xxxxxxxx Xxxxx"}
    assert contact["telecom"] == [{"system": "phone", "value": "+99999999999"}]
    assert contact["relationship"] == patient()["contact"][0]["relationship"]  # a code


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            f"{XCA}/DocumentReference?patient={PATIENT_ID}&category={CDA}",
            f"{XCA}/DocumentReference?patient={shape(PATIENT_ID)}&category={CDA}",
        ),
        (
            f"{XCPD}/Patient?given:exact=Margarethe&family=Quist&identifier={MRN_SYSTEM}%7C{MRN}"
            "&_count=10",
            f"{XCPD}/Patient?given:exact=Xxxxxxxxxx&family=Xxxxx"
            f"&identifier={MRN_SYSTEM}|XX-99999&_count=10",
        ),
        (f"{XCPD}/Patient?_id={PATIENT_ID}", f"{XCPD}/Patient?_id={shape(PATIENT_ID)}"),
        (f"{XCA}/DocumentReference?_id=doc-1", f"{XCA}/DocumentReference?_id=doc-1"),
        (
            f"{XCPD}/Patient/{PATIENT_ID}/_history/2",
            f"{XCPD}/Patient/{shape(PATIENT_ID)}/_history/2",
        ),
        # searches, operations and Redox's page links (9.1) name no patient
        (f"{XCPD}/Patient/_search", f"{XCPD}/Patient/_search"),
        (f"{XCPD}/Patient/$match", f"{XCPD}/Patient/$match"),
        (f"{XCPD}/page/Patient/search/{PAGE}.next", f"{XCPD}/page/Patient/search/{PAGE}.next"),
    ],
)
def test_a_url_masks_a_patient_id_and_the_patient_parameters_of_its_query(
    url: str, masked: str
) -> None:
    assert fresh().url(url) == masked
    linked = fresh().data({"link": [{"relation": "self", "url": url}]})
    assert linked == {"link": [{"relation": "self", "url": masked}]}
    assert fresh().url(masked) == masked  # masked already: left as it is


def test_values_masked_by_their_place_are_masked_where_an_answer_echoes_them() -> None:
    redactor = fresh()
    masked = redactor.data(patients_found())
    assert isinstance(masked, dict)
    (issue,) = masked["entry"][1]["resource"]["issue"]
    echoed = issue["diagnostics"]
    assert raw_values(echoed) == [], echoed
    assert echoed.count(PATIENT_MASK) == 5  # id, MRN, both names, the birth date
    # from then on, in any text: a failure message, another answer, a header
    message = redactor.text(f"DocumentReference search for {PATIENT_ID}: Quist has none")
    assert message == f"DocumentReference search for {PATIENT_MASK}: {PATIENT_MASK} has none"
    assert redactor.data(NOT_FOUND) == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "not-found",
                "details": {
                    "text": f"No patient with identifier {PATIENT_MASK} at this organization"
                },
                "diagnostics": f"Patient/{PATIENT_MASK} not found ({PATIENT_MASK}, {PATIENT_MASK})",
            }
        ],
    }
    location = redactor.headers([("Location", f"{BASE}{XCPD}/Patient/{PATIENT_ID}")])
    assert location == {"Location": f"{BASE}{XCPD}/Patient/{shape(PATIENT_ID)}"}


def test_a_search_teaches_its_patient_values_but_not_the_zip_searched_near() -> None:
    redactor = fresh()
    redactor.form({"given": ["Margarethe"], "address-postalcode": ["08068"]}, "Organization")
    assert redactor.text("Margarethe near 08068") == f"{PATIENT_MASK} near 08068"


def test_masking_again_changes_nothing_and_teaches_nothing() -> None:
    redactor = fresh()
    for body in (patients_found(), documents_found(), NOT_FOUND):
        once = redactor.data(body)
        learned = redactor.learned
        assert redactor.data(once) == once
        assert redactor.learned == learned


def test_at_most_max_learned_values_are_learned(monkeypatch: pytest.MonkeyPatch) -> None:
    from techval.core import redaction  # here: the module's limit is patched

    monkeypatch.setattr(redaction, "MAX_LEARNED", 2)
    redactor = fresh()
    redactor.form({"given": ["Margarethe"], "family": ["Quist"], "birthdate": ["1977-03-14"]})
    assert redactor.learned == 2
    assert redactor.text("born 1977-03-14") == "born 1977-03-14"  # past the limit


def test_showing_patient_data_learns_nothing_and_masks_no_url() -> None:
    shown = Redactor(mask_patient_data=False)
    assert shown.data(patients_found()) == patients_found()
    assert shown.url(f"{XCPD}/Patient/{PATIENT_ID}") == f"{XCPD}/Patient/{PATIENT_ID}"
    assert shown.learned == 0


# -- through the evidence: client, HAR, Allure attachment, reproduction scripts, leak scan ------


def evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Redactor]:
    """The three exchanges of a failed scenario sent through the harness's client to a Redox
    played by `answer`, written as the run writes them: each exchange's HAR entry as it is
    recorded, its Allure attachment, exchanges.har and reproduce/. Returns the reports folder
    and the run's redactor (it knows the test patients, not her)."""
    settings = settings_for(tmp_path).with_base_url(BASE)
    redactor = redactor_for(settings)
    reports = tmp_path / "reports"
    (reports / "allure-results").mkdir(parents=True)

    def attach(body: str, name: str, attachment_type: Any) -> None:
        count = len(list((reports / "allure-results").iterdir()))
        (reports / "allure-results" / f"{count}-attachment.json").write_text(body)

    monkeypatch.setattr(allure, "attach", attach)  # what Reporter.exchange calls
    reporter = Reporter(redactor)
    reporter.active = True
    entries: list[tuple[str | None, dict[str, Any]]] = []
    scenario = "steps/test_validation.py::test_retrieve"

    def record(exchange: Exchange) -> None:  # as run.py records an exchange, then attaches it
        entries.append(
            (None if exchange.label == "token" else scenario, har.entry(exchange, redactor))
        )
        reporter.exchange(exchange)

    client = RecordingClient(
        settings, SchemaRegistry(), redactor, transport=httpx.MockTransport(answer)
    )
    client.hooks.append(record)
    form = {"given": ["Margarethe"], "family": ["Quist"], "birthdate": ["1977-03-14"]}
    client.request("Patient search", "POST", f"{XCPD}/Patient/_search", form=form)
    client.request(
        "DocumentReference search",
        "GET",
        f"{XCA}/DocumentReference?patient={PATIENT_ID}&category={CDA}",
    )
    client.request("Patient read", "GET", f"{XCPD}/Patient/{PATIENT_ID}")
    client.close()
    outcome = ScenarioOutcome(scenario, "Retrieve", "feature", "document_query", status="failed")
    found = Assembled(outcomes=[outcome], entries=entries, environment={"base_url": BASE})
    (reports / "exchanges.har").write_text(json.dumps(har.archive([outcome], entries)))
    applied(reproduce.REPRODUCTION, {}, found, reports)
    return reports, redactor


def every_file(reports: Path) -> dict[str, str]:
    return {
        p.relative_to(reports).as_posix(): p.read_text()
        for p in sorted(reports.rglob("*"))
        if p.is_file()
    }


def test_no_value_of_hers_reaches_the_evidence_and_the_scan_finds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports, run_redactor = evidence(tmp_path, monkeypatch)
    files = every_file(reports)
    assert {"exchanges.har", "reproduce/01-retrieve-2-documentreference-search.sh"} <= set(files)
    assert len([name for name in files if name.startswith("allure-results/")]) == 4
    assert {name: raw_values(text) for name, text in files.items() if raw_values(text)} == {}
    script = files["reproduce/01-retrieve-2-documentreference-search.sh"]
    assert f"DocumentReference?patient={shape(PATIENT_ID)}&category=" in script
    # the scan as `techval bundle` runs it: the test patients and the shapes of the places
    assert leaks.scan(reports, redactor_for(settings_for(tmp_path))) == []
    # and with her values known, in every spelling the redactor masks (03/14/1977, ...)
    assert leaks.scan(reports, Redactor(patient_values=IDENTIFYING)) == []
    assert run_redactor.learned >= len(IDENTIFYING)


@pytest.mark.parametrize(
    ("planted", "body"),
    [
        ("a searchset with her urn:uuid entry", patients_found()),
        ("a reference to her", {"resourceType": "X", "subject": document()["subject"]}),
        ("a self link repeating her search", {"link": patients_found()["link"]}),
        ("a contained Patient", {"resourceType": "X", "contained": [patient(id="p1")]}),
        (
            "a recorded form",
            {"url": f"{BASE}{XCPD}/Patient/_search", "form": {"family": ["Quist"]}},
        ),
    ],
)
def test_the_leak_scan_finds_her_values_left_unmasked_in_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str, body: dict[str, Any]
) -> None:
    reports, _ = evidence(tmp_path, monkeypatch)
    bundle_redactor = redactor_for(settings_for(tmp_path))  # as `techval bundle` builds it
    har_file = reports / "exchanges.har"
    archive = json.loads(har_file.read_text())
    archive["log"]["entries"][1]["response"]["content"]["text"] = json.dumps(body)
    har_file.write_text(json.dumps(archive))
    assert [str(leak) for leak in leaks.scan(reports, bundle_redactor)] == [
        f"exchanges.har: contains a {leaks.UNMASKED}"
    ], planted


def test_the_leak_scan_finds_a_search_parameter_of_hers_in_the_har(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports, _ = evidence(tmp_path, monkeypatch)
    har_file = reports / "exchanges.har"
    text = har_file.read_text()
    for swap in ('"value": "Xxxxx"', f'"value": "{shape(PATIENT_ID)}"'):
        unmasked = swap.replace("Xxxxx", "Quist").replace(shape(PATIENT_ID), PATIENT_ID)
        assert swap in text
        har_file.write_text(text.replace(swap, unmasked, 1))  # a form's, a query's parameter
        assert [
            str(leak) for leak in leaks.scan(reports, redactor_for(settings_for(tmp_path)))
        ] == [f"exchanges.har: contains a {leaks.UNMASKED}"], swap


def test_an_echo_of_a_learned_value_is_found_by_the_redactor_that_learned_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports, run_redactor = evidence(tmp_path, monkeypatch)
    (reports / "notes.txt").write_text(f"the organization answered MRN {MRN}")
    assert [str(leak) for leak in leaks.scan(reports, run_redactor)] == [
        "notes.txt: contains a test patient's identifying value"
    ]


def test_the_leak_scan_reads_each_line_of_the_events(tmp_path: Path) -> None:
    masking = fresh()
    masked = json.dumps({"event": "exchange", "entry": masking.data(patients_found())})
    unmasked = json.dumps({"event": "exchange", "entry": patients_found()})
    (tmp_path / "main.jsonl").write_text(f"{masked}\n{masked}\n")
    assert leaks.scan(tmp_path, fresh()) == []
    (tmp_path / "main.jsonl").write_text(f"{masked}\n{unmasked}\n")
    assert [str(leak) for leak in leaks.scan(tmp_path, fresh())] == [
        f"main.jsonl: contains a {leaks.UNMASKED}"
    ]

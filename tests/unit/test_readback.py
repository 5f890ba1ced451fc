"""The one read-back comparison: Redox's tolerance (nulls, order, added fields), paths and kinds
without values; and every read-back that uses it, fed nonconforming answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from techval.core.config import Settings
from techval.core.errors import CheckFailed
from techval.core.reporting import Reporter
from techval.simulator import provision
from techval.simulator.faults import edit_body, named, on_events
from techval.validation import checks, dod, organization
from techval.validation import directory as lifecycle
from techval.validation.organization import DataModelDirectory
from techval.validation.patients import load_patients, patient
from techval.validation.readback import Difference, describe, differences, matching
from techval.validation.waiting import Miss, poll
from tests.helpers import ORGANIZATION, ROOT, in_process_client, settings_for

PATIENTS = load_patients(ROOT / "fixtures/test_patients.yaml")
BARBARA = patient(PATIENTS, "test patient 2")
MOBILE = "+16085550199"
SENT = {
    "Identifiers": [{"ID": "techval-2", "IDType": "1.2.3.2"}, {"ID": "0002", "IDType": "MR"}],
    "Demographics": {"PhoneNumber": {"Home": "+18088675303", "Mobile": MOBILE}},
}


def test_explicit_nulls_and_empties_equal_absent() -> None:
    sent: dict[str, Any] = {
        "PhoneNumber": {"Home": "+18088675303"},
        "EmailAddresses": [],
        "MiddleName": None,
    }
    answered = {
        "PhoneNumber": {"Home": "+18088675303", "Office": None, "Mobile": None},
        "EmailAddresses": None,
        "MiddleName": "",
    }
    assert differences(sent, answered) == []
    assert differences({"Type": {"System": None, "Value": ""}}, {}) == []


def test_order_and_added_fields_do_not_matter() -> None:
    answered = {
        "Demographics": {"PhoneNumber": {"Mobile": MOBILE, "Home": "+18088675303"}, "Sex": "F"},
        "Identifiers": [
            {"ID": "x", "IDType": "EHRID"},
            {"IDType": "MR", "ID": "0002", "Type": None},
            {"ID": "techval-2", "IDType": "1.2.3.2"},
        ],
        "Notes": [],
    }
    assert differences(SENT, answered) == []


def test_unordered_lists_pair_each_sent_entry_with_a_distinct_answer() -> None:
    sent = [{"ID": "1"}, {"ID": "1", "IDType": "A"}]
    # a first-fit pairing would give the second answer to the first entry and fail the second
    answered = [{"ID": "1", "IDType": "A"}, {"ID": "1", "IDType": "B"}]
    assert matching(sent, answered) == {0: 1, 1: 0}
    assert differences(sent, answered) == []
    assert differences(["a", "a"], ["a"]) == [Difference("[sent 1]", "missing")]


def test_a_wrong_mobile_number_is_named_without_its_value() -> None:
    answered = {
        "Identifiers": SENT["Identifiers"],
        "Demographics": {"PhoneNumber": {"Home": "+18088675303", "Mobile": "+16085550100"}},
    }
    found = differences(SENT, answered)
    assert found == [Difference("Demographics.PhoneNumber.Mobile", "different")]
    text = describe(found)
    assert text == "Demographics.PhoneNumber.Mobile differs"
    assert MOBILE not in text and "+16085550100" not in text


def test_a_field_the_answer_lacks_is_missing() -> None:
    answered = {"Identifiers": SENT["Identifiers"], "Demographics": {"PhoneNumber": {}}}
    assert describe(differences(SENT, answered)) == (
        "Demographics.PhoneNumber.Home is missing; Demographics.PhoneNumber.Mobile is missing"
    )
    assert differences({"Active": False}, {}, "Organizations[]") == [
        Difference("Organizations[].Active", "missing")
    ]


def test_another_type_of_value_is_unexpected() -> None:
    found = differences({"PhoneNumber": {"Home": "+18088675303"}}, {"PhoneNumber": "+18088675303"})
    assert found == [
        Difference("PhoneNumber", "unexpected", "sent an object, the answer has a string")
    ]
    assert differences({"Active": True}, {"Active": "true"})[0].kind == "unexpected"


def test_strings_are_exact_and_unpaired_entries_name_the_nearest_difference() -> None:
    assert differences({"State": "WI"}, {"State": "wi"}) == [Difference("State", "different")]
    assert differences({"Name": "Pat"}, {"Name": "Pat "}) == [Difference("Name", "different")]
    sent = {
        "Contacts": [{"Name": "Pat", "Purpose": "Technical"}, {"Name": "Sam", "Purpose": "Admin"}]
    }
    answered = {
        "Contacts": [{"Name": "Sam", "Purpose": "Other"}, {"Name": "Pat", "Purpose": "Technical"}]
    }
    assert describe(differences(sent, answered, "Organizations[]")) == (
        "Organizations[].Contacts[sent 1].Purpose differs"
    )
    assert describe(differences(sent, {"Contacts": answered["Contacts"][1:]})) == (
        "Contacts[sent 1] is missing"
    )


def test_many_differences_are_cut_short() -> None:
    sent = {f"F{i}": "x" for i in range(12)}
    assert describe(differences(sent, {})).endswith("F9 is missing; and 2 more")


# -- polling: found but different is not "not found" ---------------------------------------------


def quick_poll(probe: Any) -> Any:
    return poll(probe, what="the thing", attempts=3, deadline=60, interval=0, sleep=lambda _: None)


def test_poll_names_the_last_near_miss() -> None:
    with pytest.raises(
        CheckFailed, match=r"the thing: found on every attempt \(3\), but B differs"
    ):
        quick_poll(lambda n: Miss("A differs" if n < 3 else "B differs"))
    with pytest.raises(CheckFailed, match=r"the thing: found on 2 of 3 attempts, but A differs"):
        quick_poll(lambda n: None if n == 1 else Miss("A differs"))
    with pytest.raises(CheckFailed, match=r"the thing: not found after 3 attempts"):
        quick_poll(lambda n: None)
    assert quick_poll(lambda n: Miss("A differs") if n < 3 else "ok") == "ok"


# -- the read-backs, against the simulator in-process -------------------------------------------


def explicit_nulls(body: dict[str, Any]) -> None:
    """Answer as Redox does: empty fields as nulls, lists in another order."""
    match = body.get("Patient") or {}
    phone = (match.get("Demographics") or {}).get("PhoneNumber")
    if phone is not None:
        phone.update({key: phone.get(key) for key in ("Home", "Office", "Mobile")})
    for record in body.get("Organizations") or []:
        by_name = sorted(record.get("Contacts") or [], key=lambda c: str(c.get("Name")))
        record["Contacts"] = list(reversed(by_name))  # Sam before Pat: not the order sent
        record["Endpoints"] = None
        for contact in record["Contacts"]:
            contact["PhoneNumber"] = {"Home": None, "Office": None, "Mobile": None}


class Repository:
    """The user's repository in a simulator, with a Finder searching it."""

    def __init__(self, tmp_path: Path, *faults: Any) -> None:
        self.settings = settings_for(tmp_path)
        simulator = provision(self.settings)
        simulator.faults.extend(faults)
        self.client = in_process_client(self.settings, simulator)
        self.finder = dod.Finder(self.client, self.settings, Reporter(self.client.redactor))
        self.ids = [dod.identifier(self.settings, BARBARA)]

    def push(self, message: dict[str, Any]) -> None:
        checks.succeeded(self.client.send(message))

    def updated(self) -> dict[str, Any]:
        self.push(dod.new_patient(self.settings, BARBARA, self.ids))
        self.finder.patient(BARBARA, self.ids)
        demographics = dod.changed_contact_details(BARBARA)
        self.push(dod.patient_update(self.settings, self.ids, demographics))
        return demographics


def test_updated_contact_details_are_found_when_answered_with_explicit_nulls(
    tmp_path: Path,
) -> None:
    nulls = on_events({("PatientSearch", "Query")}, edit_body(explicit_nulls))
    repository = Repository(tmp_path, nulls)
    demographics = repository.updated()
    match = repository.finder.patient(
        BARBARA, repository.ids, expect=dod.contact_details(demographics)
    )
    assert match["Demographics"]["PhoneNumber"]["Office"] is None


def test_an_ignored_update_is_found_but_different_naming_the_field(tmp_path: Path) -> None:
    repository = Repository(tmp_path, named("ignores_patient_updates"))
    demographics = repository.updated()
    with pytest.raises(CheckFailed) as failure:
        repository.finder.patient(BARBARA, repository.ids, expect=dod.contact_details(demographics))
    message = str(failure.value)
    assert message.startswith(
        "'test patient 2' in your organization Harness Test Clinic: found on every attempt (4), "
        "but Demographics.PhoneNumber.Mobile differs (after "
    )
    assert demographics["PhoneNumber"]["Mobile"] not in message
    assert BARBARA.demographics["PhoneNumber"]["Mobile"] not in message


def test_a_patient_who_never_shows_up_is_not_found(tmp_path: Path) -> None:
    repository = Repository(tmp_path, named("drops_pushes"))
    repository.push(dod.new_patient(repository.settings, BARBARA, repository.ids))
    with pytest.raises(
        CheckFailed, match=r"'test patient 2' in your organization .*: not found after 4 attempts"
    ):
        repository.finder.patient(BARBARA, repository.ids, expect={"Identifiers": repository.ids})


def test_the_surviving_record_of_a_merge_is_read_back(tmp_path: Path) -> None:
    repository = Repository(tmp_path)
    first, second = repository.ids, [dod.identifier(repository.settings, BARBARA, "b")]
    for ids in (first, second):
        repository.push(dod.new_patient(repository.settings, BARBARA, ids))
    merge = dod.patient_merge(repository.settings, BARBARA, first, second)
    merge["Patient"]["Demographics"]["FirstName"] = "Barb"  # the merged record's demographics
    merged = merge["Patient"]["Demographics"]
    repository.push(merge)
    repository.finder.gone(BARBARA, second)
    repository.finder.patient(BARBARA, first, expect={"Identifiers": first, "Demographics": merged})
    with pytest.raises(
        CheckFailed, match=r"found on every attempt \(4\), but Identifiers\[sent 0\]"
    ):
        repository.finder.patient(BARBARA, first, expect={"Identifiers": second})


def other_type(body: dict[str, Any]) -> None:
    for document in body.get("Documents") or []:
        document["Type"]["Code"] = "11506-3"
        document["Title"] = None  # a list that leaves the title out is fine


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(None, None), (other_type, r"found, but Documents\[\]\.Type\.Code differs$")],
)
def test_the_pushed_document_is_listed_as_sent(
    tmp_path: Path, edit: Any, expected: str | None
) -> None:
    faults = [on_events({("Clinical Summary", "DocumentQuery")}, edit_body(edit))] if edit else []
    repository = Repository(tmp_path, *faults)
    visit = dod.visit_push(repository.settings, BARBARA, repository.ids)
    repository.push(visit)
    repository.finder.patient(BARBARA, repository.ids)  # the list answers 404 until then
    sent = visit["Header"]["Document"]
    if expected is None:
        assert repository.finder.document(repository.ids, sent)["ID"] == sent["ID"]
        return
    with pytest.raises(CheckFailed, match=rf"the pushed document .*: {expected}"):
        repository.finder.document(repository.ids, sent)


def directory(tmp_path: Path, *faults: Any) -> tuple[Settings, Any]:
    contacts = [
        {"purpose": "Technical", "name": "Pat Tester", "emails": ["pat@test.example"]},
        {"purpose": "Administrative", "name": "Sam Admin", "emails": ["sam@test.example"]},
    ]
    settings = settings_for(tmp_path, organization=[dict(ORGANIZATION, contacts=contacts)])
    simulator = provision(settings)
    simulator.faults.extend(faults)
    return settings, in_process_client(settings, simulator)


def test_the_directory_record_reads_back_with_nulls_and_another_order(tmp_path: Path) -> None:
    nulls = on_events({("Organization", "Query")}, edit_body(explicit_nulls))
    settings, client = directory(tmp_path, nulls)
    profile, api = settings.organizations[0], DataModelDirectory(settings)
    checks.succeeded(lifecycle.create_or_adopt(api, client, profile).final)
    (found,) = lifecycle.read_back(api, client, profile)
    assert found["Contacts"][0]["Name"] == "Sam Admin"
    lifecycle.expect_record(api, [found], profile, active=True)


def test_an_ignored_directory_update_names_the_fields_without_values(tmp_path: Path) -> None:
    settings, client = directory(tmp_path, named("ignores_updates"))
    profile, api = settings.organizations[0], DataModelDirectory(settings)
    checks.succeeded(lifecycle.create_or_adopt(api, client, profile).final)
    lifecycle.update(api, client, profile, active=False)
    found = lifecycle.read_back(api, client, profile)
    with pytest.raises(CheckFailed) as failure:
        lifecycle.expect_record(api, found, profile, active=False)
    assert str(failure.value) == (
        f"the directory does not reflect the record for {profile.oid}: "
        "Organizations[].Active differs"
    )
    changed = organization.updated(profile)
    with pytest.raises(CheckFailed) as failure:
        lifecycle.expect_record(api, found, changed, active=True)
    message = str(failure.value)
    assert "Organizations[].Address.StreetAddress differs" in message
    assert str(changed.address.street) not in message


def test_a_deeply_nested_answer_is_compared_without_recursing_into_it() -> None:
    deep: dict[str, Any] = {"Leaf": "x"}
    for _ in range(100_000):
        deep = {"Nested": deep}
    answered = {"Extra": deep, "Demographics": {"PhoneNumber": {"Mobile": MOBILE}}}
    assert differences({"Demographics": {"PhoneNumber": {"Mobile": MOBILE}}}, answered) == []
    assert differences({"Extra": {"Nested": "x"}}, {"Extra": deep}) == [
        Difference("Extra.Nested", "unexpected", "sent a string, the answer has an object")
    ]

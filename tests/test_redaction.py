"""Masking of secrets and patient data: what is masked, what stays readable, and the setting
that shows test patients' data in the simulator and dev environments only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from techval.core.errors import ConfigError
from techval.core.redaction import MASK, PATIENT_MASK, SHORT_TEXT, Redactor, patient_values, shape
from tests.helpers import settings_for

PATIENT = {
    "Demographics": {
        "FirstName": "Timothy",
        "LastName": "Bixby",
        "DOB": "2008-01-06",
        "Sex": "Male",
        "Address": {"StreetAddress": "4762 Hickory Street", "City": "Monroe", "Country": "US"},
        "PhoneNumber": {"Home": "+18088675301"},
    },
    "Identifiers": [{"ID": "0000000001", "IDType": "MR"}],
}


def redactor(**kwargs: Any) -> Redactor:
    return Redactor(["client-secret-value-1"], patient_values([PATIENT]), **kwargs)


def test_patient_json_is_masked_by_shape_and_codes_stay_readable() -> None:
    message = {
        "Meta": {"DataModel": "PatientSearch", "FacilityCode": "2.16.840.1"},
        "Patient": PATIENT,
        "Organization": {"Name": "Clinic", "Identifiers": [{"ID": "1.2.3", "IDType": "OID"}]},
    }
    masked = redactor().data(message)
    assert isinstance(masked, dict)
    demographics = masked["Patient"]["Demographics"]
    assert demographics["FirstName"] == "Xxxxxxx" and demographics["DOB"] == "9999-99-99"
    assert demographics["Address"] == {
        "StreetAddress": "9999 Xxxxxxx Xxxxxx",
        "City": "Xxxxxx",
        "Country": "US",
    }
    assert demographics["PhoneNumber"] == {"Home": "+99999999999"} and demographics["Sex"] == "Male"
    assert masked["Patient"]["Identifiers"] == [{"ID": "9999999999", "IDType": "MR"}]
    assert masked["Meta"] == message["Meta"] and masked["Organization"] == message["Organization"]


def test_document_bodies_are_replaced_by_their_size() -> None:
    masked = redactor().data({"Document": {"ID": "d1"}, "Data": "<ClinicalDocument>Timothy"})
    assert masked == {"Document": {"ID": "d1"}, "Data": "[document body masked: 25 characters]"}


def test_known_patient_values_are_masked_in_free_text_as_whole_words() -> None:
    text = "no match for Timothy Bixby born 20080106 (MRN 0000000001), 10000000001 is not him"
    assert redactor().text(text) == (
        f"no match for {PATIENT_MASK} {PATIENT_MASK} born {PATIENT_MASK} (MRN {PATIENT_MASK}), "
        "10000000001 is not him"
    )
    assert redactor().text("8088675301 called") == f"{PATIENT_MASK} called"


def test_secrets_and_token_shapes_are_always_masked() -> None:
    masking_off = redactor(mask_patient_data=False)
    text = "secret client-secret-value-1, Bearer abc.def-ghi, eyJhbGciOi.eyJzdWIiOi.c2ln Timothy"
    assert masking_off.text(text) == f"secret {MASK}, Bearer {MASK}, {MASK} Timothy"
    assert masking_off.data({"access_token": "x", "Patient": PATIENT}) == {
        "access_token": MASK,
        "Patient": PATIENT,
    }


def test_shape_keeps_the_format_only() -> None:
    assert shape("O'Brien-Smith 12/3") == "X'Xxxxx-Xxxxx 99/9"


def test_patient_values_skip_codes_and_short_values() -> None:
    values = set(patient_values([PATIENT]))
    assert {"Timothy", "Bixby", "2008-01-06", "20080106", "0000000001", "8088675301"} <= values
    assert not values & {"Male", "MR", "US", "Monroe"}
    short = Redactor(patient_values=["Al", "Bo"])
    assert short.text("Al and Bo") == "Al and Bo"


@pytest.mark.parametrize("name", ["staging", "production-like", "dev"])
def test_showing_patient_data_is_refused_outside_simulator_and_dev(
    tmp_path: Path, name: str
) -> None:
    changes = {
        "name": name,
        "simulator": None,
        "base_url": "https://api.redoxengine.com",
        "reports": {"mask_patient_data": False},
    }
    if name == "dev":
        settings = settings_for(tmp_path, **changes)
        assert settings.reports.mask_patient_data is False
        return
    with pytest.raises(ConfigError, match=r"reports\.mask_patient_data: false is only allowed"):
        settings_for(tmp_path, **changes)


def test_showing_patient_data_is_accepted_on_the_simulator(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, reports={"mask_patient_data": False})
    assert not settings.reports.mask_patient_data


def test_a_text_seen_before_is_masked_once_it_is_secret() -> None:
    masking = redactor()
    assert masking.text("token abcdef123456") == "token abcdef123456"
    masking.add("abcdef123456")
    assert masking.text("token abcdef123456") == f"token {MASK}"
    masking.add_patient_value("Zanzibar")
    assert masking.data({"Note": "from Zanzibar"}) == {"Note": f"from {PATIENT_MASK}"}


def test_long_texts_are_masked_like_short_ones() -> None:
    long = "x " * SHORT_TEXT + "client-secret-value-1 Timothy Bixby 2008-01-06 Bearer abc.def"
    assert redactor().text(long) == "x " * SHORT_TEXT + (
        f"{MASK} {PATIENT_MASK} {PATIENT_MASK} {PATIENT_MASK} Bearer {MASK}"
    )
    assert redactor().text("Timothy" * SHORT_TEXT) == "Timothy" * SHORT_TEXT  # not a word


def test_paths_of_this_machine_are_shown_relative() -> None:
    masker = redactor(
        machine_paths=[("/home/me/project/", ""), ("/usr/lib/python3.11/", "<python>/")]
    )
    trace = (
        'File "/home/me/project/src/techval/x.py", line 3\n'
        'File "/usr/lib/python3.11/site-packages/_pytest/fixtures.py", line 1074'
    )
    assert masker.text(trace) == (
        'File "src/techval/x.py", line 3\nFile "<python>/site-packages/_pytest/fixtures.py", '
        "line 1074"
    )


def test_cookies_are_masked_by_header_name() -> None:
    masked = redactor().headers([("Set-Cookie", "session=unconfigured-value-42; Path=/")])
    assert masked == {"Set-Cookie": "***"}

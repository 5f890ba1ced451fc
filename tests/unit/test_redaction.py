"""Masking of secrets and patient data: what is masked, what stays readable, and the setting
that shows test patients' data in the simulator and dev environments only."""

from __future__ import annotations

import base64
import json
import re
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import pytest

from techval.core.errors import ConfigError
from techval.core.redaction import MASK, PATIENT_MASK, SHORT_TEXT, Redactor, patient_values, shape
from techval.core.spellings import FOLDED_CHUNK, WHOLE_TEXT
from techval.harness.evidence import leaks
from tests.helpers import every_text, run_techval, settings_for, write_environment

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


def test_a_data_model_patients_values_are_learned_where_masked_and_masked_when_echoed() -> None:
    """As a FHIR Patient's are: an organization's own ID for the patient (not a test patient's
    value) echoed in the same answer's error text, or later in a failure message."""
    masking = redactor()
    answer = {
        "Meta": {"Errors": [{"Text": "second match MRN-778899 for QUIST, Margarethe"}]},
        "Patients": [
            {
                "Identifiers": [{"ID": "MRN-778899", "IDType": "2.16.840.1.113883.3.9999.1.2"}],
                "Demographics": {
                    "FirstName": "Margarethe",
                    "LastName": "Quist",
                    "Address": {"City": "Pemberton"},
                },
            }
        ],
    }
    masked = masking.data(answer)
    assert isinstance(masked, dict)
    assert masked["Meta"]["Errors"] == [
        {"Text": f"second match {PATIENT_MASK} for {PATIENT_MASK}, {PATIENT_MASK}"}
    ]
    assert masked["Patients"][0]["Identifiers"][0]["ID"] == "XXX-999999"
    assert masking.text("no documents for MRN-778899 in Pemberton") == (
        f"no documents for {PATIENT_MASK} in Pemberton"  # a city identifies no one
    )


def test_a_body_masked_for_the_har_is_not_masked_again_inside_its_attachment() -> None:
    """Within `reusing()` the same object is masked once (an exchange's HAR entry, then its
    attachment's whole document); a value learned in between, or an object changed after the
    block, is masked anew."""
    masking = redactor()
    body = {"Patients": [{"Identifiers": [{"ID": "MRN-112233"}]}], "Note": "MRN-445566"}
    calls: list[object] = []
    original = masking._data

    def counted(value: object, in_patient: bool, learned: list[Any]) -> object:
        calls.append(value)
        return original(value, in_patient, learned)

    masking._data = counted  # type: ignore[method-assign]
    with masking.reusing():
        alone = masking.data(body)
        calls.clear()
        whole = masking.data({"request": {"body": body}})
        assert whole == {"request": {"body": alone}}
        assert [c for c in calls if c is body or c is body["Patients"]] == [body]  # not walked
        masking.add_patient_value("MRN-445566")  # new values to mask: nothing is reused
        again = masking.data({"request": {"body": body}})
        assert again == {"request": {"body": {**alone, "Note": PATIENT_MASK}}}  # type: ignore[dict-item]
    body["Note"] = "changed after the block"
    assert masking.data(body)["Note"] == "changed after the block"  # type: ignore[index]


def test_what_a_block_masked_is_not_reused_once_patient_data_is_masked_or_in_another_thread() -> (
    None
):
    showing = Redactor(mask_patient_data=False)
    body = {"Patient": {"Demographics": {"FirstName": "Timothy"}}}
    with showing.reusing():
        assert showing.data(body) == body
        showing.mask_patient_data = True
        masked = showing.data({"request": {"body": body}})
        assert masked == {
            "request": {"body": {"Patient": {"Demographics": {"FirstName": "Xxxxxxx"}}}}
        }
        showing.mask_patient_data = False
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(showing._memo()))
        thread.start()
        thread.join()
        assert seen == [None]  # another thread's calls neither read nor fill this block's memo


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


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("+18088675301", "+18088675301"),
        ("(808) 867-5301", "+18088675301"),
        ("1-808-867-5301", "+18088675301"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("+31 20 123 4567", "+31 20 123 4567"),
    ],
)
def test_us_phone_numbers_of_test_patients_are_kept_as_redox_writes_them(
    written: str, kept: str
) -> None:
    assert patient_values([{"PhoneNumber": {"Mobile": written}}]) == [kept]


def test_patient_values_skip_codes_and_short_values() -> None:
    values = set(patient_values([PATIENT]))
    assert {"Timothy", "Bixby", "2008-01-06", "0000000001", "+18088675301"} <= values
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


# --- a value in another spelling ---------------------------------------------------------

SECRET = "Zq7-S3cr3t+Tok/en=x&y"  # a test value with characters that encodings change
SPACED = "open sesame 42!"  # a test value with a space
CLIENT_ID = "harness-test-client"


def b64(text: str, *, urlsafe: bool = False) -> str:
    if urlsafe:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    return base64.b64encode(text.encode()).decode()


def kept(offset: int) -> int:
    """How many base64 characters encode only the `offset` bytes before a secret."""
    return 4 * (offset // 3) + offset % 3


# (text as written, text once masked)
SECRET_SPELLINGS = {
    "raw": (SECRET, MASK),
    "URL-encoded, + for a space": ("Zq7-S3cr3t%2BTok%2Fen%3Dx%26y", MASK),
    "URL-encoded, lowercase hex": ("Zq7-S3cr3t%2bTok%2fen%3dx%26y", MASK),
    "URL-encoded, / kept": ("Zq7-S3cr3t%2BTok/en%3Dx%26y", MASK),
    "space as +": ("open+sesame+42%21", MASK),
    "space as %20": ("open%20sesame%2042%21", MASK),
    "JSON-escaped": ("Zq7-S3cr3t+Tok\\/en=x\\u0026y", MASK),
    "XML-escaped": ("Zq7-S3cr3t+Tok/en=x&amp;y", MASK),
    "base64": (b64(SECRET), MASK),
    "base64, URL-safe": (b64(SECRET, urlsafe=True), MASK),
    "base64 after 1 byte": (b64("a" + SECRET), b64("a" + SECRET)[: kept(1)] + MASK),
    "base64 after 2 bytes": (b64("ab" + SECRET), b64("ab" + SECRET)[: kept(2)] + MASK),
    "URL-safe base64 after 1 byte": (
        b64("a" + SECRET, urlsafe=True),
        b64("a" + SECRET)[: kept(1)] + MASK,
    ),
    "Basic credentials": (
        f"Basic {b64(f'{CLIENT_ID}:{SECRET}')}",
        f"Basic {b64(f'{CLIENT_ID}:{SECRET}')[: kept(len(CLIENT_ID) + 1)]}{MASK}",
    ),
}


def secret_masker() -> Redactor:
    return Redactor([SECRET, SPACED], patient_values([PATIENT]))


@pytest.mark.parametrize(("written", "masked"), SECRET_SPELLINGS.values(), ids=SECRET_SPELLINGS)
def test_a_secret_is_masked_in_every_spelling(written: str, masked: str) -> None:
    masking = secret_masker()
    assert masking.text(f"rejected: {written}.") == f"rejected: {masked}."
    long = "x " * WHOLE_TEXT  # searched only around what may be a secret
    assert masking.text(f"{long}{written} {long}") == f"{long}{masked} {long}"
    assert masking.headers([("X-Echo", written)]) == {"X-Echo": masked}
    assert masking.data({"Meta": {"Errors": [{"Text": written}]}}) == {
        "Meta": {"Errors": [{"Text": masked}]}
    }


@pytest.mark.parametrize("written", [w for w, _ in SECRET_SPELLINGS.values()], ids=SECRET_SPELLINGS)
def test_the_leak_scan_finds_a_secret_in_every_spelling(tmp_path: Path, written: str) -> None:
    (tmp_path / "junit.xml").write_text(f"<failure message='answer: {written}'/>")
    found = [str(leak) for leak in leaks.scan(tmp_path, secret_masker())]
    assert found == ["junit.xml: contains a configured secret value"]


def test_base64_of_other_text_and_short_fragments_stay_readable() -> None:
    masking = secret_masker()
    for text in (b64("harness-test-client:"), "Basic authentication failed", "Zq7-S3cr3t"):
        assert masking.text(text) == text


NAME_SPELLINGS = ["TIMOTHY BIXBY", "timothy bixby", "tImOtHy BiXbY"]
DATE_SPELLINGS = [
    "2008-01-06",
    "20080106",
    "01/06/2008",
    "1/6/2008",
    "01-06-2008",
    "2008/01/06",
    "2008.01.06",
    "2008-1-6",
    "01.06.2008",
    "01062008",
    "Jan 6, 2008",
    "January 06 2008",
    "jan. 6 2008",
    "6 January 2008",
    "06-Jan-2008",
    "01/06/08",  # month/day/two-digit year, with / or - only
    "1/6/08",
    "01-06-08",
    "01 06 2008",  # a space is a separator too
    "2008 01 06",
]
PHONE_SPELLINGS = [
    "+18088675301",
    "+1 808-867-5301",
    "+1 (808) 867-5301",
    "(808) 867-5301",
    "(808)867-5301",
    "808.867.5301",
    "8088675301",
    "808 867 5301",
    "808-867-5301",
    "1-808-867-5301",
    "1 808 867 5301",
]
URL_ENCODED_SPELLINGS = [
    "01%2F06%2F2008",
    "01%2f06%2f08",
    "Jan%206%2C%202008",
    "Jan+6,+2008",
    "808%20867%205301",
    "808+867+5301",
    "808%2D867%2D5301",
    "%28808%29%20867-5301",
    "%2B1%20%28808%29%20867-5301",
    "%2B1%2D%28808%29%2D867%2D5301",  # the longest spellings: found in a long text too
    "January%2E%2006th%2C%202008",
    "06th%20January%2E%2C%202008",
]


@pytest.mark.parametrize("written", NAME_SPELLINGS)
def test_names_are_masked_in_any_case(written: str) -> None:
    masked = f"{PATIENT_MASK} {PATIENT_MASK}"
    assert redactor().text(f"no match for {written}") == f"no match for {masked}"
    assert redactor().headers([("X-Echo", written)]) == {"X-Echo": masked}


@pytest.mark.parametrize("written", DATE_SPELLINGS + PHONE_SPELLINGS + URL_ENCODED_SPELLINGS)
def test_birth_dates_and_phones_are_masked_in_their_us_spellings(written: str) -> None:
    masking = redactor()
    assert masking.text(f"born/phone {written}.") == f"born/phone {PATIENT_MASK}."
    long = "x " * WHOLE_TEXT
    assert masking.text(f"{long}{written} {long}") == f"{long}{PATIENT_MASK} {long}"
    assert masking.headers([("X-Echo", written)]) == {"X-Echo": PATIENT_MASK}
    assert masking.data({"Meta": {"Errors": [{"Text": written}]}}) == {
        "Meta": {"Errors": [{"Text": PATIENT_MASK}]}
    }


@pytest.mark.parametrize(
    "written", NAME_SPELLINGS + DATE_SPELLINGS + PHONE_SPELLINGS + URL_ENCODED_SPELLINGS
)
def test_the_leak_scan_finds_a_patient_value_in_every_spelling(
    tmp_path: Path, written: str
) -> None:
    (tmp_path / "summary.md").write_text(f"Redox said: {written}")
    found = [str(leak) for leak in leaks.scan(tmp_path, redactor())]
    assert found == ["summary.md: contains a test patient's identifying value"]


@pytest.mark.parametrize(
    "text",
    [
        "order 120080106 shipped",  # the birth date's digits inside a longer number
        "2008010612",
        "on 01/06/20081",
        "2008-06-01 and 06/01/2008",  # another date (the day-first reading is not covered)
        "01/06/2009, 2008-01-07",
        "call 28088675301 or 80886753012",
        "808-867-53010",
        "Timothys TIMOTHYBIXBY",
        "v1.6.08 and 01.06.08",  # the two-digit year needs / or - as separators
        "010608, 01 06 08",
        "2010/1/6/08 and /api/1-6-08",  # inside a path
        "1/6/083, 11/6/08, 1/16/08, 1/6/08/12, 1/6/08.5",
        "%2F1%2F6%2F08%2F",
        "%2001%2F06%2F20081",
    ],
)
def test_longer_numbers_and_other_words_stay_readable(text: str) -> None:
    assert redactor().text(text) == text


def test_a_birth_date_with_a_time_is_masked() -> None:
    assert redactor().text("DOB 2008-01-06T00:00:00Z") == f"DOB {PATIENT_MASK}T00:00:00Z"


def test_a_long_text_is_masked_across_its_chunks_and_after_case_folding() -> None:
    """A long text is case-folded a chunk at a time: a name across two chunks is found, and so
    is one in a chunk whose folding changes its length (ß becomes ss)."""
    start = FOLDED_CHUNK - 3
    text = "x" * start + " TIMOTHY " + "straße " * 10 + "bixby " + "y" * FOLDED_CHUNK
    masked = redactor().text(text)
    assert masked == (
        "x" * start + f" {PATIENT_MASK} " + "straße " * 10 + f"{PATIENT_MASK} " + "y" * FOLDED_CHUNK
    )


def test_a_birth_year_alone_is_no_birth_date_in_a_long_text() -> None:
    text = "2008 " * WHOLE_TEXT + "01/06/2008 2008-01-07"
    assert redactor().text(text) == "2008 " * WHOLE_TEXT + f"{PATIENT_MASK} 2008-01-07"


# (text as written, text once masked): URL-encoded text ends a word at a percent-escape
URL_ENCODED = {
    "name, %20": ("Timothy%20Bixby", f"{PATIENT_MASK}%20{PATIENT_MASK}"),
    "surname after %20": ("Mr%20Bixby", f"Mr%20{PATIENT_MASK}"),
    "name, +": ("q=TIMOTHY+BIXBY&x", f"q={PATIENT_MASK}+{PATIENT_MASK}&x"),
    "name between escapes": (
        "%22Timothy%2C%20Bixby%22",
        f"%22{PATIENT_MASK}%2C%20{PATIENT_MASK}%22",
    ),
    "street, %20": ("at%204762%20Hickory%20Street%2E", f"at%20{PATIENT_MASK}%2E"),
    "street, +": ("at+4762+hickory+STREET.", f"at+{PATIENT_MASK}."),
    "date after %20": ("born%2001%2F06%2F2008", f"born%20{PATIENT_MASK}"),
    "short date after %3D": ("dob%3D1%2F6%2F08%26", f"dob%3D{PATIENT_MASK}%26"),
    "phone after %20": ("call%20808%20867%205301%2E", f"call%20{PATIENT_MASK}%2E"),
}


@pytest.mark.parametrize(("written", "masked"), URL_ENCODED.values(), ids=URL_ENCODED)
def test_url_encoded_patient_values_are_masked_whole(written: str, masked: str) -> None:
    masking = redactor()
    assert masking.text(written) == masked
    long = "x " * WHOLE_TEXT
    assert masking.text(f"{long}{written} {long}") == f"{long}{masked} {long}"


@pytest.mark.parametrize(("written", "_"), URL_ENCODED.values(), ids=URL_ENCODED)
def test_the_leak_scan_finds_a_url_encoded_patient_value(
    tmp_path: Path, written: str, _: str
) -> None:
    (tmp_path / "exchanges.har").write_text(f'{{"url": "https://x/?{written}"}}')
    found = [str(leak) for leak in leaks.scan(tmp_path, redactor())]
    assert found == ["exchanges.har: contains a test patient's identifying value"]


@pytest.mark.parametrize("encode", [quote_plus, partial(quote, safe="")], ids=["+", "%20"])
@pytest.mark.parametrize("written", NAME_SPELLINGS + DATE_SPELLINGS + PHONE_SPELLINGS)
def test_a_url_encoded_patient_value_is_masked_as_the_plain_one(
    written: str, encode: Callable[[str], str]
) -> None:
    masking = redactor()
    plain = masking.text(f"said {written}.")
    assert PATIENT_MASK in plain
    masked = unquote_plus(masking.text(encode(f"said {written}.")))
    assert masked.replace(" ", "") == plain.replace(" ", "")  # "+" before a 1: a space or a sign


def traced_peak(masking: Redactor, text: str) -> int:
    """The most memory masking `text` took, in bytes; the text must come back unchanged."""
    tracemalloc.start()
    try:
        masked = masking.text(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert masked == text
    return peak


def test_memory_stays_proportional_to_the_text_not_to_the_needles_found() -> None:
    """A long text where a needle (a birth year, a phone's last digits, a secret's longest run)
    occurs every ~70 characters: its places are walked, not kept."""
    line = "2008-03-14T10:22:33Z GET /x/5301 client-secret sent in 12 ms to af93e1c0\n"
    secrets = traced_peak(Redactor(["client-secret+value"]), line * (1_000_000 // len(line)))
    assert secrets < 100_000, f"{secrets / 1e6:.2f} MB to mask a 1 MB text"
    # patient values are looked for in a case-folded copy, a chunk at a time
    patients = traced_peak(redactor(), line * (2_000_000 // len(line)))
    assert patients < 4 * FOLDED_CHUNK, f"{patients / 1e6:.2f} MB to mask a 2 MB text"


# --- a hostile server echoing everything, through the real CLI ---------------------------

TOKEN = "hostile-access-token-5a8d0c7e"  # granted by the hostile server
ECHOED_SECRET = {
    "URL-encoded": quote_plus(SECRET),
    "URL-encoded, %20 form": quote(SECRET, safe=""),
    "URL-encoded, lowercase hex": re.sub("%..", lambda m: m[0].lower(), quote(SECRET, safe="")),
    "base64": b64(SECRET),
    "base64, URL-safe": b64(SECRET, urlsafe=True),
    "JSON-escaped": SECRET.replace("/", "\\/").replace("&", "\\u0026"),
    "Basic credentials": b64(f"{CLIENT_ID}:{SECRET}"),
    "raw": SECRET,
}
ECHOED_PATIENT = ["TIMOTHY BIXBY", "01/06/2008", "(808) 867-5301"]


class Hostile(BaseHTTPRequestHandler):
    """Grants any token, then refuses every message with an error echoing the client secret in
    several spellings and a test patient's values in others, in the body and a header."""

    echo = "; ".join(f"{kind}: {text}" for kind, text in ECHOED_SECRET.items())
    echo += f"; Basic {ECHOED_SECRET['Basic credentials']}; patient " + ", ".join(ECHOED_PATIENT)

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/v2/auth/token":
            self.answer(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300})
            return
        try:
            meta = json.loads(sent).get("Meta", {})
        except (ValueError, AttributeError):
            meta = {}
        meta["Errors"] = [{"ID": 1, "Text": self.echo, "Type": "message", "Module": "Send"}]
        self.answer(400, {"Meta": meta})

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).replace("&", "\\u0026").encode()  # escaped as Go's JSON does
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Echo", self.echo)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def leaked(text: str) -> list[str]:
    """What of the echoed values `text` holds, by kind."""
    spelled = {kind: form for kind, form in ECHOED_SECRET.items() if form in text}
    basic = ECHOED_SECRET["Basic credentials"]
    if basic[-16:] in text:  # the end of the Basic credentials: the secret's bytes only
        spelled["Basic credentials, the secret's part"] = basic[-16:]
    folded = text.casefold()
    patient = [v for v in ("timothy", "bixby", "01/06/2008", "867-5301") if v in folded]
    return [*spelled, *patient, *(["the access token"] if TOKEN in text else [])]


@pytest.mark.whole_run
def test_a_hostile_server_echoing_the_secret_and_patient_leaves_no_trace(
    tmp_path: Path, hostile_server: str
) -> None:
    config = write_environment(
        tmp_path,
        simulator=None,
        base_url=hostile_server,
        auth={
            "method": "jwt",
            "token_url": "/v2/auth/token",
            "client_id": CLIENT_ID,
            "algorithm": "HS384",
            "client_secret": SECRET,
        },
    )
    args = ["--config", str(config), "--tags", "organization"]
    result = run_techval(args, tmp_path / "reports", html=True)
    assert result.code == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "HTTP 400" in (result.reports / "junit.xml").read_text()  # the echo was recorded
    packed = run_techval(["--config", str(config)], result.reports, command="bundle")
    assert packed.code == 0, packed.stdout + packed.stderr
    texts = {"stdout": result.stdout, "stderr": result.stderr, "bundle's output": packed.stdout}
    texts |= every_text(result.reports)
    for part in (
        "verdict.json",
        "junit.xml",
        "history/",
        "allure-results/",
        "!summary.md",
        "!exchanges.har",
    ):
        assert any(part in name for name in texts), f"no {part} was read"
    found = {name: leaked(text) for name, text in texts.items() if leaked(text)}
    assert found == {}


def test_a_private_key_is_masked_whole_escaped_and_line_by_line() -> None:
    lines = [
        "-----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0B+AQEFAASC/KcwggSjAgEAAo",
        "-----END",
    ]
    key = "\n".join(lines)
    masking = Redactor([key])
    assert masking.text(json.dumps({"key": key})) == f'{{"key": "{MASK}"}}'
    assert masking.text(f"line: {quote(lines[1], safe='')}!") == f"line: {MASK}!"
    assert masking.text(f"{lines[1]} and {lines[0]}") == f"{MASK} and {MASK}"


# FHIR shapes (issue 18): a Patient resource anywhere, references to it, attachments, and the
# parameters of form-encoded searches.

FHIR_PATIENT = {
    "resourceType": "Patient",
    "id": "0000000001",
    "meta": {"lastUpdated": "2024-09-20T10:00:00Z"},
    "identifier": [
        {
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203"}]},
            "system": "urn:oid:2.16.840.1.113883.3.6147.458.99999",
            "value": "0000000001",
        }
    ],
    "name": [{"use": "official", "family": "Bixby", "given": ["Timothy"], "text": "Timothy Bixby"}],
    "telecom": [{"system": "phone", "value": "+18088675301", "use": "home"}],
    "gender": "male",
    "birthDate": "2008-01-06",
    "address": [
        {"use": "home", "line": ["4762 Hickory Street"], "city": "Monroe", "country": "US"}
    ],
    "photo": [{"contentType": "image/png", "data": "iVBORw0KGgo="}],
}
FHIR_PATIENT_MASKED = {
    "resourceType": "Patient",
    "id": "9999999999",
    "meta": {"lastUpdated": "2024-09-20T10:00:00Z"},
    "identifier": [
        {
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203"}]},
            "system": "urn:oid:2.16.840.1.113883.3.6147.458.99999",
            "value": "9999999999",
        }
    ],
    "name": [{"use": "official", "family": "Xxxxx", "given": ["Xxxxxxx"], "text": "Xxxxxxx Xxxxx"}],
    "telecom": [{"system": "phone", "value": "+99999999999", "use": "home"}],
    "gender": "male",
    "birthDate": "9999-99-99",
    "address": [
        {"use": "home", "line": ["9999 Xxxxxxx Xxxxxx"], "city": "Xxxxxx", "country": "US"}
    ],
    "photo": [{"contentType": "image/png", "data": "[document body masked: 12 characters]"}],
}


def test_a_fhir_patient_is_masked_by_shape_and_its_codes_stay_readable() -> None:
    assert redactor().data(FHIR_PATIENT) == FHIR_PATIENT_MASKED


def test_fhir_patients_are_masked_in_searchset_entries_and_contained() -> None:
    organization = {"resourceType": "Organization", "id": "1.2.3", "name": "Monroe Clinic"}
    searchset: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 2,
        "link": [{"relation": "next", "url": "https://redox.test/page/Patient/search/ab.next"}],
        "entry": [
            {"fullUrl": "https://redox.test/Patient/0000000001", "resource": FHIR_PATIENT},
            {"fullUrl": "https://redox.test/Organization/1.2.3", "resource": organization},
        ],
    }
    masked = redactor().data(searchset)
    assert masked == {
        **searchset,
        "entry": [
            {"fullUrl": "https://redox.test/Patient/9999999999", "resource": FHIR_PATIENT_MASKED},
            searchset["entry"][1],
        ],
    }
    holder = {"resourceType": "DocumentReference", "contained": [FHIR_PATIENT]}
    assert redactor().data(holder) == {**holder, "contained": [FHIR_PATIENT_MASKED]}


def test_a_reference_to_a_patient_keeps_its_resource_type_and_attachments_their_size() -> None:
    document = {
        "resourceType": "DocumentReference",
        "id": "doc-1",
        "status": "current",
        "subject": {"reference": "Patient/0000000001"},
        "author": [{"reference": "Organization/1.2.3"}],
        "content": [
            {"attachment": {"contentType": "text/xml", "data": "PENsaW5pY2FsRG9jdW1lbnQ+"}}
        ],
    }
    assert redactor().data(document) == {
        **document,
        "subject": {"reference": "Patient/9999999999"},
        "content": [
            {
                "attachment": {
                    "contentType": "text/xml",
                    "data": "[document body masked: 24 characters]",
                }
            }
        ],
    }


def test_showing_patient_data_leaves_fhir_patients_and_forms_readable() -> None:
    shown = redactor(mask_patient_data=False)
    assert shown.data(FHIR_PATIENT) == FHIR_PATIENT
    assert shown.form({"given": ["Timothy"]}, "Patient") == {"given": ["Timothy"]}


def test_patient_search_parameters_are_masked_by_shape_and_token_systems_stay_readable() -> None:
    form = {
        "given": ["Timothy"],
        "family": ["Bixby"],
        "birthdate": ["2008-01-06"],
        "phone": ["+18088675301"],
        "email": ["tim@mail.test"],
        "address-postalcode": ["53566"],
        "identifier": ["urn:oid:2.16.840.1.113883.3.6147.458.99999|0000000001"],
        "_id": ["0000000001"],
        "gender": ["male"],
    }
    assert redactor().form(form, "Patient") == {
        "given": ["Xxxxxxx"],
        "family": ["Xxxxx"],
        "birthdate": ["9999-99-99"],
        "phone": ["+99999999999"],
        "email": ["xxx@xxxx.xxxx"],
        "address-postalcode": ["99999"],
        "identifier": ["urn:oid:2.16.840.1.113883.3.6147.458.99999|9999999999"],
        "_id": ["9999999999"],
        "gender": ["male"],
    }


def test_other_searches_keep_their_own_parameters_readable() -> None:
    directory = {"name": ["Monroe Clinic"], "address-postalcode": ["53566"], "limit": ["50"]}
    assert redactor().form(directory, "Organization") == {
        "name": ["Monroe Clinic"],
        "address-postalcode": ["99999"],  # the ZIP searched near is the patient's
        "limit": ["50"],
    }
    documents = {"patient": ["0000000001"], "_id": ["doc-1"], "category": ["urn:redox:x|CDA"]}
    assert redactor().form(documents, "DocumentReference") == {
        "patient": ["9999999999"],
        "_id": ["doc-1"],
        "category": ["urn:redox:x|CDA"],
    }
    # a search of unknown kind is taken for a patient search; a secret is masked anywhere
    assert redactor().form({"_id": ["ab1"], "q": ["client-secret-value-1"]}) == {
        "_id": ["xx9"],
        "q": [MASK],
    }


@pytest.mark.parametrize(
    ("url", "resource"),
    [
        ("https://redox.test/fhir/R4/ceq-xcpd:1.2.3/Development/Patient/_search", "Patient"),
        ("/fhir/R4/ceq-orgs/Development/Organization/_search/?x=1", "Organization"),
        ("/fhir/R4/ceq-xca:1.2.3/Development/DocumentReference/doc-1", None),
        ("_search", None),
    ],
)
def test_the_resource_a_search_url_searches(url: str, resource: str | None) -> None:
    from techval.core.redaction import search_resource  # here: the imports above are shared

    assert search_resource(url) == resource


def test_a_recorded_form_request_is_masked_by_the_resource_its_url_searches() -> None:
    url = "https://redox.test/fhir/R4/ceq-orgs/Development/Organization/_search"
    exchange = {
        "request": {"method": "POST", "url": url, "form": {"name": ["Clinic"], "address": ["x 1"]}},
        "response": {"status": 200, "body": {"resourceType": "Bundle", "total": 0}},
    }
    assert redactor().data(exchange) == {
        **exchange,
        "request": {"method": "POST", "url": url, "form": {"name": ["Clinic"], "address": ["x 9"]}},
    }
    patient_url = url.replace("ceq-orgs", "ceq-xcpd:1.2.3").replace("Organization", "Patient")
    masked = redactor().data({"url": patient_url, "form": {"name": ["Tim B"], "given": "Tim"}})
    assert masked == {"url": patient_url, "form": {"name": ["Xxx X"], "given": ["Xxx"]}}


@pytest.mark.parametrize("value", ["Bixby", "4762 Hickory Street", "808-867-5301", "0000000001"])
def test_the_leak_scan_finds_a_patient_value_in_fhir_json(tmp_path: Path, value: str) -> None:
    (tmp_path / "patient.json").write_text(json.dumps({**FHIR_PATIENT_MASKED, "x": [value]}))
    assert [str(leak) for leak in leaks.scan(tmp_path, redactor())] == [
        f"patient.json: contains a {leaks.UNMASKED}",  # inside a Patient: masked by shape
        "patient.json: contains a test patient's identifying value",
    ]


def test_the_leak_scan_finds_an_unmasked_fhir_patient_and_form_but_not_masked_ones(
    tmp_path: Path,
) -> None:
    masking = redactor()
    form = {"given": ["Timothy"], "birthdate": ["2008-01-06"], "identifier": ["urn:x|0000000001"]}
    har_params = [{"name": k, "value": v} for k, values in form.items() for v in values]
    (tmp_path / "patient.json").write_text(json.dumps(FHIR_PATIENT, indent=2))
    (tmp_path / "exchanges.har").write_text(json.dumps({"params": har_params}))
    assert sorted(str(leak) for leak in leaks.scan(tmp_path, masking)) == [
        "exchanges.har: contains a test patient's identifying value",
        f"patient.json: contains a {leaks.UNMASKED}",
        "patient.json: contains a test patient's identifying value",
    ]
    (tmp_path / "patient.json").write_text(json.dumps(masking.data(FHIR_PATIENT)))
    masked_params = [{"name": k, "value": v} for k, vs in masking.form(form).items() for v in vs]
    (tmp_path / "exchanges.har").write_text(json.dumps({"params": masked_params}))
    assert leaks.scan(tmp_path, masking) == []

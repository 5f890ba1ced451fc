"""core/spellings.py: a text longer than WHOLE_TEXT is searched only around its needles; what
it masks must be what a search of the whole text masks, wherever the values fall, in any
spelling (case, percent-escapes, "+" for a space, dates and phones in their US forms)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from techval.core import spellings
from techval.core.redaction import MASK, PATIENT_MASK, Redactor, patient_values

PATIENT = {
    "Demographics": {
        "FirstName": "Timothy",
        "LastName": "Bixby",
        "DOB": "2008-01-06",
        "Address": {"StreetAddress": "4762 Hickory Street"},
        "PhoneNumber": {"Home": "+18088675301"},
    },
    "Identifiers": [{"ID": "techval-test-patient-1", "IDType": "MR"}],
}
SECRET = "client-secret-value-1"
SPELLED = [
    "Timothy",
    "TIMOTHY",
    "bixby",
    "01/06/2008",
    "1/6/08",
    "2008-01-06",
    "(808) 867-5301",
    "%2B1%2D808%2D867%2D5301",
    "4762+Hickory+Street",
    "techval-test-patient-1",
    "TECHVAL%2Dtest%2Dpatient%2D1",
    "techval-test-patient-12",  # not the value: a longer word
    "xTimothy",
    SECRET,
    "Y2xpZW50LXNlY3JldC12YWx1ZS0x",  # the secret in base64
]
FILLER = ['"url": "http://127.0.0.1/techval/", ', "2008 ", "techval ", "x", "\n  ", "é", "/"]


def both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    masked = []
    for whole in (len(text) + 1, 0):  # whole, then around the needles only
        monkeypatch.setattr(spellings, "WHOLE_TEXT", whole)
        masked.append(Redactor([SECRET], patient_values([PATIENT]))._text(text))
    return masked[0], masked[1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SPELLED + FILLER), min_size=1, max_size=120), st.randoms())
def test_around_the_needles_masks_as_the_whole_search(parts: list[str], rnd: random.Random) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        whole, around = both_ways("".join(rnd.sample(parts, len(parts))), monkeypatch)
    assert around == whole


def test_a_text_holding_the_values_is_masked_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "techval " * 40 + "id techval-test-patient-1, Timothy (808) 867-5301 " + SECRET
    whole, around = both_ways(text, monkeypatch)
    assert (
        around
        == whole
        == "techval " * 40 + f"id {PATIENT_MASK}, {PATIENT_MASK} " + (f"{PATIENT_MASK} {MASK}")
    )

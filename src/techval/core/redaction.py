"""Masking of secrets and patient data before anything is written (reports, logs, exceptions).

The harness records exchanges raw for its own checks; whatever leaves the process goes
through a Redactor first. Two kinds of masking:

- secrets, always: every configured secret value, every token obtained during the run, and
  anything shaped like a bearer token or a JWT, replaced by `***` wherever it appears, also
  URL-encoded, JSON- or XML-escaped or in base64;
- patient data, on by default: in JSON, the values under a patient's Demographics and
  Identifiers and document bodies are masked by shape (`Timothy` -> `Xxxxxxx`,
  `2008-01-06` -> `9999-99-99`), so the structure stays readable; in free text, every known
  test-patient value (name, birth date, identifier, street, phone) is replaced by `[patient]`,
  names in any case, birth dates and phone numbers in their US spellings, each also URL-encoded.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from techval.core.spellings import Spelling, Spellings, patient_spellings, secret_spellings

MASK = "***"
PATIENT_MASK = "[patient]"
SECRET_KEYS = frozenset(
    {
        "client_assertion",
        "client_secret",
        "secret",
        "apikey",
        "api_key",
        "access_token",
        "accesstoken",
        "refreshtoken",
        "refresh_token",
        "authorization",
        "password",
        "token",
        "cookie",  # session cookies: a header name, masked wherever headers are written
        "set-cookie",
    }
)
# Shapes worth masking even when the value was never configured: bearer tokens and JWTs.
TOKEN_SHAPES = re.compile(
    r"(Bearer\s+)[A-Za-z0-9._~+/=-]+|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)
# Redox containers whose contents describe a patient (redox-api.md section 4).
PATIENT_CONTAINERS = frozenset({"Patient", "Patients", "PotentialMatches", "Demographics"})
# Inside a patient container these stay readable: codes and types, not the person.
READABLE_KEYS = frozenset(
    {
        "Sex",
        "IDType",
        "Type",
        "Country",
        "Race",
        "Ethnicity",
        "IsHispanic",
        "IsDeceased",
        "Language",
        "MaritalStatus",
        "Citizenship",
        "Code",
        "Codeset",
        "CodeSystem",
        "CodeSystemName",
        "System",
        "Organizations",
        "Organization",
        "Source",
        "Destinations",
        "Documents",
    }
)
DOCUMENT_BODY_KEYS = frozenset({"Data", "FileContents"})
SHORTEST_PATIENT_VALUE = 4  # shorter values ("WI", "Al") would mask innocent text
SHORT_TEXT = 256  # shorter texts are remembered once masked
MASKED_TEXTS = 20_000  # short texts remembered, at most
_SHAPES = str.maketrans(
    string.ascii_uppercase + string.ascii_lowercase + string.digits, "X" * 26 + "x" * 26 + "9" * 10
)


def shape(value: str) -> str:
    """The value with letters as X/x and digits as 9: its format, not its content."""
    return value.translate(_SHAPES)


class Redactor:
    def __init__(
        self,
        secrets: Iterable[str] = (),
        patient_values: Iterable[str] = (),
        *,
        mask_patient_data: bool = True,
        machine_paths: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.mask_patient_data = mask_patient_data
        # (prefix, shown as): folders of this machine that tracebacks name, so that no
        # evidence file carries them (the project becomes relative, Python "<python>/")
        self._paths = [(prefix, shown) for prefix, shown in machine_paths if prefix]
        # value -> its spellings (spellings.py): raw, encoded, in another case or format
        self._secret_spellings: dict[str, list[Spelling]] = {}
        self._patient_spellings: dict[str, list[Spelling]] = {}
        self._secret_search = Spellings(())
        self._patient_search = Spellings(())
        # Short texts recur in every exchange (codes, OIDs, names): each is masked once, until
        # the values to mask change.
        self._masked: dict[tuple[str, bool], str] = {}
        for value in secrets:
            self._add_secret(value)
        for value in patient_values:
            self._add_patient_value(value)
        self._compile()

    def add(self, value: str) -> None:
        """Treat `value` as secret from now on (short values would mask innocent text)."""
        if self._add_secret(value):
            self._compile()

    def add_patient_value(self, value: str) -> None:
        """Mask `value` in free text as patient data (when patient data is masked)."""
        if self._add_patient_value(value):
            self._compile()

    def _add_secret(self, value: str) -> bool:
        if not value or len(value) < 6 or value in self._secret_spellings:
            return False
        self._secret_spellings[value] = secret_spellings(value)
        lines = value.splitlines()
        for line in (line.strip() for line in lines):  # a PEM key may leak line by line
            if len(line) >= 16 and line not in self._secret_spellings:
                # a line of a key is base64 already: not looked for in base64 again
                self._secret_spellings[line] = secret_spellings(line, in_base64=len(lines) == 1)
        return True

    def _add_patient_value(self, value: str) -> bool:
        value = value.strip()
        if len(value) < SHORTEST_PATIENT_VALUE or value in self._patient_spellings:
            return False
        self._patient_spellings[value] = patient_spellings(value)
        return True

    def _compile(self) -> None:
        """The searches for all secrets and for all patient values."""
        self._secret_search = Spellings(s for v in self._secret_spellings.values() for s in v)
        self._patient_search = Spellings(
            (s for v in self._patient_spellings.values() for s in v), folded=True
        )
        self._masked = {}  # a new dict, not clear(): no thread stores a stale text in it

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secret_spellings)

    @property
    def patient_values(self) -> frozenset[str]:
        return frozenset(self._patient_spellings)

    def holds_secret(self, text: str) -> bool:
        """Whether `text` holds a secret, in any of its spellings."""
        return self._secret_search.found_in(text)

    def text(self, value: str) -> str:
        if len(value) >= SHORT_TEXT:
            return self._text(value)
        key = (value, self.mask_patient_data)
        masked_texts = self._masked
        masked = masked_texts.get(key)
        if masked is None:
            if len(masked_texts) >= MASKED_TEXTS:
                masked_texts.clear()
            masked = masked_texts[key] = self._text(value)
        return masked

    def _text(self, value: str) -> str:
        for prefix, shown in self._paths:
            if prefix in value:
                value = value.replace(prefix, shown)
        value = self._secret_search.sub(MASK, value)
        if "Bearer" in value or "eyJ" in value:  # a test first: most texts hold neither
            value = TOKEN_SHAPES.sub(lambda m: (m.group(1) or "") + MASK, value)
        if self.mask_patient_data:
            value = self._patient_search.sub(PATIENT_MASK, value)
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        masked = {}
        for name, value in headers:
            if name.lower() in SECRET_KEYS:
                # "Bearer ***": the scheme is no secret; anything else is masked whole
                spaced = " " in value and name.lower() == "authorization"
                scheme = value.split(" ", 1)[0] if spaced else ""
                masked[name] = f"{scheme} {MASK}".strip()
            else:
                masked[name] = self.text(value)
        return masked

    def data(self, value: object, *, in_patient: bool = False) -> object:
        """A copy of a JSON-like value with secrets and (by default) patient data masked."""
        if isinstance(value, str):
            return shape(value) if in_patient else self.text(value)
        if isinstance(value, list):
            return [self.data(v, in_patient=in_patient) for v in value]
        if isinstance(value, dict | Mapping):  # dict first: an ABC check costs more
            return {str(k): self._entry(str(k), v, in_patient) for k, v in value.items()}
        return value

    def _entry(self, key: str, value: Any, in_patient: bool) -> object:
        if key.lower() in SECRET_KEYS and value:
            return MASK
        if not self.mask_patient_data:
            return self.data(value)
        if key in DOCUMENT_BODY_KEYS and isinstance(value, str):
            return f"[document body masked: {len(value)} characters]"
        if key in READABLE_KEYS:
            return self.data(value)
        return self.data(value, in_patient=in_patient or key in PATIENT_CONTAINERS)


IDENTIFYING_KEYS = frozenset(
    {"FirstName", "MiddleName", "LastName", "DOB", "SSN", "StreetAddress", "ID", "Home", "Mobile"}
    | {"Office", "Work", "EmailAddresses"}
)
PHONE_KEYS = frozenset({"Home", "Mobile", "Office", "Work"})


def patient_values(patients: Iterable[Mapping[str, Any]]) -> list[str]:
    """The identifying values of test patients (names, birth dates, identifiers, street,
    phones, emails), for masking in free text in any of their spellings (spellings.py)."""
    values: list[str] = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in IDENTIFYING_KEYS:
            values.append(_us_phone(value) or value if key in PHONE_KEYS else value)

    for patient in patients:
        walk(patient)
    return values


def _us_phone(value: str) -> str | None:
    """A US phone number as Redox writes it (+1 and ten digits), whose spellings are masked;
    None for another country's number or no phone number."""
    digits = re.sub(r"\D", "", value)
    if value.lstrip().startswith("+") and not digits.startswith("1"):
        return None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return "+1" + digits if len(digits) == 10 else None

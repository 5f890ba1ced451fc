"""Masking of secrets and patient data before anything is written (reports, logs, exceptions).

The harness records exchanges raw for its own checks; whatever leaves the process goes
through a Redactor first. Two kinds of masking:

- secrets, always: every configured secret value, every token obtained during the run, and
  anything shaped like a bearer token or a JWT, replaced by `***` wherever it appears;
- patient data, on by default: in JSON, the values under a patient's Demographics and
  Identifiers and document bodies are masked by shape (`Timothy` -> `Xxxxxxx`,
  `2008-01-06` -> `9999-99-99`), so the structure stays readable; in free text, every known
  test-patient value (name, birth date, identifier, street, phone) is replaced by `[patient]`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

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
# Below this length one search of the alternation finds a value to mask fastest; above it (a
# 40 MB document body), one substring scan per value beats a regex pass over the text.
SHORT_TEXT = 256
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
        self._secrets: set[str] = set()
        self._patient_values: set[str] = set()
        self._secret_pattern: re.Pattern[str] | None = None
        self._patient_pattern: re.Pattern[str] | None = None
        # Short texts recur in every exchange (codes, OIDs, names): each is masked once, until
        # the values to mask change.
        self._masked: dict[tuple[str, bool], str] = {}
        for value in secrets:
            self.add(value)
        for value in patient_values:
            self.add_patient_value(value)

    def add(self, value: str) -> None:
        """Treat `value` as secret from now on (short values would mask innocent text)."""
        if value and len(value) >= 6:
            self._secrets.add(value)
            for line in value.splitlines():  # a PEM key may leak line by line
                if len(line.strip()) >= 16:
                    self._secrets.add(line.strip())
            self._secret_pattern = _alternation(self._secrets, whole_words=False)
            self._masked = {}  # a new dict, not clear(): no thread stores a stale text in it

    def add_patient_value(self, value: str) -> None:
        """Mask `value` in free text as patient data (when patient data is masked)."""
        value = value.strip()
        if len(value) >= SHORTEST_PATIENT_VALUE:
            self._patient_values.add(value)
            # Whole words only: a birth date inside a longer number is not the birth date.
            self._patient_pattern = _alternation(self._patient_values, whole_words=True)
            self._masked = {}

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    @property
    def patient_values(self) -> frozenset[str]:
        return frozenset(self._patient_values)

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
        # A test before each replacing pass: most texts contain nothing to mask.
        secret = self._secret_pattern
        if secret is not None and _mentions(value, self._secrets, secret):
            value = secret.sub(MASK, value)
        if "Bearer" in value or "eyJ" in value:
            value = TOKEN_SHAPES.sub(lambda m: (m.group(1) or "") + MASK, value)
        patient = self._patient_pattern
        if (
            self.mask_patient_data
            and patient is not None
            and _mentions(value, self._patient_values, patient)
        ):
            value = patient.sub(PATIENT_MASK, value)
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


def _mentions(text: str, values: Iterable[str], alternation: re.Pattern[str]) -> bool:
    """Whether `text` may hold one of `values` (`alternation` matches them): false means there
    is nothing to replace."""
    if len(text) < SHORT_TEXT:
        return alternation.search(text) is not None
    return any(v in text for v in values)


def _alternation(values: Iterable[str], *, whole_words: bool) -> re.Pattern[str]:
    """One pattern for all `values`, longest first (case matters: a secret is exact)."""
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    if whole_words:
        alternatives = rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])"
    return re.compile(alternatives)


IDENTIFYING_KEYS = frozenset(
    {"FirstName", "MiddleName", "LastName", "DOB", "SSN", "StreetAddress", "ID", "Home", "Mobile"}
    | {"Office", "Work", "EmailAddresses"}
)


def patient_values(patients: Iterable[Mapping[str, Any]]) -> list[str]:
    """The identifying values of test patients (names, birth dates, identifiers, street,
    phones, emails), in the forms they are written in, for masking in free text."""
    values: list[str] = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in IDENTIFYING_KEYS:
            values.append(value)
            if key == "DOB":
                values.append(value.replace("-", ""))  # as a CDA writes it
            if value.startswith("+1"):
                values.append(value[2:])  # a phone number without its country code

    for patient in patients:
        walk(patient)
    return values

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

FHIR is recognised by shape, whichever API a run uses: a Patient (or RelatedPerson, Person)
anywhere (top level, a Bundle entry, contained) is masked by shape but for its codes; a Bundle
entry's `fullUrl` of one (`.../Patient/<id>` or `urn:uuid:<id>`) and a reference to a patient
(`Patient/<id>` anywhere; `subject`, `patient`, `sourcePatientInfo`: also their identifier value
and display) keep only their resource type or URN scheme; the patient parameters of a search,
form-encoded (`form`) or in a URL's query (`url`: `link[].url`, a request's URL, `Location`),
are masked by shape; attachment data is replaced by its size. A patient's id is patient data,
as the Data Model's `Identifiers[].ID` is.

Values masked by their place are also learned (at most MAX_LEARNED a run): from then on they are
masked in free text like the test patients' own, so an id or a name an answer echoes in an
OperationOutcome's `diagnostics`, a failure message or a header does not leak. A body is masked
again when it taught something, so an echo in the same body is masked too.
"""

from __future__ import annotations

import contextlib
import re
import string
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote_plus

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
# FHIR R4 (https://hl7.org/fhir/R4/patient.html): inside a Patient these stay readable, codes
# and pointers to other resources (contained resources are masked by their own kind);
# everything else (id, name, birthDate, address, telecom, identifier values, contact, text,
# ...) is masked by shape.
FHIR_READABLE_KEYS = frozenset(
    {"resourceType", "meta", "use", "system", "type", "code", "url", "gender", "country"}
    | {"maritalStatus", "communication", "language", "relationship", "assigner", "rank"}
    | {"contentType", "managingOrganization", "generalPractitioner", "contained"}
)
PATIENT_REFERENCE = "Patient/"  # in a `reference` or a Bundle entry's `fullUrl`
# FHIR resources that describe a person: masked as a Patient is
PERSON_RESOURCES = frozenset({"Patient", "RelatedPerson", "Person"})
# References that point at the patient (DocumentReference.subject, .context.sourcePatientInfo,
# the `patient` of many resources): masked as a Patient is, the reference keeping its type.
PATIENT_REFERENCE_KEYS = frozenset({"subject", "patient", "sourcePatientInfo"})
URL_KEYS = frozenset({"url", "fullUrl", "reference"})  # where a patient's id or search may be
FHIR_KEYS = URL_KEYS | PATIENT_REFERENCE_KEYS | {"attachment"}  # masked by `_fhir_entry`
URL_HEADERS = frozenset({"location", "content-location"})
# Inside a FHIR person or a reference to one, the values learned (see the module docstring):
# ids, identifier and telecom values, names, birth date, street lines, a reference's display.
FHIR_IDENTIFYING_KEYS = frozenset(
    {"id", "value", "family", "given", "text", "line", "birthDate", "display"}
)
MAX_LEARNED = 1000  # values learned a run, at most: each is looked for in every text
# Parameters of form-encoded searches that describe a patient (Redox's Patient/_search,
# DocumentReference/_search; the directory search near a patient's ZIP): on every search ...
SEARCH_PATIENT_PARAMETERS = frozenset(
    {"given", "family", "birthdate", "phone", "email", "telecom", "address", "identifier"}
    | {"patient", "subject"}
)
SEARCH_PATIENT_PREFIXES = ("address-", "patient.")
# ... and on a Patient search also the ones that are the patient's own (`name` of an
# Organization search is the organization's).
PATIENT_SEARCH_PARAMETERS = frozenset({"_id", "name"})
TOKEN_PARAMETERS = frozenset({"identifier", "patient.identifier"})  # system|value
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]+")
MASKED_BODY = re.compile(r"\[document body masked: \d+ characters\]")
SHORTEST_PATIENT_VALUE = 4  # shorter values ("WI", "Al") would mask innocent text
SHORT_TEXT = 256  # shorter texts are remembered once masked
MASKED_TEXTS = 20_000  # short texts remembered, at most
Learned = list[tuple[str, bool]]  # values masked by their place, each whether a phone number
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
        self._learned = 0  # values learned from where they were masked (MAX_LEARNED)
        self._generation = 0  # bumped when the values to mask change
        # The JSON values masked inside a `reusing()` block, by the thread that opened it (one
        # exchange's HAR entry and attachment mask its bodies once): id -> (value, its masked
        # copy, (generation, mask_patient_data) when it was masked)
        self._reuse: tuple[int, dict[int, tuple[object, object, tuple[int, bool]]]] | None = None
        self._adding = threading.Lock()  # values are added and compiled one caller at a time
        for value in secrets:
            self._add_secret(value)
        for value in patient_values:
            self._add_patient_value(value)
        self._compile()

    def add(self, value: str) -> None:
        """Treat `value` as secret from now on (short values would mask innocent text)."""
        with self._adding:
            if self._add_secret(value):
                self._compile()

    def add_patient_value(self, value: str) -> None:
        """Mask `value` in free text as patient data (when patient data is masked)."""
        with self._adding:
            if self._add_patient_value(value):
                self._compile()

    def _learn(self, noted: Learned) -> bool:
        """Mask in free text from now on the values masked by their place (`_note`): not the
        short ones, nor those masked already (a shape is no one's value); whether any was new
        (at most MAX_LEARNED are learned)."""
        with self._adding:
            added = False
            for raw, phone in dict.fromkeys(noted):  # once each, in order
                value = raw.strip()
                if value in self._patient_spellings or shape(value) == value:
                    continue  # known (most calls: each value is seen in every answer)
                if self._learned >= MAX_LEARNED:
                    break
                if self._add_patient_value((_us_phone(value) or value) if phone else value):
                    self._learned += 1
                    added = True
            if added:
                self._compile()
            return added

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
        self._generation += 1

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secret_spellings)

    @property
    def patient_values(self) -> frozenset[str]:
        return frozenset(self._patient_spellings)

    @property
    def learned(self) -> int:
        """How many values were learned from where they were masked."""
        return self._learned

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
            elif name.lower() in URL_HEADERS:  # where a written resource is: Patient/<id>
                masked[name] = self.url(value)
            else:
                masked[name] = self.text(value)
        return masked

    def data(self, value: object) -> object:
        """A copy of a JSON-like value with secrets and (by default) patient data masked; the
        values masked by their place are learned, and the value masked again if any was new."""
        state = self._state()  # before masking: a value added meanwhile makes the copy stale
        learned: Learned = []
        masked = self._data(value, False, learned)
        if learned and self._learn(learned):
            state = self._state()
            masked = self._data(value, False, [])
        memo = self._memo()
        if memo is not None and isinstance(value, dict | list):
            memo[id(value)] = (value, masked, state)
        return masked

    @contextlib.contextmanager
    def reusing(self) -> Iterator[None]:
        """Within the block, in the thread that opened it, a JSON object or list masked by
        `data()` is not masked again where it recurs outside a patient (the same object, the
        same values to mask): an exchange's bodies are masked once for its HAR entry and once
        more, inside its whole document, for its attachment. What the block masked is
        forgotten at its end (an object may change later)."""
        outer, self._reuse = self._reuse, (threading.get_ident(), {})
        try:
            yield
        finally:
            self._reuse = outer

    def _state(self) -> tuple[int, bool]:
        return self._generation, self.mask_patient_data

    def _memo(self) -> dict[int, tuple[object, object, tuple[int, bool]]] | None:
        reuse = self._reuse
        return reuse[1] if reuse is not None and reuse[0] == threading.get_ident() else None

    def _reused(self, value: object) -> object | None:
        memo = self._memo()
        hit = memo.get(id(value)) if memo else None
        if hit is not None and hit[0] is value and hit[2] == self._state():
            return hit[1]
        return None

    def url(self, value: str) -> str:
        """A URL (or a FHIR reference) with a patient's id in its path (`Patient/<id>`) and
        the patient parameters of its query masked by shape, then as free text."""
        learned: Learned = []
        masked = self._url(value, learned)
        if learned and self._learn(learned):
            masked = self._url(value, [])
        return masked

    def form(
        self, params: Mapping[str, Sequence[str]], resource: str | None = None
    ) -> dict[str, list[str]]:
        """Parameters of a form-encoded FHIR search (name -> values) with the patient's masked
        by shape, a token's system kept (`urn:oid:1.2|9999`); `resource` is the resource
        searched (`search_resource`); unknown, the search is taken for a Patient search."""
        learned: Learned = []
        masked = self._form(params, resource, learned)
        if learned and self._learn(learned):
            masked = self._form(params, resource, [])
        return masked

    # The private maskers below note in `learned` each value they mask by its place.

    def _data(self, value: object, in_patient: bool, learned: Learned) -> object:
        if isinstance(value, str):
            return shape(value) if in_patient else self.text(value)
        if isinstance(value, list):
            if self._reuse and not in_patient and (masked := self._reused(value)) is not None:
                return masked  # masked whole already (its key, handled first, aside)
            return [self._data(v, in_patient, learned) for v in value]
        if value is None or isinstance(value, int | float):  # before an ABC check, that costs
            return value
        if isinstance(value, dict | Mapping):  # dict first: an ABC check costs more
            if self._reuse and not in_patient and (masked := self._reused(value)) is not None:
                return masked
            if self.mask_patient_data and not in_patient:
                if value.get("resourceType") in PERSON_RESOURCES:
                    return self._fhir_patient(value, learned)
                form = value.get("form")  # a recorded form-encoded request
                if form is not None and isinstance(form, dict | Mapping):
                    return self._with_form(value, learned)
                if _is_person(value.get("resource")):  # a Bundle entry: its fullUrl too
                    return self._person_entry(value, learned)
            return {str(k): self._entry(str(k), v, in_patient, learned) for k, v in value.items()}
        return value

    def _entry(self, key: str, value: Any, in_patient: bool, learned: Learned) -> object:
        if key.lower() in SECRET_KEYS and value:
            return MASK
        if not self.mask_patient_data:
            return self._data(value, False, learned)
        if key in DOCUMENT_BODY_KEYS and isinstance(value, str):
            return _body(value)
        if key in READABLE_KEYS:
            return self._data(value, False, learned)
        if in_patient:
            if key in IDENTIFYING_KEYS:  # a Data Model patient's
                _note(learned, value, phone=key in PHONE_KEYS)
        elif key in FHIR_KEYS:
            return self._fhir_entry(key, value, learned)
        return self._data(value, in_patient or key in PATIENT_CONTAINERS, learned)

    def _fhir_entry(self, key: str, value: Any, learned: Learned) -> object:
        """A URL or reference masked as a URL (`_url`), a reference to the patient as a
        patient, an attachment's `data` (a document) replaced by its size."""
        if key in URL_KEYS and isinstance(value, str):
            return self._url(value, learned)
        if key == "attachment" and isinstance(value, dict | Mapping):
            return {str(k): self._attached(str(k), v, learned) for k, v in value.items()}
        if key in PATIENT_REFERENCE_KEYS and isinstance(value, dict | Mapping):
            return self._fhir_patient(value, learned)
        return self._data(value, False, learned)

    def _attached(self, key: str, value: Any, learned: Learned) -> object:
        """An attachment's `data` (a document) is replaced by its size."""
        if key == "data" and isinstance(value, str):
            return _body(value)
        return self._entry(key, value, False, learned)

    def _person_entry(self, value: Mapping[Any, Any], learned: Learned) -> dict[str, object]:
        """A Bundle entry of a Patient: its `fullUrl` names the patient too."""
        return {
            str(k): self._patient_link(v, learned)
            if k == "fullUrl" and isinstance(v, str)
            else self._entry(str(k), v, False, learned)
            for k, v in value.items()
        }

    def _fhir_patient(self, value: object, learned: Learned) -> object:
        """A FHIR Patient's content (or a reference to one) masked by shape, its codes
        readable (FHIR_READABLE_KEYS), a reference keeping its resource type."""
        if isinstance(value, str):
            return shape(value)
        if isinstance(value, list):
            return [self._fhir_patient(v, learned) for v in value]
        if not isinstance(value, dict | Mapping):
            return value
        masked: dict[str, object] = {}
        for k, v in value.items():
            key = str(k)
            if key.lower() in SECRET_KEYS and v:
                masked[key] = MASK
            elif key in FHIR_READABLE_KEYS:
                masked[key] = self._data(v, False, learned)
            elif key == "data" and isinstance(v, str):  # a photo
                masked[key] = _body(v)
            elif key == "reference" and isinstance(v, str):
                masked[key] = self._patient_link(v, learned)
            else:
                if key in FHIR_IDENTIFYING_KEYS:
                    _note(learned, v, phone=key == "value" and value.get("system") == "phone")
                masked[key] = self._fhir_patient(v, learned)
        return masked

    def _patient_link(self, value: str, learned: Learned) -> str:
        """A reference to a patient or its Bundle entry's fullUrl: `urn:uuid:<id>` keeps its
        scheme, a URL its resource type; a contained one (`#p1`) names no one."""
        if value.startswith("#"):
            return self.text(value)
        if value.startswith("urn:"):
            head, _, tail = value.rpartition(":")
            _note(learned, tail)
            return f"{head}:{shape(tail)}"
        if PATIENT_REFERENCE in value:
            return self._url(value, learned)
        head, slash, tail = value.rpartition("/")  # another type (a Group): its id masked
        _note(learned, tail)
        return self.text(head) + slash + shape(tail)

    def _url(self, value: str, learned: Learned) -> str:
        if not self.mask_patient_data:
            return self.text(value)
        where, mark, query = value.partition("?")
        masked = _patient_path(where, learned)
        if mark:
            masked += mark + self._query(query, search_resource(value), learned)
        return self.text(masked)

    def _query(self, query: str, resource: str | None, learned: Learned) -> str:
        """A URL's query with its patient parameters masked (as `_form` masks a form's)."""
        pieces = []
        for piece in query.split("&"):
            name, equals, raw = piece.partition("=")
            if equals and _patient_parameter(unquote_plus(name), resource in {None, "Patient"}):
                params = {unquote_plus(name): [unquote_plus(raw)]}
                masked = self._form(params, resource, learned)[unquote_plus(name)][0]
                piece = f"{name}={quote(masked, safe='|:/,')}"
            pieces.append(piece)
        return "&".join(pieces)

    def _form(
        self, params: Mapping[str, Sequence[str]], resource: str | None, learned: Learned
    ) -> dict[str, list[str]]:
        patient_search = resource in {None, "Patient"}
        masked: dict[str, list[str]] = {}
        for name, values in params.items():
            texts = _texts(values)
            if not self.mask_patient_data or not _patient_parameter(name, patient_search):
                masked[name] = [self.text(v) for v in texts]
                continue
            token = _bare(name) in TOKEN_PARAMETERS
            if not name.startswith("address-"):  # a ZIP or a city identifies no one
                _note(learned, [v.rpartition("|")[2] if token else v for v in texts])
            if token:
                masked[name] = [_masked_token(self.text, v) for v in texts]
            else:
                masked[name] = [shape(v) for v in texts]
        return masked

    def _with_form(self, value: Mapping[Any, Any], learned: Learned) -> dict[str, object]:
        """A recorded request whose `form` is masked as search parameters, the resource
        searched read from its `url` (or `path`)."""
        where = value.get("url", value.get("path"))
        resource = search_resource(where) if isinstance(where, str) else None
        return {
            str(k): self._form(v, resource, learned)
            if k == "form"
            else self._entry(str(k), v, False, learned)
            for k, v in value.items()
        }


def _body(value: str) -> str:
    if MASKED_BODY.fullmatch(value):  # masked already (a report read again)
        return value
    return f"[document body masked: {len(value)} characters]"


def _is_person(resource: object) -> bool:
    return (
        resource is not None  # most often: before an ABC check, that costs
        and isinstance(resource, dict | Mapping)
        and resource.get("resourceType") in PERSON_RESOURCES
    )


def _note(learned: Learned, value: object, *, phone: bool = False) -> None:
    """Note the strings of `value` (one, or a list of them) as values to learn (`_learn`)."""
    if isinstance(value, str):
        learned.append((value, phone))
    elif isinstance(value, list):
        learned.extend((item, phone) for item in value if isinstance(item, str))


def _patient_path(path: str, learned: Learned) -> str:
    """`path` with the id after each `Patient/` masked by shape: not an operation or a
    search (`_search`, `$match`), nor a Redox page link's `page/Patient/search/...` (9.1)."""
    if PATIENT_REFERENCE not in path:
        return path
    parts = path.split("/")
    for at in range(len(parts) - 1):
        after = parts[at + 1]
        if parts[at] != "Patient" or not after or after[0] in "_$":
            continue
        if at and parts[at - 1] == "page":
            continue
        _note(learned, after)
        parts[at + 1] = shape(after)
    return "/".join(parts)


def _texts(values: object) -> list[str]:
    """A parameter's values as strings: one value alone, or a list of them (a recorded form
    read back from JSON may hold anything)."""
    if isinstance(values, list | tuple):
        return [str(v) for v in values]
    return [str(values)]


def _bare(name: str) -> str:
    """A search parameter's name without its modifier (`given:exact` -> `given`)."""
    return name.partition(":")[0]


def _patient_parameter(name: str, patient_search: bool) -> bool:
    name = _bare(name)
    return (
        name in SEARCH_PATIENT_PARAMETERS
        or name.startswith(SEARCH_PATIENT_PREFIXES)
        or (patient_search and name in PATIENT_SEARCH_PARAMETERS)
    )


def _masked_token(text: Callable[[str], str], value: str) -> str:
    system, bar, code = value.rpartition("|")
    return text(system) + bar + shape(code)


def search_resource(url: str) -> str | None:
    """The resource type a FHIR search URL or path searches (`.../Patient/_search` or
    `.../DocumentReference?patient=...` -> the type); None when it is no search."""
    path, query, _ = url.partition("?")
    head, _, last = path.rstrip("/").rpartition("/")
    if last == "_search":
        return head.rpartition("/")[2] or None
    return last if query and RESOURCE_TYPE.fullmatch(last) else None


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

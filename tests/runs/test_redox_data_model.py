"""A second opinion on the harness's message shapes from Redox's own data model: the PyPI package
`redox` (pydantic models generated from Redox's schema bundle, redox-api.md 10.2).

Three checks: every message one whole-suite run sends validates strictly (unknown keys
rejected); every field path in fixtures/templates/ exists in the model; each schema's required
fields agree with the model's. Every known difference is listed below with its reason, and in
docs/data-model-differences.md; any other difference fails.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import import_module
from pathlib import Path
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, NamedTuple, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError
from referencing import Registry, Resource

from techval.simulator import RunningSimulator, provision
from techval.validation import templates
from tests.helpers import (
    ROOT,
    RunResult,
    run_techval,
    settings_for,
    shared_run,
    write_environment,
)

pytestmark = pytest.mark.whole_run  # runs techval commands as a whole: not in make test-fast

if TYPE_CHECKING:
    from referencing._core import Resolver  # the type of Registry.resolver(); not re-exported

SCHEMAS = ROOT / "schemas"
TEMPLATES = sorted((ROOT / "fixtures" / "templates").glob("*.yaml"))

# Strict-validation failures of sent messages that are accepted, by (message, path with list
# indices as []): reason. None at redox 2.0.0: Meta.Extensions (the Carequality metadata) is a
# catch-all on every model object, so the extension shapes are not judged by the model.
SENT_ALLOWED: dict[tuple[str, str], str] = {}

# The model of each response schema that has one; push acknowledgements have no model.
RESPONSE_MODELS = {
    "Organization.Query": ("Organization", "QueryResponse"),
    "PatientSearch.Query": ("PatientSearch", "Response"),
    "PatientSearch.LocationQuery": ("PatientSearch", "LocationQueryResponse"),
    "ClinicalSummary.DocumentQuery": ("ClinicalSummary", "DocumentQueryResponse"),
    "ClinicalSummary.DocumentGet": ("ClinicalSummary", "DocumentGetResponse"),
    "ClinicalSummary.PatientQuery": ("ClinicalSummary", "PatientQueryResponse"),
}

# Fields the harness's schemas require and the model leaves optional, by (scope, path): reason.
# A scope is a schema name, "every request" or "every message". The other way round (the model
# requires a field the harness's schema does not) is never accepted: the harness could then send
# a message Redox refuses.
REQUIRED_ONLY_BY_HARNESS: dict[tuple[str, str], str] = {
    ("every request", "Meta.Destinations"): "Redox routes by destination: without one it answers "
    "'No subscriptions. Meta.Destinations needs to contain a destination' (redox-api.md 3.1, 3.4)",
    ("every message", "Meta.Destinations[].ID"): "a destination is named by its ID: one without "
    "cannot be routed, and answers echo the request's destinations (redox-api.md 3.1)",
    ("every message", "Meta.Errors[].Text"): "the model's Meta has no Errors; Redox answers "
    "failures with Meta.Errors[] whose Text the harness reports (redox-api.md 3.4); the shared "
    "Meta piece also describes it for requests, which never carry it",
    ("Organization.New", "Organizations[].Identifiers"): "'OID is the only required "
    "identifier' of a Carequality directory record (redox-api.md 4.1.1)",
    ("Organization.Update", "Organizations[].Identifiers"): "the same record as in "
    "Organization.New, named by its OID identifier (redox-api.md 4.1.1, 4.1.2)",
    ("PatientSearch.Query", "Patient"): "a search needs demographics or identifiers to search "
    "by; the schema also requires one of the two (anyOf)",
    **{
        ("ClinicalSummary.VisitPush", path): "Carequality needs a globally unique document ID, "
        "the patient's identifiers and a LOINC document type on a pushed visit summary "
        "(redox-api.md 4.3.6, INFERRED; the harness's push rules check their values)"
        for path in [
            "Header",
            "Header.Document",
            "Header.Document.ID",
            "Header.Document.TypeCode",
            "Header.Document.TypeCode.Code",
            "Header.Patient",
            "Header.Patient.Identifiers",
            "Header.Patient.Identifiers[].ID",
            "Header.Patient.Identifiers[].IDType",
        ]
    },
}


def model_for(data_model: str, event_type: str) -> type[BaseModel]:
    """The model class of an event, as redox.factory.get_class_type picks it ("Clinical Summary"
    is module clinicalsummary). Not imported from there: redox.factory imports redox.generic,
    which takes about 15 s."""
    model: type[BaseModel] = getattr(
        import_module(f"redox.{data_model.replace(' ', '').lower()}"), event_type
    )
    return model


def _join(at: str, name: str) -> str:
    return f"{at}.{name}" if at else name


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def nested(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside a field's type (X, X | None, list[X]), and whether it is a list."""
    if get_origin(annotation) in (Union, UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not NoneType]
        return nested(inner[0]) if inner else (None, False)
    if get_origin(annotation) is list:
        return nested(get_args(annotation)[0])[0], True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


# --- a. every message the suite sends validates strictly ---------------------------------------


class SuiteRun(NamedTuple):
    messages: list[dict[str, Any]]
    result: RunResult


@pytest.fixture(scope="session")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """The /endpoint request bodies of one whole-suite run against a loopback simulator,
    made once for the session by whichever test worker asks first (helpers.shared_run), the
    bodies its simulator received kept beside it; outcomes do not matter."""

    def make(folder: Path) -> RunResult:
        server = RunningSimulator(provision(settings_for(folder))).start()
        try:
            config = write_environment(folder, simulator=None, base_url=server.url)
            result = run_techval(["--config", str(config)], folder / "reports")
        finally:
            server.stop()
        messages = [
            c.json()
            for c in server.simulator.captured
            if c.path.split("?", 1)[0].rstrip("/") == "/endpoint"
        ]
        (folder / "messages.json").write_text(json.dumps(messages), encoding="utf-8")
        return result

    result = shared_run(tmp_path_factory, "data-model", make)
    messages = json.loads((result.reports.parent / "messages.json").read_text(encoding="utf-8"))
    return SuiteRun(messages, result)


def message_name(message: dict[str, Any]) -> str:
    return f"{message['Meta']['DataModel'].replace(' ', '')}.{message['Meta']['EventType']}"


def strict_failures(messages: list[dict[str, Any]]) -> list[str]:
    """`<message> <path>: <pydantic's reason>` for each strict-validation error not allowed."""
    failures = []
    for message in messages:
        name = message_name(message)
        try:
            model_for(message["Meta"]["DataModel"], message["Meta"]["EventType"]).model_validate(
                message
            )
        except ValidationError as exc:
            for error in exc.errors():
                path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
                if (name, re.sub(r"\[\d+\]", "[]", path[1:])) not in SENT_ALLOWED:
                    failures.append(f"{name} {path[1:]}: {error['msg']} ({error['type']})")
    return failures


def test_the_run_sends_every_request_type(suite_run: SuiteRun) -> None:
    sent = {message_name(m) for m in suite_run.messages}
    expected = {p.stem for p in SCHEMAS.glob("*.json") if not p.stem.endswith(".response")}
    assert sent == expected, (
        f"not sent: {sorted(expected - sent)} (run exit {suite_run.result.code})\n"
        + suite_run.result.stdout[-2000:]
    )


def test_every_sent_message_validates_strictly(suite_run: SuiteRun) -> None:
    assert suite_run.messages
    assert strict_failures(suite_run.messages) == []


def test_strict_validation_names_an_unknown_key(suite_run: SuiteRun) -> None:
    message = json.loads(json.dumps(suite_run.messages[0]))
    message["Meta"]["Destinations"][0]["Nmae"] = "typo"
    name = message_name(message)
    assert strict_failures([message]) == [
        f"{name} Meta.Destinations[0].Nmae: Extra inputs are not permitted (extra_forbidden)"
    ]


# --- b. every field path in the templates exists in the model ----------------------------------


def unknown_paths(template: dict[str, Any], model: type[BaseModel], at: str = "") -> list[str]:
    """Each template key the model does not have, as `<path>: <why>`; a "{placeholder}" value is
    filled at render time and not looked into."""
    problems = []
    fields = _fields(model)
    for key, value in template.items():
        path = _join(at, key)
        if key not in fields:
            problems.append(f"{path}: no such field in the Redox model ({model.__name__})")
            continue
        inner, is_list = nested(fields[key].annotation)
        entries = value if is_list and isinstance(value, list) else [value]
        for index, entry in enumerate(entries):
            where = f"{path}[{index}]" if is_list and isinstance(value, list) else path
            if isinstance(entry, dict) and inner is None:
                problems.append(f"{where}: an object in the template, a value in the model")
            elif isinstance(entry, dict) and inner is not None:
                problems.extend(unknown_paths(entry, inner, where))
    return problems


def template_model(path: Path) -> type[BaseModel]:
    data_model, event_type = path.stem.split(".")
    return model_for(data_model, event_type)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_template_path_exists_in_the_model(path: Path) -> None:
    assert unknown_paths(templates.load(path.stem), template_model(path)) == []


def test_the_templates_are_all_checked() -> None:
    assert {p.stem for p in TEMPLATES} == {
        "ClinicalSummary.VisitPush",
        "PatientAdmin.NewPatient",
        "PatientAdmin.PatientUpdate",
        "PatientAdmin.PatientMerge",
    }


@pytest.mark.parametrize(
    ("event", "template", "expected"),
    [
        (
            ("PatientAdmin", "NewPatient"),
            {"Patient": {"Identifiers": "{ids}", "Demographics": {"PhoneNumbr": {"Home": "1"}}}},
            "Patient.Demographics.PhoneNumbr: no such field in the Redox model "
            "(NewPatientPatientDemographics)",
        ),
        (
            ("ClinicalSummary", "VisitPush"),
            {"Encounters": [{"Identifiers": []}, {"Identifers": [{"ID": "{visit_number}"}]}]},
            "Encounters[1].Identifers: no such field in the Redox model (VisitPushEncounter)",
        ),
        (
            ("ClinicalSummary", "VisitPush"),
            {"Header": {"Document": {"Type": {"Code": "34133-9"}}}},
            "Header.Document.Type: an object in the template, a value in the model",
        ),
    ],
)
def test_a_wrong_template_path_is_named(
    event: tuple[str, str], template: dict[str, Any], expected: str
) -> None:
    assert unknown_paths(template, model_for(*event)) == [expected]


# --- c. the schemas' required fields agree with the model --------------------------------------


def _schema_documents() -> dict[str, dict[str, Any]]:
    return {
        p.relative_to(SCHEMAS).with_suffix("").as_posix(): json.loads(p.read_text("utf-8"))
        for p in sorted(SCHEMAS.rglob("*.json"))
        if "config" not in p.relative_to(SCHEMAS).parts
    }


DOCUMENTS = _schema_documents()
REGISTRY: Registry = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in DOCUMENTS.values() if "$id" in doc
)
REQUESTS = sorted(n for n in DOCUMENTS if "/" not in n and not n.endswith(".response"))


def _merged(schema: dict[str, Any], resolver: Resolver) -> list[tuple[dict[str, Any], Resolver]]:
    """A schema and everything it applies with it ($ref, allOf), each with its own resolver."""
    parts = [(schema, resolver)]
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        parts += _merged(resolved.contents, resolved.resolver)
    for sub in schema.get("allOf", []):
        parts += _merged(sub, resolver)
    return parts


def schema_required(schema: dict[str, Any], resolver: Resolver, at: str = "") -> set[str]:
    """Required field paths (`Patient.Identifiers[].ID`) of a JSON Schema; an anyOf/oneOf counts
    where every alternative that is not just null requires it; if/then and contains do not."""
    found: set[str] = set()
    for part, where in _merged(schema, resolver):
        found |= {_join(at, name) for name in part.get("required", [])}
        for name, sub in part.get("properties", {}).items():
            found |= schema_required(sub, where, _join(at, name))
        if isinstance(part.get("items"), dict):
            found |= schema_required(part["items"], where, f"{at}[]")
        for key in ("anyOf", "oneOf"):
            options = [o for o in part.get(key, []) if o.get("type") != "null"]
            if options:
                found |= set.intersection(*(schema_required(o, where, at) for o in options))
    return found


def model_required(model: type[BaseModel], at: str = "") -> set[str]:
    found = set()
    for key, field in _fields(model).items():
        path = _join(at, key)
        if field.is_required():
            found.add(path)
        inner, is_list = nested(field.annotation)
        if inner is not None:
            found |= model_required(inner, f"{path}[]" if is_list else path)
    return found


def compare(document: dict[str, Any], model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """(required only by the harness's schema, required only by the model)."""
    harness = schema_required(document, REGISTRY.resolver(base_uri=document["$id"]))
    redox = model_required(model)
    return harness - redox, redox - harness


def required_differences(name: str) -> tuple[set[str], set[str]]:
    stem = name.removesuffix(".response")
    event = RESPONSE_MODELS[stem] if name.endswith(".response") else stem.split(".")
    return compare(DOCUMENTS[name], model_for(*event))


def _scopes(name: str) -> set[str]:
    return {name, "every message"} | (set() if name.endswith(".response") else {"every request"})


def _listed_scopes(path: str) -> set[str]:
    return {scope for scope, listed in REQUIRED_ONLY_BY_HARNESS if listed == path}


COMPARED = [*REQUESTS, *(f"{n}.response" for n in RESPONSE_MODELS)]


@pytest.mark.parametrize("name", COMPARED)
def test_required_fields_agree_with_the_model(name: str) -> None:
    harness_only, model_only = required_differences(name)
    unlisted = {p for p in harness_only if not _scopes(name) & _listed_scopes(p)}
    assert model_only == set(), "required by Redox's model, not by the harness's schema"
    assert unlisted == set(), "required by the harness only, without a reason listed"


def test_required_paths_are_found_through_refs_and_a_missing_one_is_named() -> None:
    document = copy.deepcopy(DOCUMENTS["PatientSearch.LocationQuery"])
    required = schema_required(document, REGISTRY.resolver(base_uri=document["$id"]))
    assert {"Meta.DataModel", "Meta.Destinations[].ID", "Patient.Identifiers[].IDType"} <= required
    document["required"].remove("Patient")
    assert compare(document, model_for("PatientSearch", "LocationQuery"))[1] == {"Patient"}


def test_every_listed_difference_still_exists() -> None:
    found = {(name, p) for name in COMPARED for p in required_differences(name)[0]}
    stale = {
        (scope, path)
        for scope, path in REQUIRED_ONLY_BY_HARNESS
        if not any(p == path and scope in _scopes(name) for name, p in found)
    }
    assert stale == set()


def test_the_comparison_covers_every_request_type() -> None:
    assert REQUESTS == [
        "ClinicalSummary.DocumentGet",
        "ClinicalSummary.DocumentQuery",
        "ClinicalSummary.PatientQuery",
        "ClinicalSummary.VisitPush",
        "Organization.New",
        "Organization.Query",
        "Organization.Update",
        "PatientAdmin.NewPatient",
        "PatientAdmin.PatientMerge",
        "PatientAdmin.PatientUpdate",
        "PatientSearch.LocationQuery",
        "PatientSearch.Query",
    ]

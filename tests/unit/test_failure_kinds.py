"""Failure kinds are classes: each names its report category, whatever its message says."""

from __future__ import annotations

import gc
import json
import re
import shutil
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any

import pytest
from allure_commons import model2 as allure_model
from pytest_bdd.exceptions import StepDefinitionNotFoundError

from techval.core import errors
from techval.core.errors import (
    CONFORMANCE,
    COULD_NOT_RUN,
    HARNESS_ERROR,
    NOT_OFFERED,
    TEST_DATA,
    TEST_DATA_CATEGORY,
    AuthError,
    BreaksRedoxRule,
    BreaksRequestSchema,
    CheckFailed,
    ConfigError,
    CouldNotRun,
    InvalidMessage,
    MalformedResponse,
    NotFound,
    NotOffered,
    NotRun,
    ReadbackMismatch,
    RedoxRefused,
    ScenarioTimeout,
    SchemaMismatch,
    TestDataMismatch,
    TokenEndpointUnreachable,
    TransportError,
    WrongContent,
    category_of,
    category_of_class,
    failure_kind,
)
from techval.core.exchange import Exchange
from techval.core.paths import project_root
from techval.core.redaction import Redactor
from techval.core.schemas import Violation
from techval.harness.evidence import html
from techval.harness.evidence.allure_files import (
    RedactingFileLogger,
    category_marker,
    mark_category,
    raised_class,
)
from techval.harness.evidence.leaks import embedded
from techval.validation import checks, documents, search, waiting
from techval.validation.patients import TestPatient

SECRET = "configured-secret-0123456789"  # a test value


def make(kind: type[BaseException], text: str = "something went wrong") -> BaseException:
    if issubclass(kind, TestDataMismatch):
        return kind("alias", "Demographics", text)
    if issubclass(kind, NotOffered):
        return kind(text, "FHIR API")
    return kind(text)


KINDS: list[tuple[type[BaseException], str | None, str | None, str]] = [
    # class, category, failure_kind, Allure status
    (SchemaMismatch, "Response did not match schema", CONFORMANCE, "failed"),
    (RedoxRefused, "Redox answered with an error", CONFORMANCE, "failed"),
    (NotFound, "Expected result not found", CONFORMANCE, "failed"),
    (ReadbackMismatch, "Record read back differs from what was sent", CONFORMANCE, "failed"),
    (WrongContent, "Answer content is wrong", CONFORMANCE, "failed"),
    (CheckFailed, "Conformance check failed", CONFORMANCE, "failed"),
    (InvalidMessage, "Your message is invalid (not sent)", CONFORMANCE, "broken"),
    (BreaksRequestSchema, "Your message is invalid (not sent)", CONFORMANCE, "broken"),
    (BreaksRedoxRule, "Your message is invalid (not sent)", CONFORMANCE, "broken"),
    (TransportError, "Could not connect / timed out", COULD_NOT_RUN, "broken"),
    (ScenarioTimeout, "Could not connect / timed out", COULD_NOT_RUN, "broken"),
    (MalformedResponse, "Malformed HTTP response", COULD_NOT_RUN, "broken"),
    (CouldNotRun, "Could not run", COULD_NOT_RUN, "broken"),
    (ConfigError, "Could not run", COULD_NOT_RUN, "broken"),
    (AuthError, "Could not run", COULD_NOT_RUN, "broken"),
    (TokenEndpointUnreachable, "Could not connect / timed out", COULD_NOT_RUN, "broken"),
    (TestDataMismatch, TEST_DATA_CATEGORY, TEST_DATA, "skipped"),
    (NotRun, "Not run: the environment stopped answering", COULD_NOT_RUN, "skipped"),
    (NotOffered, "Not offered by this API", NOT_OFFERED, "skipped"),
    (KeyError, None, HARNESS_ERROR, "broken"),
]


def exchange(**changes: Any) -> Exchange:
    values: dict[str, Any] = {
        "label": "PatientSearch.Query",
        "method": "POST",
        "url": "https://api.example/endpoint",
        "request_headers": {},
        "request_body": {},
        "started_at": "2026-11-21T10:00:00Z",
        "status": 200,
        "response_headers": {"content-type": "application/json"},
        "response_body": {"Meta": {}},
    }
    values.update(changes)
    return Exchange(**values)


def exconly(error: BaseException) -> str:
    """What allure-pytest-bdd writes as statusDetails.message: pytest's excinfo.exconly()."""
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def marked(error: BaseException, trace: str = "Traceback: ...") -> allure_model.TestResult:
    """An Allure result of a scenario that ended with `error`, marked as the writer does."""
    result = allure_model.TestResult(
        status=errors.allure_status(type(error)),
        statusDetails=allure_model.StatusDetails(message=exconly(error), trace=trace),
    )
    mark_category(result, raised_class(result))
    return result


def matching(status: str, message: str | None, trace: str | None) -> list[str]:
    """html.CATEGORIES as Allure 2 applies them (the whole text must match)."""
    found = []
    for rule in html.CATEGORIES:
        if status not in rule["matchedStatuses"]:
            continue
        if "messageRegex" in rule and not re.fullmatch(rule["messageRegex"], message or ""):
            continue
        if "traceRegex" in rule and not re.fullmatch(rule["traceRegex"], trace or ""):
            continue
        found.append(rule["name"])
    return found


def filed_under(error: BaseException) -> list[str]:
    result = marked(error)
    return matching(str(result.status), result.statusDetails.message, result.statusDetails.trace)


# --- each kind: its category, its failure kind, its status -------------------------------


@pytest.mark.parametrize(("kind", "category", "failure", "status"), KINDS)
def test_each_kind_has_its_category_and_failure_kind(
    kind: type[BaseException], category: str | None, failure: str, status: str
) -> None:
    error = make(kind)
    assert category_of(error) == category_of_class(kind) == category
    assert failure_kind(error) == failure
    assert errors.allure_status(kind) == status
    assert filed_under(error) == ([category] if category else [])


def test_statuses_keep_their_base_classes() -> None:
    assert issubclass(SchemaMismatch, AssertionError) and issubclass(RedoxRefused, CheckFailed)
    assert issubclass(BreaksRedoxRule, errors.TechvalError)
    assert not issubclass(InvalidMessage, AssertionError)
    assert issubclass(ScenarioTimeout, CouldNotRun)
    assert issubclass(TestDataMismatch, pytest.skip.Exception)


def test_no_error_plain_skips_and_harness_errors_have_no_category() -> None:
    assert category_of(None) is None
    assert category_of(pytest.skip.Exception("skipped")) is None
    assert category_of(RuntimeError("the harness broke")) is None
    assert category_of(StepDefinitionNotFoundError("no step")) == "Could not run"


def test_a_subclass_inherits_its_category_along_the_mro() -> None:
    class SlowSchemaMismatch(SchemaMismatch):
        pass

    class OwnKind(NotFound):
        category = "Something new"

    assert category_of(SlowSchemaMismatch("x")) == "Response did not match schema"
    assert category_of(OwnKind("x")) == "Something new"
    assert errors.categories()["Something new"] == ["failed"]
    del SlowSchemaMismatch, OwnKind
    gc.collect()  # __subclasses__ forgets them
    assert "Something new" not in errors.categories()


def test_every_category_is_a_report_category_matched_by_its_marker_only() -> None:
    names = [rule["name"] for rule in html.CATEGORIES]
    assert len(names) == len(set(names))
    assert set(names) == {category for _, category, _, _ in KINDS if category}
    for rule in html.CATEGORIES:
        assert set(rule) == {"name", "matchedStatuses", "traceRegex"}  # no message words
        assert re.fullmatch(rule["traceRegex"], f"a\ntrace\n\n{category_marker(rule['name'])}")


# --- rewording a message does not move a failure -------------------------------------------


def test_rewording_a_checks_message_keeps_its_category() -> None:
    with pytest.raises(CheckFailed) as caught:
        checks.answered(exchange(violations=[Violation("$.Meta", "required field missing")]))
    original = caught.value
    reworded = type(original)("PatientSearch.Query: la réponse ne correspond pas au schéma")
    misleading = type(original)("PatientSearch.Query: Redox answered HTTP 500: cannot reach")
    for error in (original, reworded, misleading):
        assert category_of(error) == "Response did not match schema"
        assert filed_under(error) == ["Response did not match schema"]


@pytest.mark.parametrize(("kind", "category", "failure", "status"), KINDS)
def test_categories_do_not_depend_on_message_words(
    kind: type[BaseException], category: str | None, failure: str, status: str
) -> None:
    for text in ("", "x", "Redox answered HTTP 500", "the response does not match", "timed out"):
        assert filed_under(make(kind, text)) == ([category] if category else [])


def test_the_old_english_phrases_alone_file_nothing() -> None:
    trace = "Traceback ...\nE   AssertionError: the response does not match X.json"
    for message in (
        "techval.core.errors.CheckFailed: Q: Redox answered HTTP 500: boom",
        "AssertionError: the response does not match X.json: $.a",
        "techval.core.errors.TransportError: Q: cannot reach (ConnectError)",
    ):
        assert matching("failed", message, trace) == matching("broken", message, trace) == []


# --- the raise sites raise their kind ---------------------------------------------------


def patient() -> TestPatient:
    return TestPatient("test patient 1", {"FirstName": "Timothy"})


MATCH = {"Patient": {"Identifiers": [{"ID": "1", "IDType": "MRN"}]}, "Meta": {}}


@pytest.mark.parametrize(
    ("check", "kind"),
    [
        (lambda: checks.succeeded(exchange(status=500)), RedoxRefused),
        (
            lambda: checks.succeeded(
                exchange(response_body={"Meta": {"Errors": [{"Text": "boom"}]}})
            ),
            RedoxRefused,
        ),
        (lambda: checks.answered(exchange(oversized=True)), SchemaMismatch),
        (
            lambda: checks.answered(exchange(response_body=None, response_text="<html>")),
            SchemaMismatch,
        ),
        (lambda: documents.listed(exchange(response_body={"Documents": []})), NotFound),
        (lambda: documents.check_cda(exchange(), "<ClinicalDocument"), WrongContent),
        (lambda: documents.check_cda(exchange(), "<html/>"), WrongContent),
        (lambda: documents.expect_no_documents(exchange(status=500), patient()), RedoxRefused),
        (
            lambda: documents.expect_no_documents(
                exchange(violations=[Violation("$.Documents", "required")]), patient()
            ),
            WrongContent,
        ),
        (lambda: search.found(exchange(response_body={"Meta": {}}), patient()), NotFound),
        (lambda: search.no_match(exchange(response_body=MATCH), patient()), WrongContent),
        (
            lambda: search.matched(exchange(response_body={"Patient": {"Identifiers": []}})),
            WrongContent,
        ),
        (
            lambda: waiting.poll(
                lambda _: None, what="x", attempts=2, deadline=60, interval=0, sleep=lambda _: None
            ),
            NotFound,
        ),
        (
            lambda: waiting.poll(
                lambda _: waiting.Miss("Name: differs"),
                what="x",
                attempts=2,
                deadline=60,
                interval=0,
                sleep=lambda _: None,
            ),
            ReadbackMismatch,
        ),
    ],
)
def test_checks_raise_their_kind(check: Any, kind: type[BaseException]) -> None:
    with pytest.raises(kind) as caught:
        check()
    assert type(caught.value) is kind


# --- the results writer marks each result, Allure 3 files it by the marker ----------------


def test_raised_class_resolves_the_type_name_allure_pytest_bdd_writes() -> None:
    def of(message: str | None) -> type[BaseException] | None:
        details = allure_model.StatusDetails(message=message)
        return raised_class(allure_model.TestResult(statusDetails=details))

    assert of("techval.core.errors.SchemaMismatch: Q: la réponse\nmore") is SchemaMismatch
    assert of("techval.core.errors.ScenarioTimeout") is ScenarioTimeout
    assert of("pytest_bdd.exceptions.StepDefinitionNotFoundError: Step definition is not found")
    assert of("KeyError: 'x'") is None  # a builtin: no category
    assert of("techval.core.errors.NoSuchClass: x") is None
    assert of("not.a.loaded.module.Error: x") is None  # nothing is imported
    assert of("techval.core.errors.TEST_DATA_CATEGORY: not a class") is None
    assert of(None) is None and of("") is None


def test_marking_is_idempotent_and_creates_a_trace_when_there_is_none() -> None:
    result = allure_model.TestResult(
        status="failed", statusDetails=allure_model.StatusDetails(message="m")
    )
    mark_category(result, NotFound("x"))
    mark_category(result, NotFound)
    assert result.statusDetails.trace == category_marker("Expected result not found")
    unmarked = allure_model.TestResult(status="broken")
    mark_category(unmarked, RuntimeError("harness"))
    assert unmarked.statusDetails is None


def test_the_writer_marks_results_and_redacts_before(tmp_path: Path) -> None:
    refused: list[OSError] = []
    logger = RedactingFileLogger(tmp_path, lambda: Redactor([SECRET]), refused.append)
    error = RedoxRefused(f"PatientSearch.Query: Redox answered HTTP 500: {SECRET}")
    logger.report_result(
        allure_model.TestResult(
            uuid="u1",
            name="Search",
            status=allure_model.Status.FAILED,
            statusDetails=allure_model.StatusDetails(message=exconly(error), trace="E   boom"),
        )
    )
    written = json.loads(next(tmp_path.glob("*-result.json")).read_text())
    details = written["statusDetails"]
    assert SECRET not in json.dumps(written) and not refused
    assert details["trace"].endswith("\n\n[techval category: Redox answered with an error]")
    assert matching("failed", details["message"], details["trace"]) == [
        "Redox answered with an error"
    ]


NODE_MATCH = """
import { normalizeCategoriesConfig, matchCategory } from "@allurereport/core-api";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { categories, results } = JSON.parse(input);
const rules = normalizeCategoriesConfig(categories);
const names = results.map((r) => matchCategory(rules, { labels: [], flaky: false, ...r })?.name);
console.log(JSON.stringify(names));
"""


def allure3_core() -> Path | None:
    root = project_root()
    found = (root / "node_modules/@allurereport/core-api/package.json").is_file()
    return root if found and shutil.which("node") else None


@pytest.mark.skipif(allure3_core() is None, reason="Allure 3 (npm) is not installed")
def test_allure3_files_each_kind_by_its_marker_whatever_the_message() -> None:
    """Allure 3's own matching (@allurereport/core-api matchCategory) on html.CATEGORIES."""
    results, expected = [], []
    for kind, category, _, status in KINDS:
        for text in ("as worded today", "Redox answered HTTP 500: the response does not match"):
            result = marked(make(kind, text), trace="Traceback:\n" + "frame\n" * 200)
            details = result.statusDetails
            results.append({"status": status, "message": details.message, "trace": details.trace})
            expected.append(category or "Test errors")  # Allure's default for "broken"
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_MATCH],
        input=json.dumps({"categories": html.CATEGORIES, "results": results}),
        capture_output=True,
        text=True,
        cwd=allure3_core(),
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == expected


FEATURE = """
Feature: Kinds
  Scenario: schema
    Given a step raising SchemaMismatch with "the response does not match X.json"

  Scenario: reworded
    Given a step raising SchemaMismatch with "Redox answered HTTP 500"

  Scenario: refused
    Given a step raising RedoxRefused with "anything at all"

  Scenario: not applicable
    Given a step raising TestDataMismatch with "several people match"

  Scenario: undefined
    Given a step nobody defined
"""

STEPS = """
from pytest_bdd import given, parsers, scenarios

from techval.core import errors

scenarios("kinds.feature")


@given(parsers.parse('a step raising {name} with "{text}"'))
def raising(name, text):
    kind = getattr(errors, name)
    raise kind("alias", "key", text) if name == "TestDataMismatch" else kind(text)
"""

CONFTEST = """
from techval.core.redaction import Redactor
from techval.harness.evidence.allure_files import guard_results


def refused(error):
    raise error


def pytest_sessionstart(session):
    session.config.techval_unguard = guard_results(lambda: Redactor(), refused)


def pytest_unconfigure(config):
    config.techval_unguard()
"""


def test_a_real_run_is_filed_by_class_in_the_allure_report(tmp_path: Path) -> None:
    """allure-pytest-bdd writes the results (--tb=short, as `techval run`), the redacting
    writer marks them; Allure 3, when installed, builds its categories from them."""
    (tmp_path / "kinds.feature").write_text(FEATURE)
    (tmp_path / "test_kinds.py").write_text(STEPS)
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    results = tmp_path / "allure-results"
    options = ["-p", "no:cacheprovider", f"--rootdir={tmp_path}", f"--alluredir={results}"]
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--tb=short", "--assert=plain", *options],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    filed = {}
    for path in results.glob("*-result.json"):
        written = json.loads(path.read_text())
        details = written.get("statusDetails") or {}
        filed[written["name"]] = matching(
            written["status"], details.get("message"), details.get("trace")
        )
    assert filed == {
        "schema": ["Response did not match schema"],
        "reworded": ["Response did not match schema"],
        "refused": ["Redox answered with an error"],
        "not applicable": [TEST_DATA_CATEGORY],
        "undefined": ["Could not run"],
    }
    if html.allure3() is None:
        return
    outcome = html.generate(results, tmp_path / "allure-report", name="kinds")
    assert outcome.written is not None, outcome.message
    widget = json.loads(embedded(outcome.written.read_text())["widgets/categories.json"])
    nodes = widget["nodes"]

    def scenarios_under(node_id: str) -> set[str]:
        node = nodes[node_id]
        if node["type"] == "tr":
            return {node["name"]}
        return set().union(*(scenarios_under(child) for child in node.get("childrenIds", [])))

    assert {nodes[root]["name"]: scenarios_under(root) for root in widget["roots"]} == {
        "Response did not match schema": {"schema", "reworded"},
        "Redox answered with an error": {"refused"},
        TEST_DATA_CATEGORY: {"not applicable"},
        "Could not run": {"undefined"},
    }

"""JUnit and the Allure results made to say of a scenario what the verdict says, where the
process that would have written them could not: a scenario no merged shard ran, one whose
worker died, one a stopped run never reached or never finished. Each scenario's Allure result
carries its node ID as a label (NODE_LABEL), so it is found whatever its parameters show."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from techval.harness.evidence.allure_files import category_marker
from techval.harness.evidence.outcomes import BROKEN, FAILED, SKIPPED, ScenarioOutcome
from techval.validation.catalogue import BY_KEY, EPIC

NODE_LABEL = "techval_node"
JUNIT_TAGS = {SKIPPED: "skipped", BROKEN: "error", FAILED: "failure"}


def restate(
    outcomes: Sequence[ScenarioOutcome],
    results: Path | None,
    junit: Path | None,
    category: str | None = None,
) -> None:
    """Each of `outcomes` with its status and message in the Allure results folder (its
    result rewritten, or written) and in the JUnit file (its case rewritten, or added)."""
    if not outcomes:
        return
    if results is not None and results.is_dir():
        written = _results_by_node(results)
        for outcome in outcomes:
            _allure(results, written.get(outcome.nodeid), outcome, category)
    if junit is not None and junit.is_file():
        _junit(junit, outcomes)


def _results_by_node(results: Path) -> dict[str, Path]:
    found = {}
    for path in results.glob("*-result.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        for label in document.get("labels") or []:
            if label.get("name") == NODE_LABEL:
                found[str(label.get("value"))] = path
    return found


def _allure(
    results: Path, path: Path | None, outcome: ScenarioOutcome, category: str | None
) -> None:
    details = {"message": outcome.message}
    details |= {"trace": category_marker(category)} if category else {}
    if path is not None:  # written before its process died, or before the run stopped
        written = json.loads(path.read_text(encoding="utf-8"))
        written["status"], written["statusDetails"] = outcome.status, details
        path.write_text(json.dumps(written, ensure_ascii=False), encoding="utf-8")
        return
    now = int(time.time() * 1000)
    step = BY_KEY.get(outcome.step or "")
    labels = [{"name": "epic", "value": EPIC}, {"name": NODE_LABEL, "value": outcome.nodeid}]
    labels += [{"name": "feature", "value": step.label}] if step else []
    document: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "historyId": hashlib.md5(outcome.nodeid.encode(), usedforsecurity=False).hexdigest(),
        "name": outcome.name,
        "fullName": f"{outcome.feature_file}:{outcome.name}",
        "status": outcome.status,
        "statusDetails": details,
        "parameters": [{"name": k, "value": v} for k, v in outcome.parameters.items()],
        "labels": labels,
        "start": now,
        "stop": now,
    }
    target = results / f"{document['uuid']}-result.json"
    target.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def junit_case(nodeid: str) -> tuple[str, str]:
    """pytest's JUnit (classname, name) of a test: "steps/test_x.py::test_y[p]" ->
    ("steps.test_x", "test_y[p]")."""
    module, _, name = nodeid.partition("::")
    return module.removesuffix(".py").replace("/", "."), name


def _junit(path: Path, outcomes: Sequence[ScenarioOutcome]) -> None:
    tree = ET.parse(path)  # noqa: S314 (the run's own JUnit file)
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        return
    for suite in suites:  # pytest leaves a nameless case for the test a Ctrl-C cut short
        for case in [c for c in suite.findall("testcase") if not c.get("name")]:
            suite.remove(case)
    cases = {
        (case.get("classname", ""), case.get("name", "")): case
        for suite in suites
        for case in suite.iter("testcase")
    }
    for outcome in outcomes:
        classname, name = junit_case(outcome.nodeid)
        found = cases.get((classname, name))
        case = (
            found
            if found is not None
            else ET.SubElement(suites[0], "testcase", classname=classname, name=name, time="0")
        )
        for child in list(case):
            if child.tag in ("failure", "error", "skipped"):
                case.remove(child)
        tag = JUNIT_TAGS.get(outcome.status or SKIPPED)
        if tag is not None:
            ET.SubElement(case, tag, message=outcome.message)
    for suite in suites:
        members = list(suite.iter("testcase"))
        suite.set("tests", str(len(members)))
        for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            suite.set(key, str(sum(1 for case in members if case.find(tag) is not None)))
    tree.write(path, encoding="utf-8", xml_declaration=True)

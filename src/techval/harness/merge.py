"""`techval merge DIR... --reports OUT`: the reports of several runs (the shards of one suite,
run on several machines) folded into one reports folder, as if one run had made them: one
event stream, and from it one verdict (compared with OUT's history), one HAR; one JUnit file;
one Allure results folder. `techval bundle` and `techval report` then work on OUT."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from techval.core.errors import CouldNotRun, NotRun
from techval.harness import events
from techval.harness.evidence import agree
from techval.harness.evidence.assemble import NOT_HELD, assemble
from techval.harness.evidence.inputs import Inputs
from techval.harness.evidence.writing import write_evidence

RESULTS = "allure-results"
REWRITTEN = {"environment.properties", "executor.json", "categories.json"}


def merge(sources: list[Path], out: Path, inputs: Inputs) -> dict[str, Any]:
    """Fold `sources` into `out`; the merged verdict. CouldNotRun names a folder that is
    not the reports of a run, or runs of different environments."""
    _check(sources, out)
    out.mkdir(parents=True, exist_ok=True)
    events.clear(out)
    (out / events.EVENTS).mkdir(exist_ok=True)
    for number, source in enumerate(sources, start=1):
        for path in events.files([source]):
            shutil.copyfile(path, out / events.EVENTS / f"{number}-{path.name}")
    _merge_results(sources, out / RESULTS)
    merged = write_evidence([out], out, inputs, merging=True)
    if merged is None:
        raise CouldNotRun("the reports hold no scenario: nothing to merge")
    found = assemble(events.read([out]), merging=True).outcomes
    not_held = [outcome for outcome in found if outcome.message == NOT_HELD]
    _merge_junit(sources, out / "junit.xml")
    # a shard whose events are lost may have left JUnit cases and Allure results: the verdict
    # says those scenarios were not run, and so do the other two
    agree.restate(not_held, out / RESULTS, out / "junit.xml", NotRun.category)
    return merged


def _check(sources: list[Path], out: Path) -> None:
    if not sources:
        raise CouldNotRun("merge: name the reports folders to merge")
    names: dict[str, Path] = {}
    ran_in: dict[str, Path] = {}  # scenario node ID -> the folder whose run collected it
    for source in sources:
        if source.resolve() == out.resolve():
            raise CouldNotRun(f"merge: {source} is also --reports: merge into a new folder")
        if not events.files([source]):
            raise CouldNotRun(f"merge: {source}: no events/*.jsonl: not the reports of a run")
        mine: dict[str, str] = {}
        for event in events.read([source]):
            if isinstance(event, events.RunStarted) and event.environment is not None:
                names.setdefault(str(event.environment.get("environment")), source)
            if isinstance(event, events.ScenarioCollected):
                mine[event.scenario] = event.name
        for scenario, name in mine.items():  # (a run's workers all collect the same)
            if scenario in ran_in:
                raise CouldNotRun(
                    f"merge: {ran_in[scenario]} and {source} both hold {name!r}: the same "
                    "shard twice, or shards of different splits"
                )
            ran_in[scenario] = source
    if len(names) > 1:
        listed = ", ".join(f"{name} ({path})" for name, path in names.items())
        raise CouldNotRun(f"merge: the reports come from different environments: {listed}")


def _merge_results(sources: list[Path], results: Path) -> None:
    """Allure names every result and attachment by a UUID: the files sit side by side."""
    if results.is_dir():
        shutil.rmtree(results)
    results.mkdir(parents=True)
    for source in sources:
        for path in sorted((source / RESULTS).glob("*")):
            if path.is_file() and path.name not in REWRITTEN:
                shutil.copyfile(path, results / path.name)


def _merge_junit(sources: list[Path], target: Path) -> None:
    """One <testsuite> holding every test case, its counts and time summed."""
    merged = ET.Element("testsuite", name="techval")
    totals = dict.fromkeys(("tests", "errors", "failures", "skipped"), 0)
    seconds = 0.0
    for source in sources:
        path = source / "junit.xml"
        if not path.is_file():  # the merged JUnit would not agree with the merged verdict
            raise CouldNotRun(f"merge: {source}: no junit.xml: the run did not finish writing")
        try:
            root = ET.parse(path).getroot()  # noqa: S314 (our own JUnit files)
        except ET.ParseError as exc:
            raise CouldNotRun(f"merge: {path}: not JUnit XML ({exc})") from None
        for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
            seconds += float(suite.get("time", "0"))
            merged.extend(suite.findall("testcase"))
    for key, value in totals.items():
        merged.set(key, str(value))
    merged.set("time", f"{seconds:.3f}")
    suites = ET.Element("testsuites")
    suites.append(merged)
    ET.ElementTree(suites).write(target, encoding="utf-8", xml_declaration=True)

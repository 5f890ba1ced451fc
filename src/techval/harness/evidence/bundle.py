"""`techval bundle`: one zip for the validation request. It holds the single-file report, a
Markdown summary, verdict.json, the JUnit XML, the HAR of all exchanges, requirements.csv
(each requirement with its verdict and Redox log IDs), the reproduction
scripts of the failed exchanges (reproduce/, when any) and a SHA-256 manifest
(`sha256sum -c SHA256SUMS` checks it). The leak scan runs first; a leak stops the bundle."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from techval.core.errors import NOT_OFFERED, TEST_DATA, CouldNotRun
from techval.core.redaction import Redactor
from techval.harness.evidence import leaks, reproduce, sections, verdict

CONTENTS = {  # name in the zip: path under reports/
    "report.html": "allure-report/index.html",
    "verdict.json": "verdict.json",
    "junit.xml": "junit.xml",
    "exchanges.har": "exchanges.har",
}
WHEN_WRITTEN = {  # parts an older or partial run may not have written
    "requirements.csv": "requirements.csv",
}
ICONS = {
    "passed": "✅",
    "failed": "❌",
    "broken": "❌",
    "skipped": "⏭️",
    "incomplete": "⚠️",
    "not_selected": "⬜",
    "not_offered": "⊘",
}


class LeakFound(CouldNotRun):
    """The leak scan found a secret or patient data in the reports."""


def summary(result: Mapping[str, Any]) -> str:
    """The Markdown summary: each validation step with its verdict, date, environment and the
    Redox log IDs of its exchanges."""
    env = result["environment"]
    lines = [
        f"# Tech validation evidence: {env.get('environment', '?')}",
        "",
        f"- Verdict: **{result['verdict'].upper()}**"
        + (" (run interrupted)" if result.get("interrupted") else ""),
        f"- Run: {result['started_at']} to {result['finished_at']}",
        f"- Environment: {env.get('environment')} at {env.get('base_url')}, "
        f"client {env.get('client_id') or '-'}",
        f"- Harness: techval {env.get('harness_version')} ({env.get('git_revision')}), "
        f"schema set {env.get('schema_set')}",
        f"- Patient data in these files: {env.get('patient_data', 'masked')}",
        "",
        "| Validation step | Verdict | Scenarios passed | Redox log IDs |",
        "|---|---|---|---|",
    ]
    for step in result["steps"]:
        ids = [i for s in step["scenarios"] for i in s["redox_log_ids"]]
        counts = step["counts"]
        lines.append(
            f"| {step['number']}. {step['title']} | {ICONS.get(step['verdict'], '')} "
            f"{step['verdict']} | {counts['passed']}/{counts['total']} | {len(ids)} |"
        )
    for step in result["steps"]:
        lines += ["", f"## {step['number']}. {step['title']}: {step['verdict']}", ""]
        lines.append(f"Follows {step['doc_url']}")
        lines.append("")
        for scenario in step["scenarios"]:
            params = ", ".join(f"{k}={v}" for k, v in scenario["parameters"].items())
            name = scenario["name"] + (f" [{params}]" if params else "")
            status = {
                TEST_DATA: "not applicable with this test data",
                NOT_OFFERED: "not offered by this API",
            }.get(scenario.get("kind") or "", scenario["status"])
            lines.append(f"- {ICONS.get(scenario['status'], '')} {status}: {name}")
            if scenario["message"]:
                lines.append(f"  - {scenario['message']}")
            if scenario["redox_log_ids"]:
                lines.append(f"  - Redox log IDs: {', '.join(scenario['redox_log_ids'])}")
        lines += [
            f"- {ICONS['not_selected']} not selected: {name}"
            for name in step.get("not_selected", [])
        ]
        if not step["scenarios"]:
            lines.append("- no scenario of this step ran")
    comparison = result.get("since_last_green") or {}
    if comparison.get("against"):
        regressed = ", ".join(comparison["regressed"]) or "none"
        lines += ["", f"Regressed since the last green run: {regressed}"]
    lines += sections.summary_lines(result)
    return "\n".join(lines) + "\n"


def make(reports: Path, redactor: Redactor) -> Path:
    """Scan reports/ for leaks, then write the evidence zip; CouldNotRun on a missing part."""
    found = leaks.scan(reports, redactor)
    if found:
        listed = "; ".join(str(leak) for leak in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise LeakFound(f"leak scan failed, no bundle written: {listed}{more}")
    result = verdict.read(reports / "verdict.json")
    if result is None:
        raise CouldNotRun(f"no {reports / 'verdict.json'}: run `techval run` first")
    missing = [path for path in CONTENTS.values() if not (reports / path).is_file()]
    if missing:
        hint = (
            " (`techval report` writes the HTML; it needs Node.js)"
            if "allure" in missing[0]
            else ""
        )
        raise CouldNotRun(f"cannot bundle: {reports / missing[0]} is missing{hint}")
    files = {name: (reports / path).read_bytes() for name, path in CONTENTS.items()}
    files |= {
        name: (reports / path).read_bytes()
        for name, path in WHEN_WRITTEN.items()
        if (reports / path).is_file()
    }
    files |= reproduce.bundle_files(reports)  # reproduce/*: the failed exchanges as curl
    files["summary.md"] = summary(result).encode("utf-8")
    files["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode()
    stamp = str(result["finished_at"]).replace(":", "").replace("-", "")[:15]
    target = reports / f"techval-evidence-{result['environment'].get('environment')}-{stamp}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(reproduce.zip_member(name), data)
    return target

"""The GitHub Actions workflows: the harness's tests on every push, and the nightly gate
against Redox dev that keeps its evidence and its history."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import yaml

from tests.helpers import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_every_push_runs_the_harness_tests_through_the_ci_entry_point() -> None:
    harness = workflow("harness.yml")
    assert {"push", "pull_request"} <= set(harness["on"])
    assert "bash .ci/run" in commands(harness["jobs"]["test"])
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_nightly_runs_dev_with_secrets_and_keeps_report_history_and_gate() -> None:
    nightly = workflow("nightly-dev.yml")
    assert nightly["on"]["schedule"][0]["cron"] and "workflow_dispatch" in nightly["on"]
    job = nightly["jobs"]["validate"]
    run = commands(job)
    assert "techval run --env dev" in run and "techval bundle --env dev" in run
    needed = {
        placeholder[2:-1]
        for placeholder in re.findall(
            r"\$\{[A-Z_]+\}", (ROOT / "environments/dev.yaml").read_text()
        )
    }
    assert needed <= set(job["env"]), needed - set(job["env"])
    assert all(
        "secrets." in str(job["env"][name])
        for name in ("REDOX_CLIENT_ID", "REDOX_KEY_ID", "REDOX_DOD_DESTINATION_ID")
    )
    uses = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    assert uses["actions/cache/restore"]["with"]["path"] == "reports/history"
    assert uses["actions/cache/save"]["with"]["path"] == "reports/history"
    artifact = uses["actions/upload-artifact"]
    assert artifact["if"] == "always()" and "techval-evidence-" in artifact["with"]["path"]
    gate = job["steps"][-1]
    assert gate["if"] == "steps.suite.outcome != 'success'" and "exit 1" in gate["run"]
    assert "GITHUB_STEP_SUMMARY" in run


# -- the same gate on a matrix of shards, merged (nightly-dev-sharded.yml) -------------------

MATRIX_SHARD = "${{ matrix.shard }}"


def dev_variables() -> set[str]:
    """Every ${VAR} environments/dev.yaml needs."""
    text = (ROOT / "environments/dev.yaml").read_text()
    return {placeholder[2:-1] for placeholder in re.findall(r"\$\{[A-Z_]+\}", text)}


def step_using(job: dict[str, Any], action: str) -> tuple[int, dict[str, Any]]:
    found = [(i, s) for i, s in enumerate(job["steps"]) if s.get("uses", "").startswith(action)]
    assert len(found) == 1, f"{action}: {len(found)} steps"
    return found[0]


def step_running(job: dict[str, Any], command: str) -> tuple[int, dict[str, Any]]:
    found = [(i, s) for i, s in enumerate(job["steps"]) if command in s.get("run", "")]
    assert len(found) == 1, f"{command}: {len(found)} steps"
    return found[0]


def sharded() -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    document = workflow("nightly-dev-sharded.yml")
    shard, merge = document["jobs"]["shard"], document["jobs"]["merge"]
    return shard, merge, shard["strategy"]["matrix"]["shard"]


def test_sharded_nightly_runs_every_slice_of_the_suite_once() -> None:
    shard, _, shards = sharded()
    assert len(shards) > 1 and shards == list(range(1, len(shards) + 1))
    assert shard["strategy"]["fail-fast"] is False  # a failing slice does not cancel the rest
    _, suite = step_running(shard, "techval run")
    run = " ".join(suite["run"].split())
    assert "techval run --env dev " in run and "--no-html" in run
    per_shard = [run.replace(MATRIX_SHARD, str(k)) for k in shards]
    slices = [re.findall(r"--shard (\S+)", command) for command in per_shard]
    assert slices == [[f"{k}/{len(shards)}"] for k in shards]  # K/N matches the matrix
    folders = [re.findall(r"--reports (\S+)", command) for command in per_shard]
    assert folders == [[f"reports/shard-{k}"] for k in shards]
    _, upload = step_using(shard, "actions/upload-artifact")
    assert upload["if"] == "always()"  # a failing slice keeps its reports too
    assert upload["with"]["path"] == f"reports/shard-{MATRIX_SHARD}"
    assert MATRIX_SHARD in upload["with"]["name"]


def test_sharded_nightly_merges_every_slice_then_bundles_keeps_history_and_gates() -> None:
    shard, merge, shards = sharded()
    assert merge["needs"] in ("shard", ["shard"]) and merge["if"] == "always()"
    restore_at, restore = step_using(merge, "actions/cache/restore")
    download_at, download = step_using(merge, "actions/download-artifact")
    merge_at, merging = step_running(merge, "techval merge")
    bundle_at, _ = step_running(merge, "techval bundle --env dev")
    save_at, save = step_using(merge, "actions/cache/save")
    assert restore_at < merge_at and download_at < merge_at < bundle_at < save_at
    # The same history as the single-job nightly: the verdicts of dev, one night after another.
    nightly = workflow("nightly-dev.yml")["jobs"]["validate"]
    _, nightly_restore = step_using(nightly, "actions/cache/restore")
    assert restore["with"] == nightly_restore["with"]
    assert save["with"]["path"] == "reports/history" and save["if"] == "always()"

    # Every slice's artifact lands in a folder the merge names.
    _, upload = step_using(shard, "actions/upload-artifact")
    merged = re.fullmatch(
        r"\.venv/bin/techval merge (.+) --reports reports", merging["run"].strip()
    )
    assert merged, merging["run"]
    globs = merged.group(1).split()
    for k in shards:
        name = upload["with"]["name"].replace(MATRIX_SHARD, str(k))
        assert fnmatch.fnmatchcase(name, download["with"]["pattern"])
        folder = f"{download['with']['path']}/{name}"
        assert any(fnmatch.fnmatchcase(folder, pattern) for pattern in globs), folder

    run = commands(merge)
    assert "GITHUB_STEP_SUMMARY" in run
    _, evidence = step_using(merge, "actions/upload-artifact")
    assert evidence["if"] == "always()" and "techval-evidence-" in evidence["with"]["path"]
    assert "reports/verdict.json" in evidence["with"]["path"]
    gate = merge["steps"][-1]
    assert gate["if"] == "always()" and "exit 1" in gate["run"]
    assert gate["env"]["MERGED"] == "${{ steps.merge.outcome }}"  # merge exits as run would
    assert '"$MERGED" != success' in gate["run"]
    suite = next(s for s in shard["steps"] if "techval run" in s.get("run", ""))
    assert suite["continue-on-error"] is True  # a failed check is the merged verdict's to judge
    assert gate["env"]["SHARDS"] == "${{ needs.shard.result }}"  # a slice that never reported


def test_sharded_nightly_has_the_secrets_of_dev_in_every_job() -> None:
    document = workflow("nightly-dev-sharded.yml")
    nightly = workflow("nightly-dev.yml")
    assert document["concurrency"]["group"] == nightly["concurrency"]["group"]  # one at a time
    for name, job in document["jobs"].items():
        assert job["environment"] == "redox-dev", name
        assert dev_variables() <= set(job["env"]), (name, dev_variables() - set(job["env"]))
        assert all(
            "secrets." in str(job["env"][variable])
            for variable in ("REDOX_CLIENT_ID", "REDOX_KEY_ID", "REDOX_DOD_DESTINATION_ID")
        )
        _, key = step_running(job, '> "$REDOX_PRIVATE_KEY_FILE"')
        assert key["env"]["REDOX_PRIVATE_KEY"] == "${{ secrets.REDOX_PRIVATE_KEY }}"
        assert "umask 077" in key["run"]

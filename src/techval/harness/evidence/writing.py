"""The evidence files of one run, or of shards being merged, from their events: verdict.json,
exchanges.har, the Allure environment block and global attachments, and each section's
files. No pytest here: the plugin calls it at the end of a run, `techval merge` after one.

One way, each stage reading only what the one before it made: the event records (events.py)
are assembled into outcomes (assemble.py), the outcomes decided (decide.py: the baseline),
the verdict built from the decided run (verdict.py), the sections add their parts
(sections.py), and the files are written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from techval.core import jsontext
from techval.harness import events
from techval.harness.evidence import har, sections, verdict
from techval.harness.evidence.allure_files import write_environment, write_executor, write_globals
from techval.harness.evidence.assemble import assemble
from techval.harness.evidence.decide import decide
from techval.harness.evidence.inputs import Inputs


def write_evidence(
    sources: list[Path], folder: Path, inputs: Inputs, *, merging: bool = False
) -> dict[str, Any] | None:
    """verdict.json, exchanges.har and the Allure environment block in `folder`, from the
    events of the runs whose reports are in `sources` (one run, or shards being merged);
    None when they hold no run."""
    found = assemble(events.read(sources), merging=merging)
    if not found.outcomes and not found.environment:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "allure-results"
    if results.is_dir():
        write_environment(results, found.environment)
        write_executor(results)
    archive = har.archive(found.outcomes, found.entries)
    # orjson where it spells the values alike: json's indented writer is Python code, tens
    # of milliseconds a run
    (folder / "exchanges.har").write_text(jsontext.indented(archive), encoding="utf-8")
    decided = decide(found, inputs)
    built = verdict.from_decided(decided)
    result = built.as_document()  # before any section runs: none of them changes it
    result |= sections.apply_all(built, decided, folder)
    if results.is_dir():
        shown = sections.attachments(result)
        write_globals(results, [(a.name, a.text, a.mime_type, a.extension) for a in shown])
    return verdict.write(folder, result)

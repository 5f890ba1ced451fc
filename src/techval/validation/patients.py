"""Test patients by alias: the features name an alias, the environment's file says who it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from techval.core import datafiles, yamlfile
from techval.core.errors import ConfigError
from techval.core.paths import project_root


@dataclass(frozen=True, repr=False)
class TestPatient:
    __test__: ClassVar[bool] = False  # not a test class, whatever pytest thinks of the name

    alias: str
    demographics: dict[str, Any]
    identifiers: list[dict[str, str]] = field(default_factory=list)
    # the OID of the organization whose records and documents its scenarios use; None: the
    # first organization the record locator lists
    organization: str | None = None

    def __repr__(self) -> str:  # reports show the alias, never the person
        return f"TestPatient({self.alias!r})"


def load_patients(path: Path) -> dict[str, TestPatient]:
    try:
        raw = yamlfile.read(path)
    except yamlfile.Unreadable as exc:
        raise ConfigError(f"test_patients: {path}: {exc}") from None
    schema = project_root() / "schemas/config/test_patients.json"
    datafiles.check(raw, schema, path, values=False)  # never a person's data in the message
    return {
        alias: TestPatient(
            alias,
            entry["Demographics"],
            list(entry.get("Identifiers", [])),
            entry.get("organization"),
        )
        for alias, entry in raw.items()
    }


def patient(patients: dict[str, TestPatient], alias: str) -> TestPatient:
    try:
        return patients[alias]
    except KeyError:
        known = ", ".join(repr(a) for a in patients)
        raise ConfigError(
            f"no test patient {alias!r} in the test patients file; known: {known}"
        ) from None

"""What a run was: environment, harness version, git revision, schema set. Shown in the
report's Environment block, in verdict.json and in the bundle summary."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from techval import __version__
from techval.core.config import Settings
from techval.core.paths import project_root


def git_revision(root: Path | None = None) -> str:
    """The harness's commit (with -dirty for local changes), or 'unknown' outside git."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=root or project_root(),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def schema_set_version(root: Path | None = None) -> str:
    """A digest of every schema file: two runs with the same value checked the same rules."""
    folder = (root or project_root()) / "schemas"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.json")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()[:12]}"


def masked_id(value: str) -> str:
    """Enough of an ID to tell which one it is, not enough to use it."""
    if len(value) <= 8:
        return "***" if value else ""
    return f"{value[:4]}***{value[-4:]}"


def describe(settings: Settings) -> dict[str, str]:
    """The run's environment as ordered key/value pairs."""
    entries = {
        "environment": settings.name,
        "base_url": settings.base_url,
        "production": str(settings.production).lower(),
        "api": settings.api,
        "auth": f"{settings.auth.method} {settings.auth.algorithm}".strip(),
        "client_id": masked_id(settings.auth.client_id or settings.auth.api_key),
    }
    for purpose, destination in sorted(settings.destinations.items()):
        entries[f"destination.{purpose}"] = destination
    entries |= {
        "organizations": ", ".join(o.oid for o in settings.organizations),
        "harness_version": __version__,
        "git_revision": git_revision(),
        "schema_set": schema_set_version(),
        "patient_data": "masked" if settings.reports.mask_patient_data else "shown (test patients)",
    }
    return entries

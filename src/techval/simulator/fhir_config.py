"""Where the simulated Redox FHIR R4 API listens and what it requires (redox-fhir.md §1, §3, Gaps).

The defaults are Redox's documented ones; the environment file's `fhir:` block (read here as
data, when the configuration has one) changes them for both the harness and the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from techval.simulator.fhir_paging import Pager
from techval.simulator.fhir_shapes import OID_SYSTEM

ENVIRONMENTS = ("Development", "Staging", "Production")  # Redox environment types (1.2)
# Carequality metadata headers (3.2, 3.3 documented; the last three INFERRED, 3.4).
HEADERS: Mapping[str, str] = {
    "sender_organization_id": "x-sender-organization-id",
    "user_id": "x-user-id",
    "organization_name": "x-organization-name",
    "user_role": "x-user-role",
    "purpose_of_use": "x-purpose-of-use",
}


@dataclass(frozen=True)
class Slug:
    """A destination slug: which of the three Carequality destinations, and the target OID."""

    kind: str  # "organizations" | "patients" | "documents"
    text: str  # as it appeared in the path
    oid: str | None = None


def _template(template: str) -> re.Pattern[str]:
    before, marker, after = template.partition("{oid}")
    if not marker:
        return re.compile(re.escape(template))
    return re.compile(re.escape(before) + r"(?P<oid>[^/]+)" + re.escape(after))


@dataclass(frozen=True)
class FhirOptions:
    environment: str = "Development"
    base_path: str = "/fhir/R4"
    organizations_slug: str = "ceq-orgs"  # 1.3
    patients_slug: str = "ceq-xcpd:{oid}"
    documents_slug: str = "ceq-xca:{oid}"
    headers: Mapping[str, str] = field(default_factory=lambda: dict(HEADERS))
    headers_on_directory: bool = False  # INFERRED (3.8): tables only on the query pages
    update_verb: str = "PUT"  # INFERRED (4.4): PUT Organization/{oid}, or POST with the id
    page_size: int = 50  # INFERRED: entries per searchset page when no `limit` is asked
    next_verb: str = "GET"  # INFERRED (9.2): how a next link is followed (GET, or POST)
    # 9.1 observed next links, 9.3 documents ceq-orgs's own `index` and `limit`: False answers
    # directory searches without next links (paged by index and limit only)
    directory_next_links: bool = True
    # The OID's identifier system (4.2: Redox's create example). The simulator's own: never
    # read from the harness's fhir.oid_system (the simulator shares data, never decisions)
    oid_system: str = OID_SYSTEM

    @classmethod
    def from_settings(cls, fhir: Any) -> FhirOptions:
        """The options of a configuration's `fhir` block (any object with those attributes);
        the defaults where it has none."""
        if fhir is None:
            return cls()
        defaults = cls()
        values = {
            name: getattr(fhir, name, getattr(defaults, name))
            for name in (
                "environment",
                "base_path",
                "organizations_slug",
                "patients_slug",
                "documents_slug",
                "headers_on_directory",
                "update_verb",
                "next_verb",
            )
        }
        headers = {**HEADERS, **dict(getattr(fhir, "headers", None) or {})}
        return cls(**values, headers=headers)

    def owns(self, path: str) -> bool:
        return path.startswith(self.base_path.rstrip("/") + "/")

    def split(self, path: str) -> list[str]:
        """The path's segments after the base path, percent-decoded."""
        tail = path[len(self.base_path.rstrip("/")) + 1 :]
        return [unquote(part) for part in tail.split("/")]

    def slug(self, text: str) -> Slug | None:
        for kind, template in (
            ("organizations", self.organizations_slug),
            ("patients", self.patients_slug),
            ("documents", self.documents_slug),
        ):
            found = _template(template).fullmatch(text)
            if found:
                return Slug(kind, text, found.groupdict().get("oid"))
        return None


@dataclass
class FhirState:
    """The FHIR side of one simulator: its options, open search pages, and the Organization
    resources as last written through FHIR (oid -> (the directory record it became, the
    resource)); a record changed since through the Data Model is shown from the record."""

    options: FhirOptions = field(default_factory=FhirOptions)
    pages: Pager = field(default_factory=Pager)
    organizations: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)

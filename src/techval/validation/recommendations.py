"""Documented recommendations (the SHOULD requirements of fixtures/requirements.yaml), observed
on what is sent and what Redox answers. What does not follow one is recorded as a finding
(`Reporter.finding`): a warning in the evidence that never fails a scenario or the run.

Each observation names its requirement's ID; the catalogue names the observation among the
requirement's checks (tests/unit/test_requirements.py keeps the two in step).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from techval.core.config import OrganizationProfile, Settings
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.core.verifies import verifies
from techval.validation.readback import blank
from techval.validation.rules import REDOX_ARC

# "The parent organization record should point to the Redox gateway" (redox-api.md 5.1)
REDOX_GATEWAY = f"{REDOX_ARC}.2"
PUSHES = ("PatientAdmin.", "ClinicalSummary.VisitPush")
# What a VisitPush carries besides its clinical information
VISIT_PUSH_FRAME = frozenset({"Meta", "Header", "Encounters"})
WORD = re.compile(r"[^\W\d_]{2,}")


@verifies("ORG-06")
def parent_organization(
    settings: Settings, profile: OrganizationProfile, reporter: Reporter
) -> None:
    """ORG-06: a parent record (one that is not part of another organization of this
    environment) points to the Redox gateway with PartOf."""
    own = {org.oid for org in settings.organizations if org.oid != profile.oid}
    if profile.part_of in own or profile.part_of == REDOX_GATEWAY:
        return
    reporter.finding(
        "ORG-06",
        f"Organizations[].PartOf of {profile.name} is {profile.part_of or 'not set'}: "
        f"a parent organization record should point to the Redox gateway {REDOX_GATEWAY}",
    )


def names_a_person(user_id: str) -> bool:
    """Whether a user-id reads as a person's name ("Doolittle, John"), not an account or a
    number: two words or more of letters, no digits, no e-mail address or underscore."""
    return (
        len(WORD.findall(user_id)) >= 2
        and not any(ch.isdigit() for ch in user_id)
        and "@" not in user_id
        and "_" not in user_id
    )


def _user_id(exchange: Exchange, header: str | None) -> tuple[str, Any]:
    """Where the request carried its user-id and the value: Meta.Extensions (Data Model), else
    the FHIR request header `header` (x-user-id)."""
    meta = exchange.request_body.get("Meta") if isinstance(exchange.request_body, dict) else {}
    extensions = (meta or {}).get("Extensions") or {}
    entry = extensions.get("user-id") if isinstance(extensions, dict) else None
    if isinstance(entry, dict):
        return "$.Meta.Extensions.user-id", entry.get("string")
    sent = {k.lower(): v for k, v in exchange.request_headers.items()}
    return f"header {header}", sent.get(header.lower()) if header else None


@verifies("CQ-06")
def requesting_user(
    exchanges: Iterable[Exchange], reporter: Reporter, header: str | None = None
) -> None:
    """CQ-06: the user-id sent to Carequality names the requesting provider in a form a person
    reads, for audit (a provider's name even for automated jobs). `header`: the FHIR header
    carrying it (Redox's FHIR pages say the same of x-user-id)."""
    seen: set[str] = set()
    for exchange in exchanges:
        where, user_id = _user_id(exchange, header)
        if not isinstance(user_id, str) or user_id in seen:
            continue
        seen.add(user_id)
        if not names_a_person(user_id):
            reporter.finding(
                "CQ-06",
                f"{exchange.label}: {where} {user_id!r} does not read as a person's name: it "
                "should name the requesting provider (e.g. 'Doolittle, John')",
            )


@verifies("DOD-10", "DOD-11")
def pushes(exchanges: Iterable[Exchange], reporter: Reporter) -> None:
    """DOD-10 and DOD-11, on the pushes of a scenario and their acknowledgements."""
    for exchange in exchanges:
        if not exchange.label.startswith(PUSHES):
            continue
        acknowledged_with_log_id(exchange, reporter)
        if exchange.label == "ClinicalSummary.VisitPush":
            clinical_information(exchange.request_body, exchange.label, reporter)


@verifies("DOD-10")
def acknowledged_with_log_id(exchange: Exchange, reporter: Reporter) -> None:
    """DOD-10: an acknowledged push carries Redox's log ID in Meta.Logs[].ID (Meta.Message.ID
    is deprecated: "Use Meta.Logs[].ID instead"); the validation ticket names log IDs."""
    if exchange.status is None or not 200 <= exchange.status < 300 or not exchange.is_json:
        return
    logs = exchange.meta.get("Logs")
    if isinstance(logs, list) and any(isinstance(e, dict) and e.get("ID") for e in logs):
        return
    message = exchange.meta.get("Message")
    legacy = isinstance(message, dict) and message.get("ID") is not None
    deprecated = " (only the deprecated Meta.Message.ID)" if legacy else ""
    reporter.finding(
        "DOD-10",
        f"{exchange.label}: the acknowledgement carries no Redox log ID in Meta.Logs[].ID"
        + deprecated,
    )


@verifies("DOD-11")
def clinical_information(message: Any, label: str, reporter: Reporter) -> None:
    """DOD-11: a VisitPush carries clinical information beyond its header and encounters
    (Redox recommends "all the available unique clinical information")."""
    body = message if isinstance(message, dict) else {}
    if any(not blank(v) for k, v in body.items() if k not in VISIT_PUSH_FRAME):
        return
    reporter.finding(
        "DOD-11",
        f"{label}: carries no clinical information beyond its header and encounters; Redox "
        "recommends pushing all the available unique clinical information",
    )

"""`techval doctor` under `api: fhir`: FHIR uses slugs, not destination IDs (but the pushes of
validation step 4 still go to the data-on-demand destination); one harmless request per slug
(validation.fhir.preflight), each refusal explained by its class with the environment-file key
to change; each test patient located through FHIR as a run locates them."""

from __future__ import annotations

import re
from pathlib import Path

from techval.core.client import RedoxClient
from techval.core.config import Settings
from techval.core.errors import CheckFailed, NotFound, TechvalError, TestDataMismatch
from techval.core.exchange import Exchange
from techval.core.reporting import Reporter
from techval.harness.doctor_finding import EXPECTED_ABSENT, FAIL, OK, SKIP, WARN, Finding
from techval.validation.apis import for_settings
from techval.validation.fhir import preflight
from techval.validation.fhir.preflight import (
    Forbidden,
    HeadersRefused,
    NotFhirApi,
    SlugRefused,
    UnknownSlug,
)
from techval.validation.patients import TestPatient

GUARDED = "production: not probed without --allow-production"
# How a scenario names a test patient it locates on the network (features/*.feature).
LOCATED = re.compile(r'"([^"]+)" was located across the network')


def located_in(features: Path) -> set[str]:
    """The aliases some scenario locates on the network; the others are only pushed to your
    repository (validation step 4) or expected nowhere."""
    return {
        alias
        for feature in sorted(features.rglob("*.feature"))
        for alias in LOCATED.findall(feature.read_text(encoding="utf-8"))
    }


def destinations(settings: Settings) -> Finding:
    tier = "production" if settings.production else "development"
    pushes = settings.destinations.get("data_on_demand")
    if not pushes:
        return Finding(
            "destinations",
            FAIL,
            "FHIR uses slugs, not destination IDs, but the pushes of validation step 4 go to "
            "destinations.data_on_demand, which is not set",
            "set destinations.data_on_demand to your organization's data-on-demand "
            "destination ID (Redox dashboard)",
            2,
        )
    return Finding(
        "destinations",
        OK,
        f"FHIR uses slugs, not destination IDs; the pushes go to the {tier} "
        f"data_on_demand destination {pushes}",
    )


def slugs(client: RedoxClient, settings: Settings, *, guarded: bool) -> list[Finding]:
    """One harmless request per slug; in production without permission, only `ceq-orgs`."""
    found = []
    for probe in preflight.probes(settings):
        if guarded and probe.queries:
            found.append(Finding(probe.slug, SKIP, GUARDED))
            continue
        try:
            exchange = probe.send(client)
            there = preflight.reached(exchange)
        except SlugRefused as exc:
            found.append(Finding(probe.slug, FAIL, str(exc), advice(exc, probe.kind, settings), 1))
            continue
        except CheckFailed as exc:
            found.append(Finding(probe.slug, FAIL, str(exc), RULE_BROKEN, 1))
            continue
        except TechvalError as exc:
            found.append(Finding(probe.slug, FAIL, str(exc), "the environment did not answer", 2))
            continue
        detail = exchange.summary()
        if not there and probe.kind == "organizations":
            detail += (
                f"; Organization {settings.carequality.sender.oid} is not in the directory "
                "yet (validation step 1 creates it)"
            )
        elif not there:
            detail += "; nothing found, as expected (the identifier asked for does not exist)"
        found.append(Finding(probe.slug, OK, detail))
    return found


RULE_BROKEN = "see the detail: the answer broke a documented rule"


def advice(refused: SlugRefused, kind: str, settings: Settings) -> str:
    """What to change for a refusal on the slug of `kind` (organizations, patients,
    documents), by the refusal's class."""
    fhir, source = settings.fhir, settings.source
    if isinstance(refused, HeadersRefused):
        if kind == "organizations" and not fhir.headers_on_directory:
            return (
                "refused with a fresh token, without Carequality headers (they go to ceq-xcpd "
                "and ceq-xca only): if this Redox environment wants them on ceq-orgs too, set "
                f"fhir.headers_on_directory: true in {source}"
            )
        names = ", ".join(f"fhir.headers.{key}: {name}" for key, name in fhir.headers.items())
        return (
            "refused with a fresh token: the Carequality headers are missing or not accepted: "
            f"check their names ({names}) and values (carequality.sender_oid, carequality."
            "user_id, carequality.user_role.code, carequality.purpose_of_use.code, the "
            f"sender's organization name) in {source}"
        )
    if isinstance(refused, Forbidden):
        return (
            "forbidden: this client may not use this slug: ask Redox to enable the Carequality "
            "FHIR destinations for it"
        )
    if isinstance(refused, UnknownSlug):
        template = getattr(fhir, f"{kind}_slug")
        return (
            f"Redox has no destination at this path: check fhir.environment "
            f"({fhir.environment}), fhir.slugs.{kind} ({template}) and fhir.base_path "
            f"({fhir.base_path}) in {source}"
        )
    if isinstance(refused, NotFhirApi):
        return (
            f"nothing there answers as Redox's FHIR API: check fhir.base_path "
            f"({fhir.base_path}) and base_url ({settings.base_url}), then fhir.environment "
            f"and fhir.slugs, in {source}"
        )
    return RULE_BROKEN


def patient_finding(
    client: RedoxClient,
    reporter: Reporter,
    settings: Settings,
    alias: str,
    patient: TestPatient,
    located_aliases: set[str],
) -> Finding:
    """Whether a test patient is located through FHIR, as validation steps 2 and 3 locate them
    (the organization their test data names, else the directory near their ZIP)."""
    name = f"test patient {alias!r}"
    if alias in EXPECTED_ABSENT:
        return Finding(
            name,
            SKIP,
            "expected nowhere: a run searches the directory's organizations near it for an "
            "empty answer",
        )
    if alias not in located_aliases:
        return Finding(
            name,
            SKIP,
            "only pushed to your repository (validation step 4): no scenario searches the "
            "network for it",
        )
    seen: list[Exchange] = []
    client.hooks.append(seen.append)
    try:
        located = for_settings(settings, reporter).patients.locate(client, reporter, patient)
        chosen = located.chosen
    except TestDataMismatch as exc:  # a run would say "not applicable", and pass
        return Finding(name, WARN, str(exc))
    except NotFound as exc:
        return Finding(
            name,
            FAIL,
            str(exc),
            f"change 'Demographics' of {alias!r} in the test-patients file to your Carequality "
            "test data, or name the organization that holds them ('organization')",
            1,
        )
    except CheckFailed as exc:
        return Finding(name, FAIL, str(exc), _refused_advice(seen, settings), 1)
    except TechvalError as exc:
        return Finding(name, FAIL, str(exc), "the environment did not answer", 2)
    finally:
        client.hooks.remove(seen.append)
    return Finding(name, OK, f"found at {chosen.organization_name} ({chosen.organization_oid})")


def _refused_advice(seen: list[Exchange], settings: Settings) -> str:
    """The advice for the last request's refusal, if it was one."""
    refused = preflight.refusal(seen[-1]) if seen else None
    if refused is None:
        return "the search itself failed: see the detail"
    kind = preflight.kind_of(settings.fhir, seen[-1].url) or "patients"
    return advice(refused, kind, settings)

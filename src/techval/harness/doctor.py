"""`techval doctor`: the preflight of an environment, every problem at once.

It checks, in order, and stops where going on would prove nothing: the environment file
(every missing variable listed together, .env read as `run` reads it, and with them a named
private key file that is missing), the signing key (an HS384 secret under 48 bytes is a
warning), the destination IDs' tier, the token request (no answer is a network problem, a
refusal one of credentials), one harmless request per destination (refusals
explained: wrong destination, no subscription, missing Carequality metadata), and whether
each test patient is on the network. Test patients are never searched for in production
without --allow-production. Exit codes as `techval run`: 0 ready, 1 a destination refused or
a test patient does not fit the network, 2 the run could not go on (config, key, token).
Under `api: fhir` the destinations and the test patients are checked as FHIR reaches them:
harness/doctor_fhir.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from techval.core import paths
from techval.core.auth import HS384_MIN_SECRET, load_signing_key, read_private_key
from techval.core.config import MissingVariables, Settings, load_settings
from techval.core.errors import (
    CheckFailed,
    ConfigError,
    CouldNotRun,
    RedoxRefused,
    TechvalError,
    TestDataMismatch,
    TransportError,
)
from techval.core.exchange import Exchange
from techval.harness import doctor_fhir
from techval.harness.doctor_finding import EXPECTED_ABSENT, FAIL, OK, SKIP, WARN, Finding
from techval.harness.run import Run, start_run
from techval.simulator.provision import ensure_private_key
from techval.validation import documents, organization, search
from techval.validation.apis import FHIR
from techval.validation.checks import answered, succeeded
from techval.validation.located import Location
from techval.validation.messages import CAREQUALITY_PURPOSES
from techval.validation.patients import TestPatient, load_patients

NO_SUBSCRIPTION = "No subscriptions"  # Redox's 400 for a destination the source does not have
KEY_ADVICE = "point auth.private_key_file at it"
PUSHES_ONLY = "only pushes go there: `techval run` checks it (validation step 4)"
NO_TEST_DATA = "production: no test data is sent without --allow-production"


def diagnose(
    env: str | None, config: str | None, *, allow_production: bool, root: Path
) -> list[Finding]:
    found: list[Finding] = []
    try:
        settings = load_settings(env, config, root=root)
    except MissingVariables as exc:
        unset = [
            Finding(
                f"variable {name}",
                FAIL,
                f"not set; used by {', '.join(keys)}",
                "set it in the environment or in .env at the project root (see .env.example)",
                2,
            )
            for name, keys in exc.variables.items()
        ]
        key = _key_file(exc.key_file) if exc.key_file else None
        return unset + ([key] if key and key.result == FAIL else [])
    except CouldNotRun as exc:
        return [Finding("environment file", FAIL, str(exc), "fix the key it names", 2)]
    dotenv = " (with .env)" if (root / ".env").is_file() else ""
    found.append(Finding("environment file", OK, f"{settings.source}{dotenv}: {settings.name}"))
    found.append(_key(settings))
    stop = any(f.code == 2 for f in found)  # a missing destination does not stop the checks
    if settings.api == FHIR:
        found.append(doctor_fhir.destinations(settings))
    else:
        tier = "production" if settings.production else "development"
        found.append(
            Finding("destinations", OK, f"{len(settings.destinations)} {tier} destination IDs")
        )
    if stop:
        return found
    try:
        run = start_run(settings, allow_production=True)  # nothing is pushed; patients guarded
    except ConfigError as exc:  # e.g. the test-patients file, read when the run starts
        return [*found, Finding("environment file", FAIL, str(exc), "fix what it names", 2)]
    except TechvalError as exc:
        return [*found, Finding("start", FAIL, str(exc), "the run could not start", 2)]
    try:
        found += _with_run(run, allow_production=allow_production)
    finally:
        run.close()
    return found


def _key(settings: Settings) -> Finding:
    auth = settings.auth
    if auth.method != "jwt":
        return Finding("signing key", SKIP, f"{auth.method} authentication: no key")
    simulated = settings.simulator is not None and settings.simulator.start
    if simulated and auth.private_key_file and auth.algorithm != "HS384":
        ensure_private_key(auth.private_key_file, auth.algorithm)  # made on first use, as a run
    if auth.algorithm == "HS384":
        size = len(auth.client_secret.encode("utf-8"))
        if size < HS384_MIN_SECRET:  # PyJWT warns on each signature; said here once
            return Finding(
                "signing key",
                WARN,
                f"the client secret is {size} bytes; HS384 wants at least {HS384_MIN_SECRET} "
                "(RFC 7518 3.2)",
            )
        return Finding("signing key", OK, "HS384 client secret readable")
    try:
        load_signing_key(auth)
    except CouldNotRun as exc:
        return Finding("signing key", FAIL, str(exc), KEY_ADVICE, 2)
    return Finding("signing key", OK, f"{auth.algorithm} private key readable")


def _key_file(path: Path) -> Finding:
    """The private key file alone, while variables the rest of the file needs are unset."""
    try:
        read_private_key(path)
    except CouldNotRun as exc:
        return Finding("signing key", FAIL, str(exc), KEY_ADVICE, 2)
    return Finding("signing key", OK, f"private key readable: {path}")


def _with_run(run: Run, *, allow_production: bool) -> list[Finding]:
    settings = run.settings
    if run.client.health.unreachable:
        if isinstance(run.first_token, TransportError):  # no answer: credentials not tried
            advice = (
                f"check base_url and auth.token_url in {settings.source}, and that this "
                "machine reaches that host (network, VPN, proxy, firewall)"
            )
        else:
            advice = (
                f"check {_credentials(settings)} in {settings.source} (and, for a key, that "
                "its public key is registered for this client in the Redox dashboard)"
            )
        return [Finding("token", FAIL, run.client.health.unreachable, advice, 2)]
    found = [Finding("token", OK, f"granted by {settings.auth.token_url}")]
    guarded = settings.production and not allow_production
    patients = load_patients(settings.test_patients)
    if settings.api == FHIR:
        return found + _fhir(run, patients, guarded=guarded)
    probes: list[tuple[str, Callable[[], Exchange], Callable[[Exchange], None]]] = []
    own = settings.organizations[0].oid
    probes.append(
        ("organization", lambda: _send(run, organization.query_message(settings, own)), succeeded)
    )
    absent = next(iter(p for a, p in patients.items() if a in EXPECTED_ABSENT), None)
    nobody = absent or TestPatient("nobody", {"FirstName": "Nobody", "LastName": "Techval"})
    probes.append(
        (
            "organization_patient_search",
            lambda: _send(run, search.demographics_query(settings, nobody, organization_oid=own)),
            succeeded,
        )
    )
    made_up = Location(own, settings.organizations[0].name, (("techval-doctor", own),))
    probes.append(
        (
            "clinical_summary",
            lambda: _send(run, documents.document_query(settings, made_up)),
            _reached,
        )
    )
    for purpose, send, check in probes:
        if guarded and purpose != "organization":  # a patient search or query: no test data
            found.append(
                Finding(purpose, SKIP, "production: not probed without --allow-production")
            )
            continue
        found.append(_probe(purpose, settings, send, check))
    found.append(Finding("data_on_demand", SKIP, PUSHES_ONLY))
    if guarded:
        found.append(Finding("test patients", SKIP, NO_TEST_DATA))
        return found
    for alias, patient in patients.items():
        found.append(_patient(run, alias, patient))
    return found


def _fhir(run: Run, patients: dict[str, TestPatient], *, guarded: bool) -> list[Finding]:
    settings = run.settings
    found = doctor_fhir.slugs(run.client, settings, guarded=guarded)
    found.append(Finding("data_on_demand", SKIP, PUSHES_ONLY))
    if guarded:
        found.append(Finding("test patients", SKIP, NO_TEST_DATA))
        return found
    located = doctor_fhir.located_in(paths.project_root() / "features")
    for alias, patient in patients.items():
        found.append(
            doctor_fhir.patient_finding(run.client, run.reporter, settings, alias, patient, located)
        )
    return found


def _credentials(settings: Settings) -> str:
    auth = settings.auth
    if auth.method != "jwt":
        keys = ["auth.api_key", "auth.secret"]
    elif auth.algorithm == "HS384":
        keys = ["auth.client_id", "auth.client_secret"]
    else:
        keys = ["auth.client_id", "auth.key_id", "auth.private_key_file"]
    return ", ".join([*keys, "auth.token_url"])


def _send(run: Run, message: dict[str, Any]) -> Exchange:
    return run.client.send(message)


def _reached(exchange: Exchange) -> None:
    """The destination took the message: any well-formed answer but a refusal (a made-up
    patient is answered "not found" or "no documents")."""
    refused = exchange.status in (401, 403) or (
        exchange.status == 400 and any(NO_SUBSCRIPTION in e for e in exchange.redox_errors)
    )
    if refused:
        succeeded(exchange)  # raises, naming the answer
    answered(exchange)


def _probe(
    purpose: str,
    settings: Settings,
    send: Callable[[], Exchange],
    check: Callable[[Exchange], None],
) -> Finding:
    destination = settings.destinations.get(purpose, "")
    try:
        exchange = send()
        check(exchange)
    except CheckFailed as exc:
        return Finding(purpose, FAIL, str(exc), _explain(exc, purpose, destination), 1)
    except TechvalError as exc:
        return Finding(purpose, FAIL, str(exc), "the environment did not answer", 2)
    return Finding(purpose, OK, f"{destination}: {exchange.summary()}")


def _explain(error: CheckFailed, purpose: str, destination: str) -> str:
    """What a refusal means, by its class and fields (Redox's status and error texts)."""
    if not isinstance(error, RedoxRefused):
        return "see the detail: the answer broke a documented rule"
    if any(NO_SUBSCRIPTION in text for text in error.errors):
        return (
            f"destinations.{purpose} ({destination}) is not a subscription of your source: a "
            "wrong destination ID for this environment, or the subscription is missing in the "
            "Redox dashboard"
        )
    if error.status == 401 and purpose in CAREQUALITY_PURPOSES:
        return (
            "refused with a fresh token: the Carequality metadata (Meta.Extensions: "
            "organization-name, sender-organization-id, user-id, user-role, purpose-of-use) is "
            "missing or wrong: check `carequality` and `organization` in the environment file"
        )
    if error.status == 403:
        return "forbidden: this client may not use this destination; ask Redox to enable it"
    return "see the detail: the answer broke a documented rule"


def _patient(run: Run, alias: str, patient: TestPatient) -> Finding:
    name = f"test patient {alias!r}"
    try:
        exchange = run.client.send(search.demographics_query(run.settings, patient))
        succeeded(exchange)
        match = search.matched(exchange, patient)
    except TestDataMismatch as exc:  # a run would say "not applicable", and pass
        return Finding(name, WARN, str(exc), "", 0)
    except CheckFailed as exc:
        return Finding(name, FAIL, str(exc), "the search itself failed: see the detail", 1)
    except TechvalError as exc:
        return Finding(name, FAIL, str(exc), "the environment did not answer", 2)
    expected = alias not in EXPECTED_ABSENT
    if (match is not None) == expected:
        return Finding(name, OK, "found on the network" if expected else "not found, as expected")
    if expected:
        return Finding(
            name,
            FAIL,
            "not found on the network",
            f"change 'Demographics' of {alias!r} in the test-patients file to your Carequality "
            "test data",
            1,
        )
    return Finding(
        name,
        FAIL,
        "found, but the scenarios expect nobody to match",
        f"change 'Demographics' of {alias!r} to a person no organization holds",
        1,
    )


def table(found: list[Finding]) -> str:
    rows = [("Check", "Result", "Detail")] + [(f.check, f.result, f.detail) for f in found]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{c.ljust(widths[0])}  {r.ljust(widths[1])}  {d}" for c, r, d in rows]
    lines.insert(1, f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 6}")
    grouped: dict[str, list[str]] = {}
    for f in found:
        if f.advice and f.result == FAIL:
            grouped.setdefault(f.advice, []).append(f.check)
    advice = [f"- {', '.join(checks)}: {text}" for text, checks in grouped.items()]
    return "\n".join(lines + (["", "What to do:", *advice] if advice else []))


def exit_code(found: list[Finding]) -> int:
    return max((f.code for f in found), default=0)

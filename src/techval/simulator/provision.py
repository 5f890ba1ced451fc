"""Provision the simulator with an environment's credentials, as the Redox dashboard would.

The environment's public key (derived from its private key), client secret or legacy API key
is registered, and the destinations are subscribed. For the built-in simulator environment the
client key pair is generated on first use, so a fresh clone runs with no secret committed.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from techval.core.auth import load_signing_key
from techval.core.config import Settings
from techval.simulator.app import Simulator
from techval.simulator.fhir_config import FhirOptions


def ensure_private_key(path: Path, algorithm: str) -> None:
    """Create an unencrypted PEM key for `algorithm` at `path` unless one is there."""
    if path.exists():
        return
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another run (a parallel test worker) made it just now
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def provision(settings: Settings, simulator: Simulator | None = None) -> Simulator:
    simulator = simulator or Simulator(settings.destinations, test_patients=settings.test_patients)
    if settings.simulator:
        simulator.repository.delay = settings.simulator.repository_delay
        simulator.answer_delay = settings.simulator.answer_delay
        simulator.location_query_active = settings.simulator.location_query_active
    # The environment's `fhir:` block (issue 18), where the configuration has one.
    simulator.fhir.options = FhirOptions.from_settings(getattr(settings, "fhir", None))
    for organization in settings.organizations:  # the repository answers for these
        simulator.repository.serve(organization.oid, organization.name, settings.oids.patient)
    auth = settings.auth
    if auth.method == "legacy":
        simulator.tokens.register_legacy(auth.api_key, auth.secret)
    elif auth.algorithm == "HS384":
        simulator.tokens.register_secret(auth.client_id, auth.client_secret)
    else:
        if settings.simulator and settings.simulator.start and auth.private_key_file:
            ensure_private_key(auth.private_key_file, auth.algorithm)
        private_key = load_signing_key(auth)
        simulator.tokens.register_key(auth.client_id, auth.key_id, private_key.public_key())
    return simulator

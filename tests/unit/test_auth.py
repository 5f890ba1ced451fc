"""Access tokens: signed client assertions, caching and renewal, refusals without secrets."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from techval.core.auth import LegacyApiKey, OAuthClientCredentials, read_private_key
from techval.core.config import Settings
from techval.core.errors import AuthError, ConfigError, TransportError
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor
from techval.harness.doctor import _key_file
from techval.harness.doctor_finding import FAIL
from techval.simulator import provision
from techval.simulator.provision import ensure_private_key
from techval.simulator.transport import simulator_transport
from tests.helpers import CLIENT_SECRET, settings_for

TOKEN_URL = "http://simulator.test/v2/auth/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def key_settings(tmp_path: Path, algorithm: str) -> Settings:
    key_file = tmp_path / f"{algorithm}.pem"
    ensure_private_key(key_file, algorithm)
    auth = {
        "method": "jwt",
        "token_url": "/v2/auth/token",
        "client_id": "key-client",
        "algorithm": algorithm,
        "private_key_file": str(key_file),
        "key_id": "kid-1",
    }
    return settings_for(tmp_path, auth=auth).with_base_url("http://simulator.test")


def provider(
    settings: Settings, exchanges: list[Exchange] | None = None, clock: Clock | None = None
):
    simulator = provision(settings)
    http = httpx.Client(transport=simulator_transport(simulator))
    recorded = exchanges if exchanges is not None else []
    cls = OAuthClientCredentials if settings.auth.method == "jwt" else LegacyApiKey
    kwargs = {"clock": clock} if clock else {}
    return cls(
        settings.auth, http, Redactor(settings.auth.secret_values()), recorded.append, **kwargs
    ), simulator


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_assertion_is_signed_with_the_private_key_and_kid(tmp_path: Path, algorithm: str) -> None:
    settings = key_settings(tmp_path, algorithm)
    tokens, _ = provider(settings)
    assertion = tokens.client_assertion()
    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": algorithm, "kid": "kid-1", "typ": "JWT"}
    assert settings.auth.private_key_file is not None
    key_bytes = settings.auth.private_key_file.read_bytes()
    private: Any = serialization.load_pem_private_key(key_bytes, None)
    claims = jwt.decode(
        assertion, private.public_key(), algorithms=[algorithm], audience=settings.auth.token_url
    )
    assert claims["iss"] == claims["sub"] == "key-client"
    assert claims["exp"] - claims["iat"] == 300
    assert len(claims["jti"]) >= 16
    assert tokens.token()  # the simulator accepts it


def test_hs384_assertion_uses_the_client_secret(tmp_path: Path) -> None:
    settings = settings_for(tmp_path).with_base_url("http://simulator.test")
    tokens, _ = provider(settings)
    claims = jwt.decode(
        tokens.client_assertion(), CLIENT_SECRET, algorithms=["HS384"], audience=TOKEN_URL
    )
    assert claims["iss"] == "harness-test-client"
    assert "kid" not in jwt.get_unverified_header(tokens.client_assertion())


def test_token_is_cached_and_renewed_before_expiry(tmp_path: Path) -> None:
    clock = Clock()
    settings = settings_for(tmp_path).with_base_url("http://simulator.test")
    tokens, simulator = provider(settings, clock=clock)
    simulator.tokens.clock = clock
    first = tokens.token()
    assert tokens.token() == first and tokens.fetches == 1
    clock.now += 300 - 60 + 1  # inside the renewal margin of a five-minute token
    assert tokens.token() != first and tokens.fetches == 2


def test_refused_credentials_raise_auth_error_without_secrets(tmp_path: Path) -> None:
    settings = settings_for(tmp_path).with_base_url("http://simulator.test")
    exchanges: list[Exchange] = []
    tokens, simulator = provider(settings, exchanges)
    simulator.tokens.oauth_clients.clear()  # the dashboard no longer knows this client
    with pytest.raises(AuthError) as caught:
        tokens.token()
    assert "HTTP 401 invalid_client unknown client" in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)
    recorded = exchanges[0].to_json()
    assert "client_assertion" in recorded and tokens.client_assertion()[:20] not in recorded


def test_missing_private_key_file_is_a_config_error(tmp_path: Path) -> None:
    settings = key_settings(tmp_path, "RS384")
    broken = replace(settings.auth, private_key_file=tmp_path / "absent.pem")
    with pytest.raises(ConfigError, match="auth.private_key_file: cannot read"):
        OAuthClientCredentials(broken, httpx.Client(), Redactor(), lambda e: None)


def test_unreachable_token_endpoint_is_an_auth_error(tmp_path: Path) -> None:
    settings = settings_for(tmp_path).with_base_url("http://127.0.0.1:9")
    tokens = OAuthClientCredentials(
        settings.auth, httpx.Client(timeout=2), Redactor(), lambda e: None
    )
    with pytest.raises(AuthError, match="cannot reach the token endpoint") as caught:
        tokens.token()
    assert isinstance(caught.value, TransportError)  # doctor advises the network, by class


def test_legacy_login_and_refresh(tmp_path: Path) -> None:
    clock = Clock()
    auth = {"method": "legacy", "api_key": "legacy-key-1", "secret": "legacy-secret-value-9"}
    settings = settings_for(tmp_path, auth=auth).with_base_url("http://simulator.test")
    exchanges: list[Exchange] = []
    tokens, simulator = provider(settings, exchanges, clock=clock)
    simulator.tokens.clock = clock
    first = tokens.token()
    clock.now += 24 * 3600 - 30  # about to expire: refreshed with the refresh token
    assert tokens.token() != first
    assert [e.url.rsplit("/", 1)[1] for e in exchanges] == ["authenticate", "refreshToken"]
    assert "legacy-secret-value-9" not in "".join(e.to_json() for e in exchanges)


def test_legacy_bad_secret_is_refused(tmp_path: Path) -> None:
    auth = {"method": "legacy", "api_key": "legacy-key-1", "secret": "legacy-secret-value-9"}
    settings = settings_for(tmp_path, auth=auth).with_base_url("http://simulator.test")
    tokens, simulator = provider(settings)
    simulator.tokens.legacy_keys["legacy-key-1"] = "another-secret"
    with pytest.raises(AuthError, match="HTTP 401 Invalid source secret"):
        tokens.token()


SHORT_SECRET = "twenty-byte-secret!!"  # 20 bytes: PyJWT warns, RFC 7518 3.2 wants 48 for HS384


def test_a_short_hs384_secret_signs_and_verifies_with_warnings_as_errors(tmp_path: Path) -> None:
    """The harness's own tests turn warnings into errors, as a run's pytest once did."""
    settings = settings_for(tmp_path, auth=short_secret_auth()).with_base_url(
        "http://simulator.test"
    )
    tokens, _ = provider(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tokens.token() and tokens.fetches == 1


def short_secret_auth() -> dict[str, str]:
    return {
        "method": "jwt",
        "token_url": "/v2/auth/token",
        "client_id": "harness-test-client",
        "algorithm": "HS384",
        "client_secret": SHORT_SECRET,
    }


def test_an_rsa_key_whose_numbers_disagree_is_refused_in_one_line_naming_the_file(
    tmp_path: Path,
) -> None:
    """cryptography checks an RSA key's numbers as it loads it (30 ms, paid once a process):
    a key crafted or corrupted so is refused before it signs anything, by a run and by doctor."""
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    numbers = rsa.RSAPrivateNumbers(
        p=good.p,
        q=good.q,
        d=good.d + 2,
        dmp1=good.dmp1,
        dmq1=good.dmq1,
        iqmp=good.iqmp,
        public_numbers=good.public_numbers,
    )
    broken = numbers.private_key(unsafe_skip_rsa_key_validation=True)
    path = tmp_path / "inconsistent.pem"
    path.write_bytes(
        broken.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match=f"{path.name} is not an unencrypted PEM private key"):
        read_private_key(path)
    finding = _key_file(path)
    assert finding.result == FAIL and path.name in finding.detail

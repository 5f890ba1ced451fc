"""Access tokens for the Data Model API.

OAuth client credentials with a signed JWT client assertion (RS384/ES384 with a private key and
kid, HS384 with a client secret; redox-api.md 2.2-2.3), and the deprecated legacy API key +
secret flow (2.1). Tokens are cached and renewed before they expire; `invalidate()` forces a
renewal after a 401.
"""

from __future__ import annotations

import functools
import math
import secrets
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from techval.core.config import AuthSettings
from techval.core.errors import AuthError, ConfigError, TokenEndpointUnreachable
from techval.core.exchange import MALFORMED, Exchange, TooDeep, parse_json, timed_request
from techval.core.redaction import Redactor
from techval.core.redox import MAX_MESSAGE_BYTES, timestamp
from techval.core.verifies import verifies

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; SMART Backend Services caps it at five minutes
RENEW_MARGIN = 60  # renew a token this many seconds before it expires
HS384_MIN_SECRET = 48  # bytes, the SHA-384 output: RFC 7518 3.2's least HMAC key


class _NotWarned(Warning):
    """Stands in for the warning PyJWT before 2.11 does not have."""


# PyJWT 2.11+ warns on every signature or verification with an HMAC key shorter than its hash.
SHORT_KEY_WARNING: type[Warning] = getattr(jwt, "InsecureKeyLengthWarning", _NotWarned)
MAX_LIFETIME = 24 * 3600  # seconds a token is kept at most, whatever its answer says


class TokenProvider(Protocol):
    fetches: int  # tokens granted so far

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


def load_signing_key(settings: AuthSettings) -> Any:
    """The key that signs client assertions: the private key, or the HS384 client secret."""
    if settings.algorithm == "HS384":
        return settings.client_secret
    if settings.private_key_file is None:
        raise ConfigError("auth.private_key_file: required for " + settings.algorithm)
    return read_private_key(settings.private_key_file)


def read_private_key(path: Path) -> Any:
    """The unencrypted PEM private key at `path`; ConfigError naming auth.private_key_file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"auth.private_key_file: cannot read {path}: {exc.strerror}") from None
    try:
        return _private_key(data)
    except (ValueError, TypeError):
        raise ConfigError(
            f"auth.private_key_file: {path} is not an unencrypted PEM private key"
        ) from None


@functools.lru_cache(maxsize=8)
def _private_key(data: bytes) -> Any:
    """The key of these PEM bytes, loaded once per process: loading checks an RSA key, some
    30 ms, and a run loads the same key twice (the client signs, the simulator verifies)."""
    return serialization.load_pem_private_key(data, password=None)


class _CachedToken:
    """Shared caching and renewal; subclasses fetch."""

    def __init__(
        self,
        settings: AuthSettings,
        http: httpx.Client,
        redactor: Redactor,
        on_exchange: Callable[[Exchange], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.http = http
        self.redactor = redactor
        self.on_exchange = on_exchange
        self.clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.timeout: httpx.Timeout | None = None  # for token requests; None: the client's
        self.fetches = 0

    def token(self) -> str:
        if self._token is None or self.clock() >= self._expires_at - RENEW_MARGIN:
            self._token, lifetime = self._fetch()
            self._expires_at = self.clock() + lifetime
            self.redactor.add(self._token)
            self.fetches += 1
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _fetch(self) -> tuple[str, float]:
        raise NotImplementedError

    def _post(self, url: str, **kwargs: Any) -> dict[str, Any]:
        """POST to a token endpoint, record the exchange with its secrets masked, parse JSON."""
        sent = kwargs.get("data") or kwargs.get("json")
        record = Exchange(
            label="token",
            method="POST",
            url=url,
            request_headers={},
            request_body=self.redactor.data(sent),
            started_at=timestamp(),
        )
        timeout = self.timeout or self.http.timeout
        kwargs.setdefault("timeout", timeout)
        try:
            response = timed_request(
                self.http,
                record,
                "POST",
                url,
                mask=self.redactor.headers,
                max_bytes=MAX_MESSAGE_BYTES,
                within=timeout.read,
                **kwargs,
            )
        except httpx.HTTPError:
            self.on_exchange(record)
            problem = record.transport_error or ""
            if problem.startswith(MALFORMED):
                raise AuthError(f"the token endpoint {url} answered with a {problem}") from None
            raise TokenEndpointUnreachable(
                f"cannot reach the token endpoint {url}: {problem}"
            ) from None
        body, unreadable = self._read(record, response)
        self.on_exchange(record)
        status = response.status_code
        if unreadable:
            raise AuthError(f"the token endpoint {url} answered HTTP {status} with {unreadable}")
        if status != 200:
            reason = ""
            if isinstance(body, dict):
                words = " ".join(str(body.get(k, "")) for k in ("error", "error_description"))
                reason = self.redactor.text(words)  # the answer may echo what was sent
            else:
                reason = self.redactor.text(response.text[:200])
            raise AuthError(
                f"the token endpoint {url} refused the credentials: "
                f"HTTP {status} {reason.strip()}".rstrip()
            )
        if not isinstance(body, dict):
            snippet = " ".join(self.redactor.text(response.text[:200]).split())
            raise AuthError(
                f"the token endpoint {url} answered HTTP 200 without a JSON object: {snippet!r}"
            )
        return body

    def _read(self, record: Exchange, response: httpx.Response) -> tuple[Any, str | None]:
        """The JSON body of a token answer, its secrets learnt and masked on `record`; and what
        made it unreadable (too big, too deep), if anything."""
        body: Any = None
        unreadable = None
        if record.oversized:
            unreadable = f"a body over the {MAX_MESSAGE_BYTES:,} byte limit (not read further)"
        else:
            try:
                body = parse_json(response.content)
            except TooDeep as exc:
                record.too_deep = True
                unreadable = str(exc)
            except ValueError:  # not JSON
                pass
        for key in ("access_token", "accessToken", "refreshToken"):
            if isinstance(body, dict) and isinstance(body.get(key), str):
                self.redactor.add(body[key])
        record.response_body = self.redactor.data(body) if body is not None else None
        record.response_text = self.redactor.text(response.text[:2000])
        return body, unreadable


@verifies("API-02", "FHIR-02")
class OAuthClientCredentials(_CachedToken):
    """client_credentials grant with a signed JWT assertion; tokens live five minutes."""

    def __init__(self, settings: AuthSettings, *args: Any, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        self._key = load_signing_key(settings)

    def client_assertion(self) -> str:
        issued = int(self.clock())
        claims = {
            "iss": self.settings.client_id,
            "sub": self.settings.client_id,
            "aud": self.settings.token_url,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME,
            "jti": secrets.token_hex(16),
        }
        headers = {"typ": "JWT"}
        if self.settings.algorithm != "HS384":
            headers["kid"] = self.settings.key_id
        # A short HS384 secret is doctor's warning, said once; PyJWT's warning on every
        # signature must not become a scenario's error where warnings are errors.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SHORT_KEY_WARNING)
            return jwt.encode(claims, self._key, algorithm=self.settings.algorithm, headers=headers)

    def _fetch(self) -> tuple[str, float]:
        assertion = self.client_assertion()
        self.redactor.add(assertion)
        body = self._post(
            self.settings.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"the token endpoint {self.settings.token_url} sent no access_token")
        return token, _lifetime(body.get("expires_in", ASSERTION_LIFETIME))


@verifies("API-02")
class LegacyApiKey(_CachedToken):
    """The deprecated API key + secret flow; tokens live 24 hours and can be refreshed."""

    _refresh_token: str | None = None

    def _fetch(self) -> tuple[str, float]:
        body: dict[str, Any] | None = None
        if self._refresh_token:
            try:
                body = self._post(
                    self.settings.refresh_url,
                    json={"apiKey": self.settings.api_key, "refreshToken": self._refresh_token},
                )
            except AuthError:
                body = None  # a refused refresh falls back to a fresh login
        if body is None:
            body = self._post(
                self.settings.token_url,
                json={"apiKey": self.settings.api_key, "secret": self.settings.secret},
            )
        token = body.get("accessToken")
        if not isinstance(token, str) or not token:
            raise AuthError(f"the token endpoint {self.settings.token_url} sent no accessToken")
        refresh = body.get("refreshToken")
        self._refresh_token = refresh if isinstance(refresh, str) else None
        return token, _seconds_until(body.get("expires"), self.clock())


def _lifetime(expires_in: Any) -> float:
    """A token's lifetime from expires_in: a number of seconds, held to a day (a huge, infinite
    or NaN number must not break the renewal), else five minutes."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return float(ASSERTION_LIFETIME)
    if isinstance(expires_in, float) and not math.isfinite(expires_in):
        return float(ASSERTION_LIFETIME)
    return float(min(max(expires_in, 0), MAX_LIFETIME))


def _seconds_until(expires: Any, now: float) -> float:
    if isinstance(expires, str):
        try:
            moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
            return max(moment.timestamp() - now, 0.0)
        except ValueError:
            pass
    return 24 * 3600.0


def token_provider(
    settings: AuthSettings,
    http: httpx.Client,
    redactor: Redactor,
    on_exchange: Callable[[Exchange], None],
    *,
    timeout: httpx.Timeout | None = None,
) -> TokenProvider:
    """`timeout`: for the token requests (timeouts.token), instead of the client's own."""
    provider_class = OAuthClientCredentials if settings.method == "jwt" else LegacyApiKey
    provider = provider_class(settings, http, redactor, on_exchange)
    provider.timeout = timeout
    return provider

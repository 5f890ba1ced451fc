"""The simulator's token endpoints: OAuth client credentials with a JWT assertion, and legacy.

Clients are provisioned the way the Redox dashboard provisions them: a public key (by kid) or
a client secret per OAuth client ID, an API secret per legacy API key.
"""

from __future__ import annotations

import secrets
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import jwt

from techval.core.auth import SHORT_KEY_WARNING
from techval.core.redox import timestamp
from techval.simulator.responses import Reply, json_reply, text_reply

OAUTH_LIFETIME = 300  # seconds (Redox: "expires after 5 minutes")
LEGACY_LIFETIME = 24 * 3600
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class OAuthClient:
    client_id: str
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> public key
    secret: str | None = None  # HS384


class TokenIssuer:
    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.legacy_keys: dict[str, str] = {}
        self._tokens: dict[str, float] = {}  # access token -> expiry
        self._refresh: dict[str, str] = {}  # refresh token -> api key
        self._seen_jti: set[str] = set()
        self.lifetime = OAUTH_LIFETIME

    def register_key(self, client_id: str, key_id: str, public_key: Any) -> None:
        self.oauth_clients.setdefault(client_id, OAuthClient(client_id)).keys[key_id] = public_key

    def register_secret(self, client_id: str, secret: str) -> None:
        self.oauth_clients.setdefault(client_id, OAuthClient(client_id)).secret = secret

    def register_legacy(self, api_key: str, secret: str) -> None:
        self.legacy_keys[api_key] = secret

    def valid(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Bearer "):
            return False
        expiry = self._tokens.get(authorization[len("Bearer ") :])
        return expiry is not None and self.clock() < expiry

    def revoke_all(self) -> None:
        self._tokens.clear()

    def _issue(self, lifetime: float) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = self.clock() + lifetime
        return token

    def oauth(self, body: bytes, audience: str) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != ASSERTION_TYPE
            or not form.get("client_assertion")
        ):
            return json_reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "client_credentials with a JWT assertion is required",
                },
            )
        refusal = self._verify(form["client_assertion"], audience)
        if refusal:
            return json_reply(401, {"error": "invalid_client", "error_description": refusal})
        return json_reply(
            200,
            {
                "access_token": self._issue(self.lifetime),
                "token_type": "Bearer",
                "expires_in": int(self.lifetime),
            },
        )

    def _verify(self, assertion: str, audience: str) -> str | None:
        """Why the assertion is refused, or None when it is good."""
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return "the client assertion is not a JWT"
        algorithm = header.get("alg")
        if algorithm not in {"RS384", "ES384", "HS384"} or header.get("typ") != "JWT":
            return "alg must be RS384, ES384 or HS384 and typ JWT"
        client = self.oauth_clients.get(str(claims.get("iss")))
        if client is None or claims.get("sub") != claims.get("iss"):
            return "unknown client"
        key: Any = client.secret if algorithm == "HS384" else client.keys.get(header.get("kid", ""))
        if key is None:
            return "no key registered for this kid" if algorithm != "HS384" else "unknown client"
        try:
            # Time is checked below against the simulator's own clock (tests move it). A short
            # HS384 secret is the client's business: no warning raised in the server's thread.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SHORT_KEY_WARNING)
                jwt.decode(
                    assertion,
                    key,
                    algorithms=[algorithm],
                    options={
                        "require": ["exp", "iat", "jti"],
                        "verify_aud": False,
                        "verify_exp": False,
                        "verify_iat": False,
                        "verify_nbf": False,
                    },
                )
        except jwt.PyJWTError as exc:
            return f"assertion rejected: {type(exc).__name__}"
        now = self.clock()
        if not int(claims["iat"]) - 60 <= now <= int(claims["exp"]):
            return "the assertion has expired or is not valid yet"
        aud = claims.get("aud")
        # Redox may not enforce aud (redox-api.md 2.2); when present it must name this endpoint.
        if aud is not None and not str(aud).endswith(audience):
            return "aud does not name the token endpoint"
        if int(claims["exp"]) - int(claims["iat"]) > OAUTH_LIFETIME:
            return "the assertion may live five minutes at most"
        if claims["jti"] in self._seen_jti:
            return "jti was already used"
        self._seen_jti.add(str(claims["jti"]))
        return None

    def legacy_login(self, document: Any) -> Reply:
        api_key = document.get("apiKey") if isinstance(document, dict) else None
        if not api_key or self.legacy_keys.get(api_key) != document.get("secret"):
            return text_reply(401, "Invalid source secret", "text/html; charset=utf-8")
        return self._legacy_tokens(api_key)

    def legacy_refresh(self, document: Any) -> Reply:
        token = document.get("refreshToken") if isinstance(document, dict) else None
        if not token or self._refresh.get(token) != document.get("apiKey"):
            return text_reply(401, "Invalid refresh token", "text/html; charset=utf-8")
        del self._refresh[token]
        return self._legacy_tokens(document["apiKey"])

    def _legacy_tokens(self, api_key: str) -> Reply:
        refresh = str(uuid.uuid4())
        self._refresh[refresh] = api_key
        expires = datetime.fromtimestamp(self.clock() + LEGACY_LIFETIME, UTC)
        return json_reply(
            200,
            {
                "accessToken": self._issue(LEGACY_LIFETIME),
                "expires": timestamp(expires),
                "refreshToken": refresh,
            },
        )

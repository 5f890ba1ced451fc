"""Masking of secrets before anything is written (reports, logs, exception texts).

The harness records exchanges raw for its own checks; whatever leaves the process goes
through a Redactor first. Known secret values (client secret, API secret, private key,
every token obtained during the run) are replaced wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
SECRET_KEYS = frozenset(
    {
        "client_assertion",
        "client_secret",
        "secret",
        "apikey",
        "api_key",
        "access_token",
        "accesstoken",
        "refreshtoken",
        "refresh_token",
        "authorization",
        "password",
        "token",
    }
)
# Shapes worth masking even when the value was never configured: bearer tokens and JWTs.
TOKEN_SHAPES = re.compile(
    r"(Bearer\s+)[A-Za-z0-9._~+/=-]+|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str) -> None:
        """Treat `value` as secret from now on (short values would mask innocent text)."""
        if value and len(value) >= 6:
            self._secrets.add(value)
            for line in value.splitlines():  # a PEM key may leak line by line
                if len(line.strip()) >= 16:
                    self._secrets.add(line.strip())

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, MASK)
        return TOKEN_SHAPES.sub(lambda m: (m.group(1) or "") + MASK, value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        masked = {}
        for name, value in headers:
            if name.lower() in SECRET_KEYS:
                scheme = value.split(" ", 1)[0] if " " in value else ""
                masked[name] = f"{scheme} {MASK}".strip()
            else:
                masked[name] = self.text(value)
        return masked

    def data(self, value: object) -> object:
        """A copy of a JSON-like value with secret keys and secret values masked."""
        if isinstance(value, dict):
            return {
                k: MASK if str(k).lower() in SECRET_KEYS and v else self.data(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

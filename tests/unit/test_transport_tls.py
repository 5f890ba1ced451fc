"""The client's transport loads the CA bundle (20-35 ms) only when it may reach an https URL;
every https URL it can send to is verified as before."""

from __future__ import annotations

import ssl
from dataclasses import replace

import httpx
import pytest

from techval.core import wire
from techval.core.client import RedoxClient, reaches_https
from techval.core.config import Settings, load_settings
from techval.core.redaction import Redactor
from techval.core.schemas import SchemaRegistry


def verify_mode(client: RedoxClient) -> ssl.VerifyMode:
    transport = client.http._transport  # the transport given to httpx.Client
    assert isinstance(transport, httpx.HTTPTransport)
    context = transport._pool._ssl_context
    assert context is not None
    return ssl.VerifyMode(context.verify_mode)


def client_for(settings: Settings) -> RedoxClient:
    return RedoxClient(settings, SchemaRegistry(), Redactor())


def test_a_client_of_http_urls_only_loads_no_certificates() -> None:
    settings = load_settings("simulator").with_base_url("http://127.0.0.1:8080")
    assert not reaches_https(settings)
    with client_for(settings) as client:
        assert verify_mode(client) == ssl.CERT_NONE


@pytest.mark.parametrize("where", ["base_url", "token_url", "refresh_url"])
def test_any_https_url_keeps_certificates_verified(where: str) -> None:
    settings = load_settings("simulator").with_base_url("http://127.0.0.1:8080")
    https = "HTTPS://api.redoxengine.com/v2/auth/token"
    if where == "base_url":
        settings = settings.with_base_url("https://api.redoxengine.com")
    elif where == "token_url":
        settings = replace(settings, auth=replace(settings.auth, token_url=https))
    else:
        settings = replace(settings, auth=replace(settings.auth, refresh_url=https))
    assert reaches_https(settings), where
    with client_for(settings) as client:
        assert verify_mode(client) == ssl.CERT_REQUIRED


def test_the_bounded_transport_verifies_by_default() -> None:
    context = wire.bounded_transport()._pool._ssl_context
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED

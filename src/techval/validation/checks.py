"""Checks on an answer from Redox. Each raises a CheckFailed of its kind (SchemaMismatch,
RedoxRefused) with a message naming the cause."""

from __future__ import annotations

from techval.core.errors import RedoxRefused, SchemaMismatch
from techval.core.exchange import MAX_DEPTH, Exchange
from techval.core.verifies import verifies


@verifies("API-05", "API-08")
def answered(exchange: Exchange) -> None:
    """The server answered with a JSON body that matches the schema it was checked against."""
    if exchange.oversized:
        raise SchemaMismatch(
            f"{exchange.label}: the response is over the {exchange.read_limit:,} byte limit of a "
            "Redox message (not read further)"
        )
    if exchange.too_deep:
        raise SchemaMismatch(
            f"{exchange.label}: the response is JSON nested more than {MAX_DEPTH} levels deep "
            "(not read)"
        )
    if not exchange.is_json:
        snippet = " ".join(exchange.response_text.split())[:80]
        raise SchemaMismatch(
            f"{exchange.label}: the response is not JSON (HTTP {exchange.status}, "
            f"{exchange.response_headers.get('content-type', 'no content-type')}): {snippet!r}"
        )
    if exchange.violations:
        listed = "; ".join(str(v) for v in exchange.violations)
        raise SchemaMismatch(
            f"{exchange.label}: the response does not match {exchange.schema}.json: {listed}"
        )


@verifies("API-09", "DOD-01", "FHIR-06", "ORG-01")
def succeeded(exchange: Exchange) -> None:
    """HTTP 2xx, no Meta.Errors, and a response that matches the message's response schema."""
    if exchange.status is None or not 200 <= exchange.status < 300:
        errors = "; ".join(exchange.redox_errors) or "no error text in the body"
        raise RedoxRefused(
            f"{exchange.label}: Redox answered HTTP {exchange.status}: {errors}",
            status=exchange.status,
            errors=exchange.redox_errors,
        )
    if exchange.redox_errors:
        raise RedoxRefused(
            f"{exchange.label}: Redox answered HTTP {exchange.status} with "
            f"{_errors_shape(exchange)}: " + "; ".join(exchange.redox_errors),
            status=exchange.status,
            errors=exchange.redox_errors,
        )
    answered(exchange)


@verifies("ORG-02")
def refused_with(exchange: Exchange, status: int, text: str) -> bool:
    """True when Redox refused with this status and an error text containing `text`."""
    return exchange.status == status and any(text in error for error in exchange.redox_errors)


def _errors_shape(exchange: Exchange) -> str:
    """What carried an answer's errors: Meta.Errors (Data Model) or an OperationOutcome."""
    body = exchange.response_body
    return (
        "an OperationOutcome"
        if isinstance(body, dict) and "resourceType" in body
        else "Meta.Errors"
    )

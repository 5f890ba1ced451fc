"""The coded Carequality headers of a FHIR request, checked before it is sent (the client calls
`HeaderRules`): the user role a SNOMED CT code (CQ-03) and the purpose of use TREATMENT
(CQ-04), as the Data Model's Meta.Extensions are (validation.rules.carequality_metadata). The
code is read back from the value as `fhir.header_values` writes it; a format without {code}
(`display`) is checked by the configured code it was written from."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from techval.core.config import Settings, written_parts
from techval.core.errors import BreaksRedoxRule
from techval.core.redox import SNOMED_CT_CODE, TREATMENT
from techval.core.verifies import verifies


class HeaderRules:
    """The rules of one run's Carequality headers, handed to the client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @verifies("CQ-03", "CQ-04")
    def __call__(self, label: str, headers: Mapping[str, str]) -> None:
        """BreaksRedoxRule naming each coded header whose code breaks its rule."""
        problems = carequality_header_values(self.settings, headers)
        if problems:
            raise BreaksRedoxRule(
                f"{label}: the request breaks a Redox rule, not sent: " + "; ".join(problems)
            )


def carequality_header_values(settings: Settings, headers: Mapping[str, str]) -> list[str]:
    """What is wrong with the user role and purpose of use headers sent (absent ones are not
    this check's: requests without the Carequality headers have none)."""
    sent = {name.lower(): value for name, value in headers.items()}
    cq = settings.carequality
    rules: dict[str, tuple[Callable[[str], object], str, str]] = {
        "user_role": (SNOMED_CT_CODE.fullmatch, cq.user_role_code, "a SNOMED CT code"),
        "purpose_of_use": (lambda code: code == TREATMENT, cq.purpose_code, TREATMENT),
    }
    problems = []
    for field, (keeps, configured, what) in rules.items():
        header = settings.fhir.headers[field]
        value = sent.get(header.lower())
        if value is None:
            continue
        template = settings.fhir.header_values[field]
        parts = written_parts(template, value)
        code = (parts or {}).get("code", configured if parts is not None else None)
        if code is None or not keeps(code):
            problems.append(
                f"header {header}: {value!r} does not carry {what} as {template} "
                "(Carequality metadata)"
            )
    return problems

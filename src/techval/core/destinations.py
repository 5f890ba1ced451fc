"""The Carequality destination IDs that Redox publishes, by purpose and by tier.

Source: the destination table of "Create and maintain an organization record" (Redox docs,
redox-api.md section 5.2). Development and staging share one set; production has its own. The
data-on-demand repository destination is issued per organization, so it is never built in.
"""

from __future__ import annotations

from collections.abc import Mapping

from techval.core.verifies import verifies

DEVELOPMENT: Mapping[str, str] = {
    "patient_search": "adf917b5-1496-4241-87e2-ed20434b1fdb",
    "organization_patient_search": "1ca254a8-8d42-4593-abb4-b21399d9de57",
    "organization": "a07afe3b-d247-4415-827f-6837707e1b8b",
    "clinical_summary": "ec745338-8849-43ad-a7ce-4bc5bf1d8b89",
}

PRODUCTION: Mapping[str, str] = {
    "patient_search": "97f2dc1d-c71b-43a7-a436-9b789d44c804",
    "organization_patient_search": "6391b961-55ae-430b-a789-cf575f03fca0",
    "organization": "5d0fd248-6c52-4ad9-b907-ae10bf2dcc39",
    "clinical_summary": "628cbf79-1156-4923-b9d0-285906160ed6",
}


@verifies("API-10")
def resolve(configured: Mapping[str, str], production: bool) -> dict[str, str]:
    """Fill in the built-in IDs for this tier and refuse IDs that belong to the other tier.

    Returns the destination IDs by purpose. Raises ValueError naming the key at fault.
    """
    own, other = (PRODUCTION, DEVELOPMENT) if production else (DEVELOPMENT, PRODUCTION)
    tier, other_tier = (
        ("production", "development") if production else ("development", "production")
    )
    other_ids = {value: key for key, value in other.items()}
    resolved = dict(own)
    for purpose, value in configured.items():
        if value in other_ids:
            raise ValueError(
                f"destinations.{purpose}: {value} is the {other_tier} destination for "
                f"'{other_ids[value]}', but this is a {tier} environment"
            )
        resolved[purpose] = value
    return resolved

"""The shapes of Redox's answers: every field of the model, null when there is no value.

Redox's published examples answer with explicit nulls for absent optional fields
(`"PhoneNumber": {"Home": "...", "Office": null, "Mobile": null}`, redox-api.md 4.1.4, 4.3.4,
10.4). The field lists are those of Redox's schema bundle (10.2) for the answers the
simulator gives; fields the model does not have are not answered.
"""

from __future__ import annotations

import copy
from typing import Any

ADDRESS = dict.fromkeys(("StreetAddress", "City", "State", "ZIP", "County", "Country"))
IDENTIFIER = {"ID": None, "IDType": None}

# PatientSearch answer: Patient.Demographics (patientsearch/response).
DEMOGRAPHICS: dict[str, Any] = {
    "FirstName": None,
    "MiddleName": None,
    "LastName": None,
    "DOB": None,
    "SSN": None,
    "Sex": None,
    "Race": None,
    "IsHispanic": None,
    "Religion": None,
    "MaritalStatus": None,
    "IsDeceased": None,
    "DeathDateTime": None,
    "PhoneNumber": {"Home": None, "Office": None, "Mobile": None},
    "EmailAddresses": [],
    "Language": None,
    "Citizenship": [],
    "Address": ADDRESS,
}
CONTACT: dict[str, Any] = {
    "Purpose": None,
    "Name": None,
    "EmailAddresses": [],
    "PhoneNumber": {"Home": None, "Work": None, "Mobile": None},
}
# PatientSearch.LocationQueryResponse: Patients[].Organization.
LOCATION_ORGANIZATION = {
    "Name": None,
    "Aliases": [],
    "Identifiers": [IDENTIFIER],
    "Contacts": [CONTACT],
    "Address": ADDRESS,
}
# Organization.QueryResponse: Organizations[] (4.1.4).
DIRECTORY_RECORD = {
    "Active": None,
    "Name": None,
    "Aliases": [],
    "Identifiers": [IDENTIFIER],
    "Type": {"System": None, "Value": None},
    "PartOf": {"Identifier": {"Type": None, "System": None, "Value": None}},
    "Contacts": [CONTACT],
    "Address": ADDRESS,
    "ManagingOrg": None,
}
_PROVIDER: dict[str, Any] = {
    "ID": None,
    "IDType": None,
    "Type": None,
    "FirstName": None,
    "LastName": None,
    "Credentials": [],
    "Address": ADDRESS,
    "EmailAddresses": [],
    "PhoneNumber": {"Office": None},
    "Location": {"Type": None, "Facility": None, "Department": None, "Room": None},
}
# ClinicalSummary.DocumentQueryResponse: Documents[] (4.3.4).
LISTED_DOCUMENT = {
    "ID": None,
    "Title": None,
    "DateTime": None,
    "Locale": None,
    "Type": {"Code": None, "Codeset": None, "Name": None},
    "Author": _PROVIDER,
    "Visit": {"ID": None, "StartDateTime": None, "EndDateTime": None},
    "Location": {"Department": None},
}
# ClinicalSummary.PatientQueryResponse: Header (4.3.2, as VisitPush 4.3.6).
SUMMARY_HEADER = {
    "Document": {
        "ID": None,
        "Title": None,
        "DateTime": None,
        "Type": None,
        "Locale": None,
        "TypeCode": {"Code": None, "CodeSystem": None, "CodeSystemName": None, "Name": None},
        "Author": _PROVIDER,
    },
    "Patient": {
        "Identifiers": [IDENTIFIER],
        "Demographics": {
            "FirstName": None,
            "MiddleName": None,
            "LastName": None,
            "DOB": None,
            "SSN": None,
            "Sex": None,
            "Address": ADDRESS,
            "PhoneNumber": {"Home": None, "Mobile": None},
            "EmailAddresses": [],
            "Language": None,
            "Race": None,
            "Ethnicity": None,
            "Religion": None,
            "MaritalStatus": None,
        },
    },
    "PCP": _PROVIDER,
}


def filled(shape: Any, value: Any) -> Any:
    """`value` in `shape`: every field of the shape, null (or []) where `value` has none.

    A list shape holds one item shape; a leaf (None) takes the value as it is.
    """
    if isinstance(shape, dict):
        given = value if isinstance(value, dict) else {}
        return {key: filled(part, given.get(key)) for key, part in shape.items()}
    if isinstance(shape, list):
        items = value if isinstance(value, list) else []
        return [filled(shape[0], item) for item in items] if shape else copy.deepcopy(items)
    return copy.deepcopy(value)


def reordered(items: list[Any]) -> list[Any]:
    """The items in another order than given (reversed), as Redox does not keep the order."""
    return list(reversed(items))

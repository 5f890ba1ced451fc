"""The one comparison of what Redox gives back with what was sent, with Redox's tolerance.

Every read-back uses `differences(sent, answered)`: the organization record in the directory,
a patient pushed to the repository (new, updated, merged), a pushed document in the document
list and the patient of a summary. Only what was sent is checked:

* absent, null, "", [] and {} are the same (Redox's schemas allow null nearly everywhere and
  answers leave out or null what is empty: `"Office": null`); an object whose fields are all
  empty is empty too, and so is a sent value that is empty: there is nothing to check;
* key order does not matter, and neither does the order of any list (identifiers, phone
  numbers, e-mail addresses, contacts, aliases): each sent entry must equal a distinct entry
  of the answer under the same rules, and the answer may hold more entries than were sent;
* fields the answer adds are fine;
* strings compare exactly, case and whitespace included: phone numbers and codes are exact.
  INFERRED: Redox documents no normalization of what it stores, and passes values through as
  sent (redox-api.md 4.4.1), so a changed letter is a changed value.

A `Difference` names the field by its path (`Demographics.PhoneNumber.Mobile`) and its kind,
never the values: they are patient data. An entry of a list is named by its index in what was
sent (`Contacts[sent 1].Name`), as the answer's order says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from techval.core.verifies import verifies

Kind = Literal["missing", "different", "unexpected"]


@dataclass(frozen=True)
class Difference:
    """One field where the answer does not hold what was sent.

    `kind`: missing (sent, absent in the answer), different (both there, not equal) or
    unexpected (another type of value: an object where a string was sent), the types in
    `detail`.
    """

    path: str
    kind: Kind
    detail: str = ""

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.path} is missing"
        if self.kind == "different":
            return f"{self.path} differs"
        return f"{self.path} is unexpected: {self.detail}"


def blank(value: Any) -> bool:
    """Absent, null, "", [] and {}, or a list or object holding nothing else."""
    pending = [value]  # a loop, not recursion: an answer may nest deeper than Python recurses
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        elif item is not None and item != "":
            return False
    return True


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else "another type"


@verifies("DOD-08", "ORG-03")
def differences(sent: Any, answered: Any, path: str = "") -> list[Difference]:
    """Where `answered` does not hold what `sent` holds, each named by its path under `path`."""
    if blank(sent):
        return []
    here = path or "$"
    if blank(answered):  # name each sent field that is missing, not the object holding them
        answered = {} if isinstance(sent, dict) else [] if isinstance(sent, list) else None
        if answered is None:
            return [Difference(here, "missing")]
    if _shape(sent) != _shape(answered):
        detail = f"sent {_shape(sent)}, the answer has {_shape(answered)}"
        return [Difference(here, "unexpected", detail)]
    if isinstance(sent, dict):
        found: list[Difference] = []
        for key, value in sent.items():
            found += differences(value, answered.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(sent, list):
        return _list_differences(sent, answered, path)
    return [] if sent == answered else [Difference(here, "different")]


def matching(sent: Sequence[Any], answered: Any) -> dict[int, int]:
    """A largest pairing of sent entries with distinct answered entries that hold them:
    sent index -> answered index. Blank sent entries are left out."""
    entries = answered if isinstance(answered, list) else []
    fits = {
        i: [j for j, got in enumerate(entries) if not differences(want, got)]
        for i, want in enumerate(sent)
        if not blank(want)
    }
    owner: dict[int, int] = {}  # answered index -> sent index

    def assign(i: int, seen: set[int]) -> bool:  # an augmenting path (Kuhn's algorithm)
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or assign(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in fits:
        assign(i, set())
    return {i: j for j, i in owner.items()}


def _list_differences(sent: list[Any], answered: list[Any], path: str) -> list[Difference]:
    paired = matching(sent, answered)
    spare = [j for j in range(len(answered)) if j not in paired.values()]
    found: list[Difference] = []
    for i, want in enumerate(sent):
        if blank(want) or i in paired:
            continue
        where = f"{path}[sent {i}]"
        # name what differs from the nearest entry nothing else holds; missing if none is left
        nearest = min(
            (differences(want, answered[j], where) for j in spare),
            key=len,
            default=[Difference(where, "missing")],
        )
        found += nearest
    return found


def describe(found: Sequence[Difference], limit: int = 10) -> str:
    """The differences for a message: paths and kinds, no values."""
    text = "; ".join(str(d) for d in found[:limit])
    return text + (f"; and {len(found) - limit} more" if len(found) > limit else "")

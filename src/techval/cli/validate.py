"""`techval validate FILE...`: message files checked against the schemas and the documented
rules that hold in every environment."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from techval.core import inputfiles
from techval.core.redox import MAX_MESSAGE_BYTES
from techval.core.schemas import SchemaRegistry, UnknownMessage
from techval.validation import rules

SHOWN_PROBLEMS = 20  # per file, then "... and N more"


# A message file may be pretty-printed: twice Redox's 40 MB limit is read; rules.size then
# measures the message as it would be sent.
MAX_MESSAGE_FILE_BYTES = 2 * MAX_MESSAGE_BYTES


def command_validate(args: argparse.Namespace) -> int:
    registry = SchemaRegistry()
    kind = "response" if args.response else "request"
    failures = 0
    for name in args.files:
        problems = _validate_file(registry, Path(name), response=args.response)
        if problems:
            failures += 1
            for problem in problems[:SHOWN_PROBLEMS]:
                print(f"{name}: {problem}")
            if len(problems) > SHOWN_PROBLEMS:
                print(f"{name}: ... and {len(problems) - SHOWN_PROBLEMS} more")
        else:
            print(f"{name}: valid {kind}")
    return 1 if failures else 0


def _validate_file(registry: SchemaRegistry, path: Path, *, response: bool) -> list[str]:
    """The schema's violations, then (for a request) those of the documented rules that hold
    in every environment: Carequality metadata on Carequality requests, the 40 MB limit."""
    try:
        message: Any = inputfiles.read_json(path, MAX_MESSAGE_FILE_BYTES)
    except OSError as exc:
        return [f"cannot read: {exc.strerror}"]
    except inputfiles.Refused as exc:
        return [str(exc)]
    try:
        name = registry.schema_for(message, response=response)
    except UnknownMessage as exc:
        return [str(exc)]
    found = registry.validate(name, message)
    if not response and isinstance(message, dict):
        found += rules.without_environment(message, name)
    return [str(v) for v in found]

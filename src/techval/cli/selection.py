"""`techval run`'s selection options checked before anything runs: tags and workers."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from techval.core.errors import CouldNotRun
from techval.harness.thirdparty import tag_expression_error

TAG = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


TAG_WORDS = {"and", "or", "not"}


MAX_WORKERS_PER_CORE = 4


def known_tags(features: Path) -> set[str]:
    tags: set[str] = set()
    for feature in features.rglob("*.feature"):
        tags.update(TAG.findall(feature.read_text(encoding="utf-8")))
    return tags


def check_tags(expression: str, features: Path) -> None:
    problem = tag_expression_error(expression)
    if problem is not None:
        raise CouldNotRun(f"--tags {expression!r}: not a tag expression ({problem})")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression)) - TAG_WORDS
    unknown = sorted(words - known_tags(features))
    if unknown:
        known = ", ".join(sorted(known_tags(features)))
        raise CouldNotRun(f"--tags: unknown tag {unknown[0]!r}; the features use: {known}")


def untagged(expression: str) -> str:
    """A tag expression as cucumber users write it (@organization) in pytest's -m words."""
    return TAG.sub(r"\1", expression)


def capped(workers: int) -> int:
    """At most MAX_WORKERS_PER_CORE workers a core: each is a Python process waiting on the
    network; past that, starting them costs more than they give."""
    limit = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers > limit:
        print(
            f"techval: --workers {workers}: using {limit} ({MAX_WORKERS_PER_CORE} per CPU core; "
            "more only adds start-up time)",
            file=sys.stderr,
        )
    return min(workers, limit)

"""Which scenarios must run one after another, in one process: lifecycle groups.

The organization scenarios of one organization are one record's lifecycle (create, update,
deactivate); data-on-demand scenarios that push the same test patient build on each other's
repository state. Everything else is independent. Workers (`techval run --workers N`) keep a
group on one worker; shards (`--shard K/N`) never split one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from techval.harness.thirdparty import scenario_template
from techval.validation.catalogue import step_for

ALIAS = re.compile(r'"([^"]+)"')  # steps name test patients by quoted alias


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "organization"


def group_for(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    profile = callspec.params.get("organization_profile") if callspec is not None else None
    if profile is not None:
        return f"organization:{slug(profile.name)}"
    step = step_for(marker.name for marker in item.iter_markers())
    scenario = scenario_template(item)
    if step is not None and step.key == "data_on_demand" and scenario is not None:
        for scenario_step in scenario.steps:
            found = ALIAS.search(scenario_step.name)
            if found:
                return f"patient:{found.group(1)}"
    return None


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N), 1 <= K <= N; ValueError naming the problem."""
    number, slash, total = text.partition("/")
    if not slash or not number.isdigit() or not total.isdigit():
        raise ValueError(f"--shard {text!r}: give K/N, e.g. 1/4")
    k, n = int(number), int(total)
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_of(groups: Sequence[str | None], shards: int) -> list[int]:
    """The shard (0-based) of each scenario, given each one's group in run order: whole
    groups go, largest first, to the shard with the fewest scenarios so far (ties: the lower
    shard), so the slices are deterministic and balanced and no group is split."""
    units: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        units.setdefault(group if group is not None else f"#{index}", []).append(index)
    load = [0] * shards
    chosen = [0] * len(groups)
    for members in sorted(units.values(), key=lambda m: (-len(m), m[0])):
        target = min(range(shards), key=lambda s: (load[s], s))
        load[target] += len(members)
        for index in members:
            chosen[index] = target
    return chosen

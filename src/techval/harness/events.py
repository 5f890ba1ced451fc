"""The run's event stream: what happened, in the order it happened, for whoever listens.

Events: run_started, scenario_collected, scenario_not_selected (a scenario of the suite left
out by --tags, -k or --shard), scenario_started, exchange, scenario_finished,
undefined_step, run_finished, finding (a SHOULD requirement not followed: a warning). In
each process the run's `EventStream` hands every event to its subscribers (the Allure
attachment of an exchange, the exchanges of the scenario in progress, the progress line,
the event file). `EventFile` appends each event as one JSON
line to reports/events/<process>.jsonl and flushes it, so a process that dies loses nothing
it had reported; the verdict, the HAR and the console table are built afterwards from the
files of every process (one, the xdist workers, or several shards: `techval merge`).

Only redacted data goes into an event's `data`; the live Exchange rides along for
in-process subscribers and is never written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from techval.core import inputfiles
from techval.core.errors import CouldNotRun
from techval.core.exchange import Exchange
from techval.core.redox import timestamp

EVENTS = "events"  # the folder under reports/


@dataclass(frozen=True)
class Event:
    kind: str
    data: dict[str, Any]  # JSON-ready and redacted; what the event file keeps
    exchange: Exchange | None = field(default=None, compare=False)


Handler = Callable[[Event], None]


def make(kind: str, exchange: Exchange | None = None, /, **data: Any) -> Event:
    return Event(kind, {"event": kind, "at": timestamp(), **data}, exchange)


class EventStream:
    """One process's events. Events emitted before anything that keeps them subscribed (the
    first token, fetched before pytest starts) wait in a backlog for the first `keep=True`
    subscriber."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._backlog: list[Event] | None = []
        self.scenario: str | None = None  # node ID of the scenario in progress in this process

    def subscribe(self, handler: Handler, *, keep: bool = False) -> None:
        self._handlers.append(handler)
        if keep and self._backlog is not None:
            backlog, self._backlog = self._backlog, None
            for event in backlog:
                handler(event)

    def emit(self, kind: str, /, exchange: Exchange | None = None, **data: Any) -> Event:
        event = make(kind, exchange, **data)
        if self._backlog is not None:
            self._backlog.append(event)
        for handler in list(self._handlers):
            handler(event)
        return event


class ScenarioExchanges:
    """The exchanges of the scenario in progress (the `scenario_exchanges` fixture)."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def __call__(self, event: Event) -> None:
        if event.kind == "scenario_started":
            self.exchanges = []
        elif event.kind == "exchange" and event.exchange is not None:
            self.exchanges.append(event.exchange)


class EventFile:
    """Appends this process's events to reports/events/<process>.jsonl, a line each. A write
    the file system refuses (a full disk) goes to `on_error` and ends the file."""

    def __init__(
        self, reports: Path, process: str, on_error: Callable[[OSError], None] | None = None
    ) -> None:
        folder = reports / EVENTS
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{process}.jsonl"
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._on_error = on_error

    def __call__(self, event: Event) -> None:
        if self._file is not None:
            try:
                self._file.write(json.dumps(event.data, ensure_ascii=False) + "\n")
                self._file.flush()
            except OSError as exc:
                self.close()
                if self._on_error is None:
                    raise
                self._on_error(exc)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):  # what could not be flushed is lost either way
                file.close()


def clear(reports: Path) -> None:
    """A new run starts with no events of an earlier one."""
    for path in (reports / EVENTS).glob("*.jsonl"):
        path.unlink()


def files(folders: Iterable[Path]) -> list[Path]:
    return [path for folder in folders for path in sorted((folder / EVENTS).glob("*.jsonl"))]


# What each kind of event must carry, and of which JSON type, to be read at all.
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "scenario_collected": {
        "scenario": (str,),
        "name": (str,),
        "parameters": (dict,),
        "position": (int,),
        "group": (str, type(None)),
    },
    "scenario_not_selected": {"scenario": (str,), "name": (str,), "reason": (str,)},
    "scenario_started": {"scenario": (str,)},
    "scenario_finished": {"scenario": (str,), "status": (str, type(None))},
    "exchange": {"scenario": (str, type(None)), "entry": (dict,), "log_ids": (list,)},
    "run_started": {"environment": (dict, type(None))},  # a worker's has none
}


class BadEvents(CouldNotRun):
    """An event file that techval did not write as it is (edited, or from another tool)."""


def read(folders: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every event of the runs whose reports are in `folders`, file by file. A last line with
    no newline that cannot be read (a process killed while writing it, cut anywhere, inside a
    UTF-8 character too) is passed over. Any other line that is not UTF-8, not JSON, nested
    too deeply, or an event without what its kind must carry, is BadEvents naming the file
    and line: techval did not write it so, and evidence missing a line would not hold."""
    for path in files(folders):
        try:
            opened = inputfiles.open_regular(path)
        except (OSError, inputfiles.Refused) as exc:
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise BadEvents(f"{path}: cannot be read: {why}") from None
        with opened as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    event = inputfiles.parse_json(inputfiles.decode(line))
                except inputfiles.Refused as exc:
                    if not line.endswith(b"\n"):  # torn: the process died while writing it
                        continue
                    raise BadEvents(f"{path}:{number}: {exc}") from None
                yield _checked(event, f"{path}:{number}")


def _checked(event: Any, where: str) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise BadEvents(f"{where}: not a techval event")
    for key, types in FIELDS.get(event["event"], {}).items():
        if not isinstance(event.get(key), types):  # None: absent, when allowed
            raise BadEvents(f"{where}: {event['event']}: {key} is missing or wrong")
    return event

"""The run's event stream: what happened, in the order it happened, for whoever listens.

Each kind of event is a record (a frozen dataclass, `KINDS`): run_started,
scenario_collected, scenario_not_selected (a scenario of the suite left out by --tags, -k or
--shard), scenario_started, exchange, scenario_finished, undefined_step, run_stopped,
run_finished, finding (a SHOULD requirement not followed: a warning). In each process the
run's `EventStream` hands every record to its subscribers (the Allure attachment of an
exchange, the exchanges of the scenario in progress, the progress line, the event file).
JSON is only at the file boundary: `EventFile` appends each record as one JSON line
(`as_json`) to reports/events/<process>.jsonl and flushes it, so a process that dies loses
nothing it had reported; `read` parses each line back into its record (`parse`: the fields
its dataclass declares, of their types), and the verdict, the HAR and the console table are
built from the records of every process (one, the xdist workers, or several shards:
`techval merge`).

Only redacted data goes into a record's fields; the live Exchange rides along for
in-process subscribers and is never written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import IO, Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from techval.core import inputfiles, jsontext
from techval.core.errors import CouldNotRun
from techval.core.exchange import Exchange
from techval.core.redox import timestamp

EVENTS = "events"  # the folder under reports/
LIVE = {"live": True}  # a field for the subscribers in this process, never written
R = TypeVar("R", bound="Record")


@dataclass(frozen=True, kw_only=True)
class Record:
    """An event: one kind of record each, its fields JSON-ready and redacted (what the event
    file keeps, with the kind as "event")."""

    KIND: ClassVar[str]
    at: str = field(default_factory=timestamp)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Record):
    KIND = "run_started"
    process: str = ""
    environment: dict[str, Any] | None = None  # the run's environment block; a worker's: none


@dataclass(frozen=True, kw_only=True)
class Identity(Record):
    """A scenario as known before it runs (ScenarioOutcome.identity)."""

    scenario: str  # its node ID
    name: str
    feature: str = ""
    feature_file: str = ""
    step: str | None = None  # the validation step key
    parameters: dict[str, str]
    group: str | None  # its lifecycle group, None when independent
    position: int  # its place in the whole suite's order


@dataclass(frozen=True, kw_only=True)
class ScenarioCollected(Identity):
    KIND = "scenario_collected"


@dataclass(frozen=True, kw_only=True)
class ScenarioNotSelected(Identity):
    """A scenario of the suite left out by --tags, -k or --shard."""

    KIND = "scenario_not_selected"
    reason: str  # "selection", or "shard": another shard runs it


@dataclass(frozen=True, kw_only=True)
class ScenarioStarted(Record):
    KIND = "scenario_started"
    scenario: str


@dataclass(frozen=True, kw_only=True)
class ExchangeRecorded(Record):
    KIND = "exchange"
    scenario: str | None  # None: before any scenario (the first token)
    entry: dict[str, Any]  # the HAR entry, redacted
    log_ids: list[str]
    shape: dict[str, Any] | None = None  # the answer's field paths and types (drift.py)
    # the live exchange, for the subscribers in this process; never written
    exchange: Exchange | None = field(default=None, compare=False, repr=False, metadata=LIVE)


@dataclass(frozen=True, kw_only=True)
class ScenarioFinished(Record):
    KIND = "scenario_finished"
    scenario: str
    status: str | None
    kind: str | None = None
    message: str = ""
    raised_at: str | None = None  # the declared check that failed it (core.verifies)
    requirements: list[str] = field(default_factory=list)  # what that check verifies
    duration_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class UndefinedStep(Record):
    KIND = "undefined_step"
    where: str


@dataclass(frozen=True, kw_only=True)
class RunStopped(Record):
    """Why this process attempts no further scenario (fail fast)."""

    KIND = "run_stopped"
    reason: str


@dataclass(frozen=True, kw_only=True)
class RunFinished(Record):
    KIND = "run_finished"
    interrupted: bool = False


@dataclass(frozen=True, kw_only=True)
class Finding(Record):
    """A SHOULD requirement not followed: a warning (Reporter.finding)."""

    KIND = "finding"
    scenario: str | None
    requirement: str
    message: str


KINDS: dict[str, type[Record]] = {
    kind.KIND: kind
    for kind in (
        RunStarted,
        ScenarioCollected,
        ScenarioNotSelected,
        ScenarioStarted,
        ExchangeRecorded,
        ScenarioFinished,
        UndefinedStep,
        RunStopped,
        RunFinished,
        Finding,
    )
}

Handler = Callable[[Record], None]


class EventStream:
    """One process's events. Events emitted before anything that keeps them subscribed (the
    first token, fetched before pytest starts) wait in a backlog for the first `keep=True`
    subscriber.

    An event may be deferred (`defer`: an action that emits it, later): what is deferred runs,
    in order, at the next `settle` or `emit`, so the file keeps the order things happened
    in. The run defers each exchange's evidence (its redaction, HAR entry and attachment) out
    of the request's time and settles at every step's end, in nested steps, before a wait and
    before anything else is masked or reported; at most MAX_DEFERRED wait. A process killed
    (SIGKILL) loses the evidence of the exchanges sent since it last settled."""

    MAX_DEFERRED = 64

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._backlog: list[Record] | None = []
        self._deferred: list[Callable[[], object]] = []
        self._settling = False
        self.scenario: str | None = None  # node ID of the scenario in progress in this process

    def subscribe(self, handler: Handler, *, keep: bool = False) -> None:
        self._handlers.append(handler)
        if keep and self._backlog is not None:
            backlog, self._backlog = self._backlog, None
            for event in backlog:
                handler(event)

    def defer(self, action: Callable[[], object]) -> None:
        """Run `action` (which emits) at the next `settle`: now, when MAX_DEFERRED wait."""
        self._deferred.append(action)
        if len(self._deferred) >= self.MAX_DEFERRED:
            self.settle()

    def settle(self) -> None:
        """Run, in order, every action deferred so far (what they emit is emitted as is). An
        action that fails does not stop the others: the first failure is raised once all have
        run. One interrupted (Ctrl-C, SIGTERM) stays first in line for the next settle. Within
        a settle (an action's own emit, a subscriber), settling again does nothing: what the
        actions still to run would teach the redactor is not yet known there."""
        if self._settling:
            return
        self._settling = True
        failed: list[Exception] = []
        try:
            while self._deferred:
                try:
                    self._deferred[0]()
                except Exception as exc:  # noqa: BLE001 - raised once the others ran
                    failed.append(exc)
                self._deferred.pop(0)
        finally:
            self._settling = False
        if failed:
            if len(failed) > 1:
                failed[0].add_note(f"and {len(failed) - 1} more deferred action(s) failed")
            raise failed[0]

    def emit(self, event: R) -> R:
        self.settle()  # what was deferred happened before
        return self._emit(event)

    def _emit(self, event: R) -> R:
        if self._backlog is not None:
            self._backlog.append(event)
        for handler in list(self._handlers):
            handler(event)
        return event


class ScenarioExchanges:
    """The exchanges of the scenario in progress (the `scenario_exchanges` fixture): each is
    added as it is recorded (`add`), its evidence deferred or not; a scenario_started event
    starts a new list."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def add(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)

    def __call__(self, event: Record) -> None:
        if isinstance(event, ScenarioStarted):
            self.exchanges = []


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

    def __call__(self, event: Record) -> None:
        if self._file is not None:
            try:
                self._file.write(jsontext.line(as_json(event)) + "\n")
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


class BadEvents(CouldNotRun):
    """An event file that techval did not write as it is (edited, or from another tool)."""


def as_json(event: Record) -> dict[str, Any]:
    """The event as its file line holds it: the kind as "event", then its fields."""
    document: dict[str, Any] = {"event": event.KIND}
    for item, _ in _hints(type(event)):  # once per exchange too: the fields looked up once
        document[item.name] = getattr(event, item.name)
    return document


def read(folders: Iterable[Path]) -> Iterator[Record]:
    """Every event of the runs whose reports are in `folders`, file by file. A last line with
    no newline that cannot be read (a process killed while writing it, cut anywhere, inside a
    UTF-8 character too) is passed over. Any other line that is not UTF-8, not JSON, nested
    too deeply, or an event without what its kind must carry, is BadEvents naming the file
    and line: techval did not write it so, and evidence missing a line would not hold. An
    event of a kind this version does not know is passed over."""
    for path in files(folders):
        try:
            opened = inputfiles.open_regular(path)
        except (OSError, inputfiles.Refused) as exc:
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise BadEvents(f"{path}: cannot be read: {why}") from None
        with opened as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    document = inputfiles.parse_json(inputfiles.decode(line))
                except inputfiles.Refused as exc:
                    if not line.endswith(b"\n"):  # torn: the process died while writing it
                        continue
                    raise BadEvents(f"{path}:{number}: {exc}") from None
                event = parse(document, f"{path}:{number}")
                if event is not None:
                    yield event


def records(documents: Iterable[Any], where: str = "event") -> Iterator[Record]:
    """Events from JSON documents (already read), each checked as `read` checks a line."""
    for number, document in enumerate(documents, start=1):
        event = parse(document, f"{where} {number}")
        if event is not None:
            yield event


def parse(document: Any, where: str) -> Record | None:
    """The record a JSON document holds; None for a kind this version does not know.
    BadEvents names `where`, the kind and the field missing or of the wrong JSON type."""
    if not isinstance(document, dict) or not isinstance(document.get("event"), str):
        raise BadEvents(f"{where}: not a techval event")
    kind = KINDS.get(document["event"])
    return None if kind is None else parse_as(kind, document, where)


def parse_as(kind: type[R], document: Mapping[str, Any], where: str) -> R:
    """A record of `kind` from the fields of `document` (its "event" aside), each checked
    against the type the record declares; BadEvents as `parse`."""
    values: dict[str, Any] = {"at": ""}  # not the time it was read
    for item, hint in _hints(kind):
        value = document.get(item.name, MISSING)
        if value is MISSING and _optional(item):
            continue
        value = None if value is MISSING else value  # absent: None, when its type allows it
        if not _fits(value, hint):
            raise BadEvents(f"{where}: {kind.KIND}: {item.name} is missing or wrong")
        values[item.name] = value
    return kind(**values)


def _optional(item: Field[Any]) -> bool:
    return item.default is not MISSING or item.default_factory is not MISSING


_FIELDS: dict[type[Record], tuple[tuple[Field[Any], Any], ...]] = {}


def _hints(kind: type[Record]) -> tuple[tuple[Field[Any], Any], ...]:
    """The fields a file line carries, each with its declared type (looked up for every line:
    once a kind, when first written or read)."""
    found = _FIELDS.get(kind)
    if found is None:
        hints = get_type_hints(kind)
        found = _FIELDS[kind] = tuple(
            (item, hints[item.name]) for item in fields(kind) if not item.metadata.get("live")
        )
    return found


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value is of the type a record's field declares."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        return any(_fits(value, arg) for arg in args)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint in (int, float):  # JSON numbers; a boolean is not one
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (hint is float or isinstance(value, int))
        )
    if origin is dict:
        return isinstance(value, dict) and all(_fits(v, args[1]) for v in value.values())
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    return isinstance(value, hint)

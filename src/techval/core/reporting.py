"""Evidence in the Allure report: each exchange, redacted, under the step that sent it; the
findings of documented recommendations (SHOULD), which warn and never fail; and notes.

allure-pytest-bdd fails a scenario when something is attached outside a running test (during
fixture setup, for example), so attachments are made only while `Reporter.active` is set by
the pytest plugin around the test call and teardown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import allure

from techval.core import jsontext
from techval.core.exchange import Exchange
from techval.core.redaction import Redactor

# Told of each finding: the requirement's ID (fixtures/requirements.yaml) and the message,
# already redacted. The run wires it to its event stream (a "finding" event).
FindingHook = Callable[[str, str], object]


class Reporter:
    def __init__(
        self,
        redactor: Redactor,
        on_finding: FindingHook | None = None,
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        """`settle`: writes the evidence of the exchanges held back (the run defers it out of
        the requests' time), called before anything else is reported, so that the report
        keeps the order things happened in and every value an answer taught the redactor is
        known before a message is masked."""
        self.redactor = redactor
        self.on_finding = on_finding
        self.settle = settle
        self.active = False

    def exchange(self, exchange: Exchange) -> None:
        """Attach one exchange (request, response, Redox log IDs, violations), redacted."""
        if not self.active:
            return
        document = self.redactor.data(exchange.as_document())
        allure.attach(
            jsontext.indented(document),
            name=self.redactor.text(exchange.summary()),
            attachment_type=allure.attachment_type.JSON,
        )

    def finding(self, requirement_id: str, message: str) -> None:
        """Record that a documented recommendation (a SHOULD requirement) was not followed:
        a warning in the evidence, never a failure. Redacted before anyone sees it."""
        self.settle()
        text = self.redactor.text(message)
        if self.on_finding is not None:
            self.on_finding(requirement_id, text)
        if self.active:
            with allure.step(f"Warning ({requirement_id}, SHOULD): {text}"):
                pass

    def note(self, message: str) -> None:
        """Say what a reader must know of a check that passed which is neither a failure nor a
        SHOULD finding (a search read only in part): a step of its own in the report,
        redacted."""
        self.settle()
        if self.active:
            with allure.step(f"Note: {self.redactor.text(message)}"):
                pass

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A nested Allure step when reporting, a plain block otherwise; the exchanges sent
        inside it are attached inside it."""
        self.settle()
        with allure.step(title) if self.active else contextlib.nullcontext():
            try:
                yield
            except BaseException as raised:
                try:
                    self.settle()
                except Exception as exc:  # noqa: BLE001 - the step's own failure comes first
                    raised.add_note(f"and an exchange's evidence could not be written: {exc!r}")
                raise
            self.settle()

"""Evidence in the Allure report: each exchange, redacted, under the step that sent it.

allure-pytest-bdd fails a scenario when something is attached outside a running test (during
fixture setup, for example), so attachments are made only while `Reporter.active` is set by
the pytest plugin around the test call and teardown.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import allure

from techval.core.exchange import Exchange
from techval.core.redaction import Redactor


class Reporter:
    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.active = False

    def exchange(self, exchange: Exchange) -> None:
        """Attach one exchange (request, response, Redox log IDs, violations), redacted."""
        if not self.active:
            return
        document = self.redactor.data(exchange.as_document())
        allure.attach(
            json.dumps(document, indent=2, ensure_ascii=False),
            name=self.redactor.text(exchange.summary()),
            attachment_type=allure.attachment_type.JSON,
        )

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A nested Allure step when reporting, a plain block otherwise."""
        if not self.active:
            yield
            return
        with allure.step(title):
            yield

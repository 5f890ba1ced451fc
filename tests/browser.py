"""Headless Chromium driven over its DevTools pipe, for the test that reads the HTML report as
a browser shows it: one browser loads the report once and is taken to each view (the report
is one 6 MB page: a launch per view cost a second of CPU each).

`--remote-debugging-pipe`: Chromium reads commands on fd 3 and writes answers and events on
fd 4, each message JSON ended by a NUL byte (https://chromedevtools.github.io/devtools-protocol/).
Every wait is bounded by a deadline; the browser is closed, or killed, whatever happens.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The child puts the pipe's ends at fds 3 and 4, then becomes Chromium (duplicated above 9
# first, so that neither end is overwritten by the other).
_AT_3_AND_4 = (
    "import fcntl, os, sys\n"
    "ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]\n"
    "os.dup2(ends[0], 3); os.dup2(ends[1], 4)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)
# The text of the page as its DOM holds it, each text node apart (as a tag between them would
# part them), without scripts (the report's data) and styles.
_TEXT = (
    "(() => { const body = document.body && document.body.cloneNode(true);"
    " if (!body) return '';"
    " body.querySelectorAll('script, style').forEach(e => e.remove());"
    " const walk = document.createTreeWalker(body, NodeFilter.SHOW_TEXT), parts = [];"
    " while (walk.nextNode()) parts.push(walk.currentNode.nodeValue);"
    " return parts.join(' '); })()"
)


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, binary: str, profile: Path, timeout: float = 60) -> None:
        self.timeout = timeout
        commands, self._to_browser = os.pipe()
        self._from_browser, answers = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
        ]
        self._process = subprocess.Popen(
            [sys.executable, "-c", _AT_3_AND_4, str(commands), str(answers), binary, *flags],
            pass_fds=(commands, answers),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its zygote and renderers too are killed as one group
        )
        os.close(commands)
        os.close(answers)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, url: str, width: int = 1400, height: int = 1200) -> None:
        """A new page at `url`, the window `width` x `height`."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=url)

    def go(self, url: str) -> None:
        """To another view of the page (a fragment of the same document: nothing reloads)."""
        self.evaluate(f"location.href = {json.dumps(url)}")

    def text_with(self, *wanted: str, unlike: str | None = None) -> str:
        """The page's text once it holds every one of `wanted` (whitespace as single
        spaces) and differs from `unlike` (the view before: a view that has not changed yet
        is not taken for the next), or as it is when the deadline passes (the caller's
        assertion shows it)."""
        deadline = time.monotonic() + self.timeout
        while True:
            text = " ".join(str(self.evaluate(_TEXT) or "").split())
            ready = all(w in text for w in wanted) and text != unlike
            if ready or time.monotonic() > deadline:
                return text
            self._wait_for_message(0.1)  # a poll: the page renders in its own time

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session is not None and not method.startswith("Target."):
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            for found in self._messages():
                if found.get("id") == self._next_id:
                    if "error" in found:
                        raise BrowserError(f"{method}: {found['error']}")
                    result: dict[str, Any] = found.get("result", {})
                    return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"{method}: no answer within {self.timeout:g} s")
            self._wait_for_message(left)

    def _messages(self) -> list[dict[str, Any]]:
        *complete, self._buffer = self._buffer.split(b"\0")
        return [json.loads(raw) for raw in complete]

    def _wait_for_message(self, seconds: float) -> None:
        ready, _, _ = select.select([self._from_browser], [], [], seconds)
        if ready:
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed its pipe (exit {self._process.poll()})")
            self._buffer += chunk

    def close(self) -> None:
        """Ask Chromium to close (reading what it still writes, so that it never blocks on a
        full pipe), then kill its process group if it has not within 10 s."""
        try:
            if self._process.poll() is None:
                closing = {"id": 0, "method": "Browser.close"}
                os.write(self._to_browser, json.dumps(closing).encode() + b"\0")
                deadline = time.monotonic() + 10
                while self._process.poll() is None and time.monotonic() < deadline:
                    with contextlib.suppress(BrowserError):  # its pipe closing as it ends
                        self._wait_for_message(0.05)
                    self._buffer = b""
        except OSError:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)  # what is left of the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)

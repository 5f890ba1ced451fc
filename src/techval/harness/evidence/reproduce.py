"""reports/reproduce/: curl scripts that repeat the exchanges of the failed scenarios, outside
the harness, as Redox's docs and support work with them.

For each failed or broken scenario, each exchange it sent, in order, gets a script
`NN-<scenario>-<k>-<label>.sh` (any method: POST, PUT, GET) with its request body beside it
(`.json`, redacted as in the report: masked values are sent masked; a form's parameters are
in the script, as `--data-urlencode`) and the answer written to `.response`; the token is
`$REDOX_TOKEN`, the base URL `$REDOX_BASE_URL` (the recorded one by default). Token requests
are not repeated one by one: `get-token.sh` fetches a token with curl and openssl from the
environment's credentials variables, and README.txt says how to use them. Every value in a
script comes from the network or the user's data and is quoted for sh (shlex.quote); the
scripts hold variable names, never a credential.
"""

from __future__ import annotations

import re
import shlex
import shutil
import time
import zipfile
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from techval.core.auth import ASSERTION_LIFETIME, ASSERTION_TYPE
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.outcomes import BROKEN, FAILED, counted
from techval.harness.evidence.section import Attachment
from techval.harness.evidence.verdict import Verdict

FOLDER = "reproduce"
KEY = "reproduction"  # the verdict key
FETCHER = "get-token.sh"
README = "README.txt"
RESPONSE_SUFFIX = ".response"  # what a script writes when it runs: not part of the evidence
# Not repeated from the record: curl sets them (or they describe the recorded connection);
# Authorization is sent from $REDOX_TOKEN. Accept-Encoding is left out so the answer is plain.
LEFT_OUT = frozenset(
    {
        "authorization",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "accept-encoding",
    }
)
FORM = "application/x-www-form-urlencoded"
TOKEN_PATHS = ("/auth/token", "/auth/authenticate", "/auth/refreshtoken")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
DEFAULTS_START = "# --- run defaults ---\n"
DEFAULTS_END = "# --- end of run defaults ---\n"


def is_token_request(entry: Mapping[str, Any]) -> bool:
    url = str(_request(entry).get("url", "")).lower().rstrip("/")
    return url.endswith(TOKEN_PATHS) or str(entry.get("comment", "")).startswith("token")


def slug(text: str, limit: int = 40) -> str:
    """Lower-case words joined by `-`, cut after a whole word within `limit` characters."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(words) > limit:
        cut = words[: limit + 1]
        words = cut[: cut.rfind("-")] if "-" in cut else words[:limit]
    return words.strip("-") or "x"


def one_line(text: str) -> str:
    """Safe after `#` in a script: no line break or control character can end the comment."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", " ", text).split())


def split_url(url: str, base_url: str = "") -> tuple[str, str]:
    """(base URL, the rest): the environment's base URL when the URL starts with it, else the
    URL's scheme and host."""
    if base_url and url.startswith(base_url.rstrip("/")):
        base = base_url.rstrip("/")
        return base, url[len(base) :]
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
    return base, url[len(base) :]


def exchange_script(
    entry: Mapping[str, Any],
    *,
    stem: str,
    scenario: str,
    status: str,
    base_url: str = "",
) -> tuple[str, str | None]:
    """The script repeating one recorded exchange, and its request body (None: no body); the
    body is written as `<stem>.json` (or `.txt` when it is not JSON) beside the script."""
    request = _request(entry)
    base, rest = split_url(str(request.get("url", "")), base_url)
    post = _post_data(entry)
    mime_type = str(post.get("mimeType") or "")
    params = _form_params(post)
    text = post.get("text")
    body = str(text) if text not in (None, "") and params is None else None
    answered = (entry.get("response") or {}).get("status") or 0
    lines = [
        "#!/bin/sh",
        "# Repeats one exchange of a failed scenario of a techval run, with curl.",
        f"# Scenario: {one_line(scenario)} ({status})",
        f"# Exchange: {one_line(str(entry.get('comment', '')))}",
        f"# Recorded answer: HTTP {answered}" + (" (no answer)" if not answered else ""),
        "# The request body is beside this script, redacted as in the report (masked values",
        "# are sent masked). Prints the HTTP status; the answer, not redacted, goes to",
        f"# ./{stem}{RESPONSE_SUFFIX} in the current directory.",
        f'# Usage: export REDOX_TOKEN="$(sh {FETCHER})"; sh {stem}.sh',
        "#        (REDOX_BASE_URL=... to send it to another address)",
        "set -eu",
        'here=$(dirname "$0")',
        f"REDOX_BASE_URL=${{REDOX_BASE_URL:-{shlex.quote(base)}}}",
        ': "${REDOX_TOKEN:?set it first: export REDOX_TOKEN=\\$(sh get-token.sh)}"',
    ]
    target = '"$REDOX_BASE_URL"' + (shlex.quote(rest) if rest else "")
    method = shlex.quote(str(request.get("method") or "POST"))
    command = [
        f"curl -sS -o {shlex.quote(stem + RESPONSE_SUFFIX)} -w '%{{http_code}}\\n' "
        f"-X {method} {target}"
    ]
    headers = list(_headers(request.get("headers")))
    if body is not None and mime_type and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", mime_type))
    for name, value in headers:
        # curl sends `Name;` as an empty header (`Name:` would remove it)
        command.append(f"-H {shlex.quote(f'{name}: {value}' if value else f'{name};')}")
    command.append('-H "Authorization: Bearer $REDOX_TOKEN"')
    if body is not None:
        command.append(f'--data-binary "@$here"/{shlex.quote(body_name(stem, mime_type))}')
    for name, value in params or ():
        # as Redox's docs send a search; the name is encoded here: curl reads `name@file`
        command.append(f"--data-urlencode {shlex.quote(quote(name, safe='') + '=' + value)}")
    lines.append(" \\\n  ".join(command))
    return "\n".join(lines) + "\n", body


def body_name(stem: str, mime_type: str) -> str:
    return f"{stem}.json" if "json" in mime_type or not mime_type else f"{stem}.txt"


def _request(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    request = entry.get("request")
    return request if isinstance(request, Mapping) else {}


def _post_data(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    post = _request(entry).get("postData")
    return post if isinstance(post, Mapping) else {}


def _form_params(post: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """A form's parameters (HAR postData.params), None when the body is not a form."""
    params = post.get("params")
    if not str(post.get("mimeType", "")).startswith(FORM) or not isinstance(params, list):
        return None
    return [
        (str(p.get("name", "")), str(p.get("value", ""))) for p in params if isinstance(p, Mapping)
    ]


def _headers(recorded: Any) -> Iterable[tuple[str, str]]:
    for header in recorded if isinstance(recorded, list) else []:
        if not isinstance(header, Mapping):
            continue
        name, value = str(header.get("name", "")), str(header.get("value", ""))
        if name.lower() in LEFT_OUT or not HEADER_NAME.match(name):
            continue  # a name that is not a token could not have been sent (nor start "@")
        yield name, " ".join(value.replace("\r", " ").replace("\n", " ").split())


def token_script(auth: str, token_url: str, base_url: str = "") -> str:
    """get-token.sh (the shipped script, get-token.sh beside this module) with this run's
    defaults: fetches an access token with curl from the credentials variables and prints it.
    `auth` is the run's "jwt RS384" / "jwt HS384" / "jwt ES384" / "legacy"."""
    base, rest = split_url(token_url, base_url)
    if base and base_url and base == base_url.rstrip("/"):
        default_url = '"$REDOX_BASE_URL"' + shlex.quote(rest)
    else:
        default_url = shlex.quote(token_url)
    defaults = [
        f"REDOX_BASE_URL=${{REDOX_BASE_URL:-{shlex.quote(base_url.rstrip('/') or base)}}}",
        f"REDOX_TOKEN_URL=${{REDOX_TOKEN_URL:-{default_url}}}",
        f"REDOX_AUTH=${{REDOX_AUTH:-{shlex.quote(one_line(auth) or 'jwt RS384')}}}",
        f"assertion_lifetime={ASSERTION_LIFETIME}",
        f"assertion_type={ASSERTION_TYPE}",
    ]
    shipped = resources.files("techval.harness.evidence").joinpath(FETCHER).read_text("utf-8")
    head, found, rest_of_script = shipped.partition(DEFAULTS_START)
    _, ended, tail = rest_of_script.partition(DEFAULTS_END)
    if not (found and ended):
        raise RuntimeError(f"{FETCHER}: the run defaults markers are missing")
    return "".join([head, DEFAULTS_START, "\n".join(defaults), "\n", DEFAULTS_END, tail])


def readme(auth: str, scripts: list[dict[str, Any]]) -> str:
    if auth.startswith("legacy"):
        credentials = "export REDOX_API_KEY=... REDOX_API_SECRET=..."
    elif auth.endswith("HS384"):
        credentials = "export REDOX_CLIENT_ID=... REDOX_CLIENT_SECRET=..."
    else:
        credentials = "export REDOX_CLIENT_ID=... REDOX_KEY_ID=... REDOX_PRIVATE_KEY_FILE=..."
    first = scripts[0]["script"] if scripts else "NN-....sh"
    lines = [
        "Each script repeats one exchange of a failed scenario with curl and prints the HTTP",
        "status; bodies are redacted as in the report. The answer goes to <script>.response in",
        "the current directory, not redacted: keep it out of reports/ (`techval bundle` scans it).",
        "From the project (from an unzipped bundle: reproduce/ instead of reports/reproduce/):",
        "",
        f"{credentials}   # yours (see {FETCHER})",
        f'export REDOX_TOKEN="$(sh reports/{FOLDER}/{FETCHER})"',
        f"sh reports/{FOLDER}/{first}   # REDOX_BASE_URL=https://... to send it elsewhere",
        "",
    ]
    lines += [
        f"{item['script']}: {one_line(item['scenario'])}: {one_line(item['exchange'])}"
        for item in scripts
    ]
    return "\n".join(lines) + "\n"


def render(found: Assembled) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Every file of reproduce/ by name, and the scripts as the verdict lists them; nothing
    when no failed scenario sent anything."""
    base_url = found.environment.get("base_url", "")
    auth = found.environment.get("auth", "")
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    token_url = ""
    for scenario, entry in sorted(found.entries, key=lambda p: str(p[1].get("startedDateTime"))):
        if is_token_request(entry):
            url = str(_request(entry).get("url", ""))
            if not token_url and "refresh" not in url.lower():
                token_url = url
            continue
        if scenario is not None:
            by_scenario.setdefault(scenario, []).append(entry)
    files: dict[str, str] = {}
    listed: list[dict[str, Any]] = []
    failed = [o for o in found.outcomes if o.status in (FAILED, BROKEN)]
    for number, outcome in enumerate((o for o in failed if by_scenario.get(o.nodeid)), 1):
        for k, entry in enumerate(by_scenario[outcome.nodeid], start=1):
            label = str(entry.get("comment", "")).split(":", 1)[0]
            stem = f"{number:02d}-{slug(outcome.title)}-{k}-{slug(label, 32)}"
            text, body = exchange_script(
                entry,
                stem=stem,
                scenario=outcome.title,
                status=str(outcome.status),
                base_url=base_url,
            )
            files[f"{stem}.sh"] = text
            if body is not None:
                mime_type = str(_post_data(entry).get("mimeType") or "")
                files[body_name(stem, mime_type)] = body
            listed.append(
                {
                    "script": f"{stem}.sh",
                    "scenario": outcome.title,
                    "exchange": one_line(str(entry.get("comment", ""))),
                    "status": (entry.get("response") or {}).get("status") or 0,
                }
            )
    if not listed:
        return {}, []
    if not token_url:
        token_url = base_url.rstrip("/") + (
            "/auth/authenticate" if auth.startswith("legacy") else "/v2/auth/token"
        )
    files[FETCHER] = token_script(auth, token_url, base_url)
    files[README] = readme(auth, listed)
    return files, listed


class Reproduction:
    """The evidence section: reports/reproduce/ and the verdict's `reproduction` key."""

    reads: tuple[str, ...] = ()
    adds = (KEY,)

    def apply(
        self, verdict: Verdict, earlier: Mapping[str, Any], decided: Decided, reports: Path
    ) -> dict[str, Any]:
        folder = reports / FOLDER
        if folder.is_symlink() or folder.is_file():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder)
        files, listed = render(decided.found)
        part = {KEY: {"folder": f"{FOLDER}/" if listed else None, "scripts": listed}}
        if not files:
            return part
        folder.mkdir(parents=True)
        for name, text in files.items():
            path = folder / name
            path.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                path.chmod(0o755)
        return part

    def summary(self, result: Mapping[str, Any]) -> list[str]:
        count = len(_scripts(result))
        if not count:
            return []
        return [
            "",
            f"Reproduction: {counted(count, 'script')} in `{FOLDER}/` repeat the failed scenarios' "
            f"exchanges with curl (`{README}` says how; `{FETCHER}` fetches a token).",
        ]

    def console(self, result: Mapping[str, Any], reports: Path) -> list[str]:
        count = len(_scripts(result))
        return [f"reproduce: {reports / FOLDER}/ ({counted(count, 'script')})"] if count else []

    def attachments(self, result: Mapping[str, Any]) -> list[Attachment]:
        scripts = _scripts(result)
        if not scripts:
            return []
        lines = [
            "# Reproduction scripts",
            "",
            f"`{FOLDER}/` in the reports folder (and the bundle) repeats each exchange of the "
            f'failed scenarios with curl: `export REDOX_TOKEN="$(sh {FETCHER})"`, '
            "then `sh <script>` prints the HTTP status.",
            "",
            "| Script | Scenario | Exchange | Recorded status |",
            "|---|---|---|---|",
        ]
        for item in scripts:
            cells = [item.get("script"), item.get("scenario"), item.get("exchange")]
            row = " | ".join(_cell(str(cell)) for cell in cells)
            lines.append(f"| {row} | {item.get('status')} |")
        return [Attachment("Reproduction scripts", "\n".join(lines) + "\n")]


def _scripts(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    section = result.get(KEY)
    scripts = section.get("scripts") if isinstance(section, Mapping) else None
    return [s for s in scripts if isinstance(s, dict)] if isinstance(scripts, list) else []


def _cell(text: str) -> str:
    return one_line(text).replace("|", "\\|")


def bundle_files(reports: Path) -> dict[str, bytes]:
    """The reproduce/ files for the bundle, by their name in the zip (answers a script wrote
    when someone ran it are left out)."""
    folder = reports / FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return {}
    return {
        f"{FOLDER}/{path.name}": path.read_bytes()
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.endswith(RESPONSE_SUFFIX)
    }


def zip_member(name: str) -> zipfile.ZipInfo:
    """A zip member named `name`, compressed, executable when it is a script."""
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
    return info


REPRODUCTION = Reproduction()

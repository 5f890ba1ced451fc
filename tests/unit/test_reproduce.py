"""reports/reproduce/: the curl scripts that repeat the failed scenarios' exchanges. The text
of a script quotes whatever the network and the user's data put in it; the token script
fetches a real token from the simulator with each algorithm and holds no value; a run that
fails against a broken server leaves scripts that get the same status from it again."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from techval.core.redaction import Redactor
from techval.harness.evidence import bundle, leaks, reproduce, sections, verdict
from techval.harness.evidence.assemble import Assembled
from techval.harness.evidence.decide import Decided
from techval.harness.evidence.outcomes import ScenarioOutcome
from techval.simulator import RunningSimulator, provision
from techval.simulator.faults import named
from tests.helpers import CLIENT_SECRET, applied, run_techval, settings_for, write_environment

HOSTILE = 'it\'s "$(touch pwned)" `touch pwned` $HOME \\ ; & | > pwned'
BASE = "http://127.0.0.1:5555"
STAMP = "2026-12-01T10:00:00.000Z"


def entry(
    url: str = f"{BASE}/endpoint",
    *,
    headers: list[tuple[str, str]] | None = None,
    body: str | None = '{"Meta": {"DataModel": "Organization"}}',
    mime_type: str = "application/json",
    status: int = 500,
    comment: str = "Organization.New: HTTP 500 in 2 ms",
    at: str = STAMP,
) -> dict[str, Any]:
    sent = headers or [
        ("Host", "127.0.0.1:5555"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
        ("User-Agent", "techval/0.1.0"),
        ("Authorization", "Bearer ***"),
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
        ("Content-Length", "42"),
    ]
    post: dict[str, Any] = {"mimeType": mime_type, "text": body}
    return {
        "startedDateTime": at,
        "request": {
            "method": "POST",
            "url": url,
            "headers": [{"name": n, "value": v} for n, v in sent],
            "postData": post,
        },
        "response": {"status": status},
        "comment": comment,
    }


TOKEN_ENTRY = entry(
    f"{BASE}/v2/auth/token",
    headers=[("Content-Type", "application/x-www-form-urlencoded")],
    body="grant_type=client_credentials&client_assertion=***",
    mime_type="application/x-www-form-urlencoded",
    status=200,
    comment="token: HTTP 200 in 7 ms",
    at="2026-12-01T09:59:59.000Z",
)


def found_with(
    *scenarios: tuple[str, str, list[dict[str, Any]]], auth: str = "jwt RS384"
) -> Assembled:
    """An assembled run: (name, status, exchanges) per scenario, and the first token."""
    found = Assembled(environment={"base_url": BASE, "auth": auth, "client_id": "harn***ient"})
    found.entries.append((None, TOKEN_ENTRY))
    for position, (name, status, exchanges) in enumerate(scenarios):
        nodeid = f"steps/test_validation.py::test_{position}"
        found.outcomes.append(
            ScenarioOutcome(
                nodeid, name, "feature", "organization", status=status, position=position
            )
        )
        found.entries += [(nodeid, item) for item in exchanges]
    return found


@pytest.fixture
def fake_curl(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A `curl` on PATH that writes its arguments (NUL-separated) and prints a status."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "curl"
    script.write_text(
        '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done >"$ARGS"\necho 299\n'
    )
    script.chmod(0o755)
    args = tmp_path / "args"
    env = {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "ARGS": str(args)}
    yield env, args


def run_script(
    path: Path, env: dict[str, str], cwd: Path | None = None, **more: str
) -> subprocess.CompletedProcess[str]:
    """`sh path`, from `cwd` (default: the folder above the script's)."""
    return subprocess.run(
        ["sh", str(path)],
        env={**env, **more},
        cwd=cwd or path.parent.parent,
        capture_output=True,
        text=True,
        timeout=30,
    )


# --- the script of one exchange ------------------------------------------------------------


def test_a_script_sends_the_recorded_request_with_every_value_quoted(
    tmp_path: Path, fake_curl: tuple[dict[str, str], Path]
) -> None:
    env, args = fake_curl
    headers = [
        ("Host", "127.0.0.1:5555"),
        ("Authorization", "Bearer ***"),
        ("Content-Length", "9"),
        ("Connection", "keep-alive"),
        ("Accept-Encoding", "gzip"),
        ("X-Note", HOSTILE),
        ("X-Empty", ""),
        ("@evil", "not a header name"),
        ("Content-Type", "application/json"),
    ]
    body = json.dumps({"Note": HOSTILE, "Other": "'; rm -rf / #"})
    hostile = entry(
        f"{BASE}/endpoint?x='$(touch pwned)'",
        headers=headers,
        body=body,
        comment="Organization.New: HTTP 500\n$(touch pwned)",
    )
    found = found_with(("Create\n`touch pwned` $(touch pwned)", "failed", [hostile]))
    result: dict[str, Any] = {}
    applied(reproduce.REPRODUCTION, result, found, tmp_path)
    folder = tmp_path / "reproduce"
    (item,) = result["reproduction"]["scripts"]
    script = folder / item["script"]
    assert item["script"] == "01-create-touch-pwned-touch-pwned-1-organization-new.sh"
    assert script.read_text().startswith("#!/bin/sh\n")
    assert os.access(script, os.X_OK)
    stem = script.name.removesuffix(".sh")
    assert (folder / f"{stem}.json").read_text() == body  # as recorded (already redacted)

    moved = folder.rename(tmp_path / "it's $(touch pwned) a `dir`")  # where the reader put it
    script = moved / script.name
    done = run_script(script, env, REDOX_TOKEN="the-token", REDOX_BASE_URL="http://elsewhere:1")
    assert (done.returncode, done.stdout) == (0, "299\n"), done.stderr
    assert args.read_text().split("\0")[:-1] == [
        "-sS",
        "-o",
        f"{stem}.response",
        "-w",
        "%{http_code}\\n",  # curl writes the line break
        "-X",
        "POST",
        "http://elsewhere:1/endpoint?x='$(touch pwned)'",
        "-H",
        f"X-Note: {HOSTILE}",
        "-H",
        "X-Empty;",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Authorization: Bearer the-token",
        "--data-binary",
        f"@{moved}/{stem}.json",
    ]
    assert not list(tmp_path.rglob("pwned"))  # nothing in a value or a comment ran
    lines = script.read_text().splitlines()  # a line break in a name does not end a comment
    assert "# Scenario: Create `touch pwned` $(touch pwned) (failed)" in lines
    assert "# Exchange: Organization.New: HTTP 500 $(touch pwned)" in lines


def test_the_recorded_base_url_is_the_default_and_the_token_is_required(
    tmp_path: Path, fake_curl: tuple[dict[str, str], Path]
) -> None:
    env, args = fake_curl
    found = found_with(("Create", "broken", [entry()]))
    applied(reproduce.REPRODUCTION, {}, found, tmp_path)
    (script,) = (tmp_path / "reproduce").glob("01-*.sh")
    assert f"REDOX_BASE_URL=${{REDOX_BASE_URL:-{BASE}}}" in script.read_text()
    env.pop("REDOX_BASE_URL", None)
    assert run_script(script, env, REDOX_TOKEN="t").returncode == 0
    assert f"{BASE}/endpoint" in args.read_text().split("\0")
    env.pop("REDOX_TOKEN", None)
    refused = run_script(script, env)
    assert refused.returncode != 0 and "REDOX_TOKEN" in refused.stderr


def test_scripts_for_each_exchange_of_failed_scenarios_only_and_no_token_request(
    tmp_path: Path,
) -> None:
    found = found_with(
        ("Create", "failed", [entry(), entry(comment="Organization.Query: HTTP 200", status=200)]),
        ("Search", "passed", [entry(comment="PatientSearch.Query: HTTP 200", status=200)]),
        (
            "Update",
            "broken",
            [TOKEN_ENTRY, entry(comment="Organization.Update: HTTP 502", status=502)],
        ),
        ("Deactivate", "failed", []),  # not sent: nothing to repeat
        ("Skipped one", "skipped", [entry()]),
    )
    result: dict[str, Any] = {}
    applied(reproduce.REPRODUCTION, result, found, tmp_path)
    names = sorted(p.name for p in (tmp_path / "reproduce").iterdir())
    assert names == [
        "01-create-1-organization-new.json",
        "01-create-1-organization-new.sh",
        "01-create-2-organization-query.json",
        "01-create-2-organization-query.sh",
        "02-update-1-organization-update.json",
        "02-update-1-organization-update.sh",
        "README.txt",
        "get-token.sh",
    ]
    scripts = result["reproduction"]["scripts"]
    assert [s["status"] for s in scripts] == [500, 200, 502]
    assert (
        "# Recorded answer: HTTP 502"
        in (tmp_path / "reproduce/02-update-1-organization-update.sh").read_text()
    )
    readme = (tmp_path / "reproduce/README.txt").read_text().splitlines()
    assert readme[5:8] == [
        "export REDOX_CLIENT_ID=... REDOX_KEY_ID=... REDOX_PRIVATE_KEY_FILE=...   "
        "# yours (see get-token.sh)",
        'export REDOX_TOKEN="$(sh reports/reproduce/get-token.sh)"',
        "sh reports/reproduce/01-create-1-organization-new.sh   "
        "# REDOX_BASE_URL=https://... to send it elsewhere",
    ]
    assert sections.console_lines(result, Path("my reports")) == [
        "reproduce: my reports/reproduce/ (3 scripts)"
    ]
    (line,) = [x for x in sections.summary_lines(result) if x]
    assert line.startswith("Reproduction: 3 scripts in `reproduce/`")
    (shown,) = [a for a in sections.attachments(result) if a.name == "Reproduction scripts"]
    assert (
        "| 02-update-1-organization-update.sh | Update | Organization.Update: HTTP 502 | 502 |"
        in (shown.text)
    )


def test_a_green_run_writes_nothing_and_clears_an_old_folder(tmp_path: Path) -> None:
    (tmp_path / "reproduce").mkdir()
    (tmp_path / "reproduce/01-old-1-x.sh").write_text("old")
    result: dict[str, Any] = {}
    applied(reproduce.REPRODUCTION, result, found_with(("Create", "passed", [entry()])), tmp_path)
    assert not (tmp_path / "reproduce").exists()
    assert result["reproduction"] == {"folder": None, "scripts": []}
    assert sections.console_lines(result) == []
    assert [x for x in sections.summary_lines(result) if "Reproduction" in x] == []
    assert [a for a in sections.attachments(result) if a.name == "Reproduction scripts"] == []


# --- the token script ----------------------------------------------------------------------


def test_the_token_script_holds_variable_names_never_values(tmp_path: Path) -> None:
    found = found_with(("Create", "failed", [entry()]), auth="jwt HS384")
    applied(reproduce.REPRODUCTION, {}, found, tmp_path)
    text = (tmp_path / "reproduce/get-token.sh").read_text()
    for variable in ("REDOX_CLIENT_ID", "REDOX_KEY_ID", "REDOX_PRIVATE_KEY_FILE"):
        assert f'"${{{variable}:?' in text  # required, read from the environment
    assert "REDOX_CLIENT_SECRET" in text and CLIENT_SECRET not in text
    assert "harn***ient" not in text and "***" not in text
    assert 'REDOX_TOKEN_URL=${REDOX_TOKEN_URL:-"$REDOX_BASE_URL"/v2/auth/token}' in text
    assert "REDOX_AUTH=${REDOX_AUTH:-'jwt HS384'}" in text
    redactor = Redactor([CLIENT_SECRET], ["Timothy", "Bixby"])
    assert leaks.scan(tmp_path, redactor) == []


def test_the_token_script_names_a_missing_variable(tmp_path: Path) -> None:
    applied(reproduce.REPRODUCTION, {}, found_with(("Create", "failed", [entry()])), tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDOX_")}
    done = run_script(tmp_path / "reproduce/get-token.sh", env, REDOX_CLIENT_ID="c")
    assert done.returncode != 0 and done.stdout == ""
    assert "REDOX_KEY_ID" in done.stderr


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[RunningSimulator]:
    running = RunningSimulator(provision(settings_for(tmp_path))).start()
    yield running
    running.stop()


def pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize("algorithm", ["RS384", "ES384", "HS384", "legacy"])
def test_the_token_script_gets_a_token_the_simulator_accepts(
    simulator: RunningSimulator, tmp_path: Path, algorithm: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDOX_")}
    env["REDOX_BASE_URL"] = simulator.url
    tokens = simulator.simulator.tokens
    if algorithm == "legacy":
        tokens.register_legacy("api-key-1", "api-secret-'$(x)\"-2")
        env |= {"REDOX_API_KEY": "api-key-1", "REDOX_API_SECRET": "api-secret-'$(x)\"-2"}
        auth, token_url = "legacy", f"{BASE}/auth/authenticate"
    else:
        auth, token_url = f"jwt {algorithm}", f"{BASE}/v2/auth/token"
        env["REDOX_CLIENT_ID"] = "harness-test-client"
    if algorithm in ("RS384", "ES384"):
        key: Any = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if algorithm == "RS384"
            else ec.generate_private_key(ec.SECP384R1())
        )
        (tmp_path / "key.pem").write_bytes(pem(key))
        tokens.register_key("harness-test-client", "kid-1", key.public_key())
        env |= {"REDOX_KEY_ID": "kid-1", "REDOX_PRIVATE_KEY_FILE": str(tmp_path / "key.pem")}
    if algorithm == "HS384":
        env["REDOX_CLIENT_SECRET"] = CLIENT_SECRET  # the simulator was provisioned with it
    script = tmp_path / "get-token.sh"
    script.write_text(reproduce.token_script(auth, token_url, BASE))
    for _ in range(3 if algorithm == "ES384" else 1):  # r and s of several lengths
        done = run_script(script, env)
        assert done.returncode == 0, done.stderr
        assert tokens.valid(f"Bearer {done.stdout.strip()}")
    env["REDOX_CLIENT_ID"] = "someone-else"
    env["REDOX_API_SECRET"] = "wrong"
    refused = run_script(script, env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "answered HTTP 401" in refused.stderr


# --- the bundle ----------------------------------------------------------------------------


def test_the_bundle_carries_the_scripts_in_its_manifest(tmp_path: Path) -> None:
    found = found_with(("Create", "failed", [entry()]))
    result = verdict.from_decided(Decided(found)).as_document()
    applied(reproduce.REPRODUCTION, result, found, tmp_path)
    verdict.write(tmp_path, result)
    for name in ("allure-report/index.html", "junit.xml", "exchanges.har"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<x/>")
    (tmp_path / "reproduce/01-create-1-organization-new.response").write_text("an answer")
    target = bundle.make(tmp_path, Redactor([CLIENT_SECRET]))
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        sums = archive.read("SHA256SUMS").decode()
        mode = archive.getinfo("reproduce/get-token.sh").external_attr >> 16
        summary = archive.read("summary.md").decode()
    listed = sorted(n for n in names if n.startswith("reproduce/"))
    assert listed == [
        "reproduce/01-create-1-organization-new.json",
        "reproduce/01-create-1-organization-new.sh",
        "reproduce/README.txt",
        "reproduce/get-token.sh",
    ]
    assert all(f"  {name}\n" in sums for name in listed)
    assert mode & 0o111
    assert "Reproduction: 1 script in `reproduce/`" in summary


# --- a whole run ---------------------------------------------------------------------------


@pytest.mark.whole_run
def test_a_script_of_a_failed_run_gets_the_same_status_from_the_server(
    server: RunningSimulator, tmp_path: Path
) -> None:
    server.simulator.faults.append(named("server_error"))
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    run = run_techval(["--config", str(config), "--tags", "organization"], tmp_path / "r")
    assert run.code == 1, run.stdout[-2000:]
    assert f"reproduce: {run.reports}/reproduce/ (3 scripts)" in run.stdout
    result = json.loads((run.reports / "verdict.json").read_text())
    scripts = result["reproduction"]["scripts"]
    assert [s["status"] for s in scripts] == [500, 500, 500]
    folder = run.reports / "reproduce"
    assert leaks.scan(run.reports, Redactor([CLIENT_SECRET])) == []

    env = {k: v for k, v in os.environ.items() if not k.startswith("REDOX_")}
    env |= {"REDOX_CLIENT_ID": "harness-test-client", "REDOX_CLIENT_SECRET": CLIENT_SECRET}
    env["REDOX_BASE_URL"] = server.url  # the recorded default: the same server
    token = run_script(folder / "get-token.sh", env)
    assert token.returncode == 0, token.stderr
    env["REDOX_TOKEN"] = token.stdout.strip()
    for item in scripts:
        done = run_script(folder / item["script"], env)
        assert (done.returncode, done.stdout) == (0, f"{item['status']}\n"), done.stderr
    stem = scripts[0]["script"].removesuffix(".sh")  # the answer: where it was run
    assert "500 Internal Server Error" in (run.reports / f"{stem}.response").read_text()
    # the token is really sent: the server without its fault accepts it, not another one
    server.simulator.faults.clear()
    assert run_script(folder / scripts[0]["script"], env).stdout == "200\n"
    wrong = run_script(folder / scripts[0]["script"], env, REDOX_TOKEN="not-a-token")
    assert wrong.stdout == "401\n"


def test_the_shipped_token_script_runs_alone_and_names_what_it_lacks(tmp_path: Path) -> None:
    shipped = Path(reproduce.__file__).with_name(reproduce.FETCHER)
    env = {"PATH": os.environ["PATH"]}
    done = subprocess.run(
        ["sh", str(shipped)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode != 0
    assert done.stderr.strip().endswith("REDOX_TOKEN_URL: set REDOX_TOKEN_URL (the token endpoint)")
    written = reproduce.token_script("jwt ES384", f"{BASE}/v2/auth/token", BASE)
    assert "REDOX_AUTH=${REDOX_AUTH:-'jwt ES384'}" in written
    assert ': "${REDOX_TOKEN_URL:?' not in written  # the run's default replaced the check
    outside = shipped.read_text().split(reproduce.DEFAULTS_START)[0]
    assert written.startswith(outside)


# --- FHIR's verbs and forms ----------------------------------------------------------------

FHIR = "/fhir/R4/ceq-xca:1.2.3/Development"
MASKED_FORM = [
    ("patient", "***"),
    ("category", "urn:redox:document_kind|CDA"),
    ("given", "***"),
    ("address-postalcode", "***"),
]


def har(
    method: str, path: str, post: dict[str, Any] | None, at: str, comment: str
) -> dict[str, Any]:
    """A HAR entry as har.py records it: a GET without postData, a form with its params."""
    request: dict[str, Any] = {
        "method": method,
        "url": f"{BASE}{FHIR}/{path}",
        "headers": [
            {"name": "Authorization", "value": "Bearer ***"},
            {"name": "X-Purpose-Of-Use", "value": "TREATMENT"},
        ],
    }
    if post is not None:
        request["postData"] = post
    return {
        "startedDateTime": at,
        "request": request,
        "response": {"status": 404},
        "comment": comment,
    }


def fhir_entries() -> list[dict[str, Any]]:
    body = json.dumps({"resourceType": "Organization", "id": "1.2.3", "name": "***"})
    form = "application/x-www-form-urlencoded"
    return [
        har(
            "GET", "DocumentReference/doc-1", None, "2026-12-01T10:00:01Z", "DocumentReference read"
        ),
        har(
            "PUT",
            "Organization/1.2.3",
            {"mimeType": "application/fhir+json", "text": body},
            "2026-12-01T10:00:02Z",
            "Organization update",
        ),
        har(
            "POST",
            "DocumentReference/_search",
            {
                "mimeType": form,
                "params": [{"name": n, "value": v} for n, v in MASKED_FORM],
                "text": "patient=***&category=urn%3Aredox%3Adocument_kind%7CCDA&given=***",
            },
            "2026-12-01T10:00:03Z",
            "DocumentReference search",
        ),
    ]


def test_fhir_scripts_send_each_verb_and_form_as_recorded(
    tmp_path: Path, fake_curl: tuple[dict[str, str], Path]
) -> None:
    env, args = fake_curl
    found = found_with(("Documents", "failed", fhir_entries()))
    result: dict[str, Any] = {}
    applied(reproduce.REPRODUCTION, result, found, tmp_path)
    folder = tmp_path / "reproduce"
    read, update, search = (folder / s["script"] for s in result["reproduction"]["scripts"])

    text = read.read_text()  # a GET: the verb, no body of any kind
    assert f'-X GET "$REDOX_BASE_URL"{FHIR}/DocumentReference/doc-1' in text
    assert "--data" not in text and "Content-Type" not in text
    assert [p.name for p in folder.glob(f"{read.stem}*")] == [read.name]  # no body file

    text = update.read_text()  # a PUT of JSON: the verb and the body file, as recorded
    assert f'-X PUT "$REDOX_BASE_URL"{FHIR}/Organization/1.2.3' in text
    assert f'--data-binary "@$here"/{update.stem}.json' in text
    assert "-H 'Content-Type: application/fhir+json'" in text
    assert (folder / f"{update.stem}.json").read_text() == fhir_entries()[1]["request"]["postData"][
        "text"
    ]

    text = search.read_text()  # a form: one --data-urlencode per parameter, masked as recorded
    assert f'-X POST "$REDOX_BASE_URL"{FHIR}/DocumentReference/_search' in text
    assert [line.strip(" \\") for line in text.splitlines() if "--data" in line] == [
        "--data-urlencode 'patient=***'",
        "--data-urlencode 'category=urn:redox:document_kind|CDA'",
        "--data-urlencode 'given=***'",
        "--data-urlencode 'address-postalcode=***'",
    ]
    assert [p.name for p in folder.glob(f"{search.stem}*")] == [search.name]  # all in it

    done = run_script(search, env, REDOX_TOKEN="the-token")
    assert (done.returncode, done.stdout) == (0, "299\n"), done.stderr
    sent = args.read_text().split("\0")[:-1]
    assert sent[sent.index("-X") : sent.index("-X") + 3] == [
        "-X",
        "POST",
        f"{BASE}{FHIR}/DocumentReference/_search",
    ]
    pairs = [sent[i + 1] for i, arg in enumerate(sent) if arg == "--data-urlencode"]
    assert pairs == [f"{name}={value}" for name, value in MASKED_FORM]
    assert "--data-binary" not in sent
    header = sent.index("X-Purpose-Of-Use: TREATMENT")  # the recorded headers go along
    assert sent[header - 1] == "-H"

    done = run_script(read, env, REDOX_TOKEN="the-token")
    assert done.returncode == 0, done.stderr
    sent = args.read_text().split("\0")[:-1]
    assert sent[sent.index("-X") + 1] == "GET"
    assert not [arg for arg in sent if arg.startswith("--data")]


def test_a_shipped_token_script_without_its_markers_is_refused_naming_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reproduce, "DEFAULTS_START", "# --- no such marker ---\n")
    with pytest.raises(RuntimeError, match=r"get-token\.sh: the run defaults markers are missing"):
        reproduce.token_script("jwt RS384", f"{BASE}/v2/auth/token", BASE)

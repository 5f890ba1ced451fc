"""`techval doctor`: the preflight names every problem at once, with one line of advice each,
and exits as `techval run` would."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from techval.simulator import RunningSimulator
from techval.simulator.faults import named
from tests.helpers import ROOT, environment, techval_main, write_environment

pytestmark = pytest.mark.whole_run
DOD = "0b8a4a55-3c3e-4f3a-9d55-1c2b3d4e5f60"  # the test environment's repository destination


def doctor(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    return techval_main(["doctor", *args])


def test_dev_with_nothing_set_lists_every_missing_variable_at_once(tmp_path: Path) -> None:
    code, out, err = doctor(tmp_path, "--env", "dev")
    assert code == 2 and not err
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", (ROOT / "environments/dev.yaml").read_text()))
    assert len(needed) == 15
    for name in needed:
        assert re.search(rf"^variable {name}\s+FAIL\s+not set; used by ", out, re.M), name
    assert out.count("What to do:") == 1 and "set it in the environment or in .env" in out
    assert out.rstrip().endswith("techval doctor: a run could not go on")


def test_the_simulator_is_ready(tmp_path: Path) -> None:
    code, out, _ = doctor(tmp_path)
    assert code == 0, out
    for check in ("environment file", "signing key", "token", "organization", "clinical_summary"):
        assert re.search(rf"^{check}\s+ok\s", out, re.M), check
    assert re.search(r"^test patient 'unknown patient'\s+ok\s+not found, as expected", out, re.M)
    assert "techval doctor: ready to run" in out


def test_refused_credentials_exit_2_naming_them(server: RunningSimulator, tmp_path: Path) -> None:
    server.simulator.faults.append(named("token_refused"))
    config = write_environment(tmp_path, simulator=None, base_url=server.url)
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 2
    assert re.search(r"^token\s+FAIL\s+the token endpoint .* refused the credentials", out, re.M)
    assert "check auth.client_id, auth.client_secret, auth.token_url in" in out
    assert not re.search(r"^organization\s", out, re.M)  # nothing is tried after the token


def test_a_destination_that_is_not_a_subscription_is_explained(
    server: RunningSimulator, tmp_path: Path
) -> None:
    unknown = "2f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
    config = write_environment(
        tmp_path,
        simulator=None,
        base_url=server.url,
        destinations={
            "data_on_demand": "0b8a4a55-3c3e-4f3a-9d55-1c2b3d4e5f60",
            "organization": unknown,
        },
    )
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 1
    assert re.search(
        r"^organization\s+FAIL\s+Organization.Query: Redox answered HTTP 400", out, re.M
    )
    assert f"destinations.organization ({unknown}) is not a subscription of your source" in out
    assert re.search(r"^clinical_summary\s+ok", out, re.M)  # the others still answer


def test_test_patients_not_on_the_network_are_named_with_the_key_to_change(
    server: RunningSimulator, tmp_path: Path
) -> None:
    patients = tmp_path / "patients.yaml"
    patients.write_text(
        "test patient 1:\n  Demographics: {FirstName: Nobody, LastName: Known, DOB: '1901-01-01', "
        "Sex: Female}\n"
    )
    config = write_environment(
        tmp_path, simulator=None, base_url=server.url, test_patients=str(patients)
    )
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 1
    assert re.search(r"^test patient 'test patient 1'\s+FAIL\s+not found on the network", out, re.M)
    assert "change 'Demographics' of 'test patient 1' in the test-patients file" in out


def test_production_gets_no_patient_query_without_allow_production(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = write_environment(
        tmp_path,
        simulator=None,
        base_url=server.url,
        production=True,
        destinations={"data_on_demand": DOD},
    )
    code, out, _ = doctor(tmp_path, "--config", str(config))
    sent = [
        json.loads(r.body).get("Meta", {})
        for r in server.simulator.captured
        if r.path == "/endpoint"
    ]
    assert [(m.get("DataModel"), m.get("EventType")) for m in sent] == [("Organization", "Query")]
    for check in ("organization_patient_search", "clinical_summary", "test patients"):
        assert re.search(rf"^{check}\s+skipped\s+production", out, re.M), check
    assert code == 1  # the simulator is not subscribed to production destinations: explained
    assert "is not a subscription of your source" in out


def test_a_broken_test_patients_file_is_one_line(tmp_path: Path) -> None:
    patients = tmp_path / "patients.yaml"
    patients.write_text("test patient 1: [unclosed\n")
    config = write_environment(tmp_path, test_patients=str(patients))
    code, out, err = doctor(tmp_path, "--config", str(config))
    assert code == 2 and "Traceback" not in out + err
    assert re.search(r"^environment file\s+FAIL\s+test_patients: .*: not YAML", out, re.M)


def test_the_simulators_own_key_is_made_on_first_use_as_a_run_makes_it(tmp_path: Path) -> None:
    """A fresh clone has no .techval/ key yet: doctor makes it, as `techval run` would."""
    key = tmp_path / "fresh" / "simulator-client-key.pem"
    auth = {
        "method": "jwt",
        "token_url": "/v2/auth/token",
        "client_id": "harness-test-client",
        "algorithm": "RS384",
        "private_key_file": str(key),
        "key_id": "harness-test-key",
    }
    config = write_environment(tmp_path, auth=auth)
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 0, out
    assert key.is_file() and re.search(r"^signing key\s+ok\s+RS384", out, re.M)


def test_an_unreachable_token_endpoint_gets_network_advice_not_credentials(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_environment(tmp_path, simulator=None, base_url=f"http://127.0.0.1:{port}")
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 2
    assert re.search(
        r"^token\s+FAIL\s+cannot reach the token endpoint http://127\.0\.0\.1", out, re.M
    )
    assert f"check base_url and auth.token_url in {config}" in out
    assert "auth.client_secret" not in out  # the credentials were never put to the test


def test_a_missing_key_file_is_named_together_with_the_unset_variables(tmp_path: Path) -> None:
    absent = tmp_path / "absent.pem"
    auth = {
        "method": "jwt",
        "token_url": "/v2/auth/token",
        "client_id": "${TECHVAL_DOCTOR_TEST_CLIENT}",
        "algorithm": "RS384",
        "private_key_file": str(absent),
        "key_id": "harness-test-key",
    }
    config = write_environment(tmp_path, simulator=None, base_url="http://127.0.0.1:9", auth=auth)
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 2
    assert re.search(r"^variable TECHVAL_DOCTOR_TEST_CLIENT\s+FAIL\s+not set", out, re.M)
    assert re.search(
        rf"^signing key\s+FAIL\s+auth.private_key_file: cannot read {absent}", out, re.M
    )
    assert "point auth.private_key_file at it" in out


def test_a_key_file_named_by_an_unset_variable_is_only_the_variable(tmp_path: Path) -> None:
    auth = {
        "method": "jwt",
        "token_url": "/v2/auth/token",
        "client_id": "harness-test-client",
        "algorithm": "RS384",
        "private_key_file": "${TECHVAL_DOCTOR_TEST_KEY}",
        "key_id": "harness-test-key",
    }
    config = write_environment(tmp_path, simulator=None, base_url="http://127.0.0.1:9", auth=auth)
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 2 and re.search(r"^variable TECHVAL_DOCTOR_TEST_KEY\s+FAIL", out, re.M)
    assert "signing key" not in out


def test_a_short_hs384_secret_is_a_warning(tmp_path: Path) -> None:
    secret = "twenty-byte-secret!!"
    auth = dict(environment()["auth"], client_secret=secret)
    config = write_environment(tmp_path, auth=auth)
    code, out, err = doctor(tmp_path, "--config", str(config))
    assert code == 0 and not err, out + err
    assert re.search(
        r"^signing key\s+warn\s+the client secret is 20 bytes; HS384 wants at least 48", out, re.M
    )
    assert secret not in out


# -- api: fhir -------------------------------------------------------------------------------
SLUG_ROWS = ("ceq-orgs", "ceq-xcpd:", "ceq-xca:")
DATA_MODEL_ROWS = r"^(organization|organization_patient_search|clinical_summary)\s"


def fhir_environment(server: RunningSimulator, tmp_path: Path, **changes: object) -> Path:
    return write_environment(tmp_path, simulator=None, base_url=server.url, api="fhir", **changes)


def test_the_fhir_simulator_is_ready(tmp_path: Path) -> None:
    code, out, err = doctor(tmp_path, "--env", "simulator-fhir")
    assert code == 0 and not err, out + err
    assert re.search(r"^destinations\s+ok\s+FHIR uses slugs, not destination IDs; ", out, re.M)
    for row in SLUG_ROWS:
        assert re.search(rf"^{row}\S*\s+ok\s", out, re.M), row
    assert not re.search(DATA_MODEL_ROWS, out, re.M)
    assert re.search(r"^test patient 'test patient 1'\s+ok\s+found at ", out, re.M)
    assert "techval doctor: ready to run" in out


def test_under_fhir_each_slug_gets_one_harmless_request_and_no_message_is_sent(
    server: RunningSimulator, tmp_path: Path
) -> None:
    patients = tmp_path / "patients.yaml"  # the patient no run searches for under FHIR
    patients.write_text(
        "unknown patient:\n  Demographics: {FirstName: Nomatch, LastName: Q, DOB: '1901-01-01'}\n"
    )
    code, out, _ = doctor(
        tmp_path, "--config", str(fhir_environment(server, tmp_path, test_patients=str(patients)))
    )
    assert code == 0, out
    own = environment()["organization"][0]["oid"]
    sent = [(r.method, r.path.split("/")[3:]) for r in server.simulator.captured]
    assert sent[1:] == [  # after the token
        ("GET", ["ceq-orgs", "Development", "Organization", own]),
        ("POST", [f"ceq-xcpd:{own}", "Development", "Patient", "_search"]),
        ("POST", [f"ceq-xca:{own}", "Development", "DocumentReference", "_search"]),
    ]
    assert "techval-doctor-no-such-patient" in server.simulator.captured[2].body.decode()
    assert re.search(r"^test patient 'unknown patient'\s+skipped\s+expected nowhere", out, re.M)


def test_a_wrong_fhir_base_path_fails_every_slug_naming_the_key(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = fhir_environment(server, tmp_path, fhir={"base_path": "/fhir/R5"})
    code, out, err = doctor(tmp_path, "--config", str(config))
    assert code == 1 and not err and "Traceback" not in out
    for row in SLUG_ROWS:
        assert re.search(rf"^{row}\S*\s+FAIL\s+.*HTTP 404 with text/plain", out, re.M), row
    advice = [line for line in out.splitlines() if "check fhir.base_path (/fhir/R5)" in line]
    assert len(advice) == 1 and "ceq-orgs, ceq-xcpd:" in advice[0]
    assert "test patient 'test patient 1'" in advice[0]  # its directory search: the same cause


def test_carequality_headers_the_server_does_not_take_are_named_by_their_keys(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = fhir_environment(server, tmp_path, fhir={"headers": {"user_id": "x-requester"}})
    code, out, _ = doctor(tmp_path, "--config", str(config))
    assert code == 1
    assert re.search(r"^ceq-orgs\s+ok\s", out, re.M)  # no Carequality headers there
    for row in SLUG_ROWS[1:]:
        assert re.search(rf"^{row}\S*\s+FAIL\s+.*Redox answered HTTP 401", out, re.M), row
    advice = [line for line in out.splitlines() if "fhir.headers.user_id: x-requester" in line]
    assert len(advice) == 1 and "refused with a fresh token" in advice[0]
    assert "test patient 'test patient 1'" in advice[0]  # its patient search: the same cause


def test_production_under_fhir_reads_the_organization_record_only(
    server: RunningSimulator, tmp_path: Path
) -> None:
    config = fhir_environment(
        server, tmp_path, production=True, destinations={"data_on_demand": DOD}
    )
    code, out, _ = doctor(tmp_path, "--config", str(config))
    sent = [(r.method, r.path) for r in server.simulator.captured][1:]
    assert [method for method, _ in sent] == ["GET"] and "/Production/Organization/" in sent[0][1]
    for row in (*SLUG_ROWS[1:], "test patients"):
        assert re.search(rf"^{row}\S*\s+skipped\s+production", out, re.M), row
    assert code == 1  # the simulator answers Development only: explained
    assert "check fhir.environment (Production)" in out


def test_a_refusal_is_explained_by_its_class_and_fields_never_its_words() -> None:
    from techval.core.errors import CheckFailed, RedoxRefused
    from techval.harness.doctor import _explain

    worded = CheckFailed("Organization.Query: Redox answered HTTP 401: No subscriptions")
    assert _explain(worded, "patient_search", "d") == (
        "see the detail: the answer broke a documented rule"
    )
    refused = RedoxRefused("reworded entirely", status=401)
    assert "Carequality metadata" in _explain(refused, "patient_search", "d")
    assert _explain(RedoxRefused("x", status=403), "organization", "d").startswith("forbidden")
    unsubscribed = RedoxRefused("x", status=400, errors=["No subscriptions. Meta.Destinations"])
    assert "is not a subscription of your source" in _explain(unsubscribed, "organization", "d")

"""Environment files: placeholders, schema errors with key paths, destination guards."""

from __future__ import annotations

from pathlib import Path

import pytest

from techval.core import destinations, dotenv
from techval.core.config import MissingVariables, load_settings
from techval.core.errors import ConfigError
from techval.validation.patients import load_patients
from tests.helpers import ROOT, environment, settings_for, write_environment


def test_shipped_simulator_environment_loads() -> None:
    settings = load_settings("simulator", root=ROOT)
    assert settings.simulator is not None and settings.simulator.start
    assert settings.destinations["organization"] == destinations.DEVELOPMENT["organization"]
    assert len(settings.organizations) == 2


@pytest.mark.parametrize("name", ["dev", "staging", "production"])
def test_shipped_live_environments_name_each_missing_variable(name: str) -> None:
    with pytest.raises(MissingVariables, match=r"REDOX_CLIENT_ID \(auth\.client_id\)"):
        load_settings(name, root=ROOT, environ={})


def test_placeholders_are_filled_from_the_environment(tmp_path: Path) -> None:
    path = write_environment(tmp_path, name="${TECHVAL_TEST_NAME}")
    settings = load_settings(config_path=path, root=ROOT, environ={"TECHVAL_TEST_NAME": "nightly"})
    assert settings.name == "nightly"


def test_missing_variable_names_variable_and_key(tmp_path: Path) -> None:
    organization = dict(environment()["organization"][0], oid="${ORG_OID}")
    path = write_environment(tmp_path, organization=[organization])
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=path, root=ROOT, environ={})
    assert "organization.0.oid: environment variable ORG_OID is not set" in str(caught.value)


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'qa'.*known: dev, production"):
        load_settings("qa", root=ROOT)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "auth": {
                    "method": "jwt",
                    "client_id": "x",
                    "algorithm": "RS256",
                    "client_secret": "s",
                }
            },
            "auth.algorithm: 'RS256' is not one of",
        ),
        (
            {"auth": {"method": "jwt", "client_id": "x", "algorithm": "HS384"}},
            "auth: 'client_secret' is a required property",
        ),
        (
            {
                "auth": {
                    "method": "jwt",
                    "client_id": "x",
                    "algorithm": "RS384",
                    "private_key_file": "k",
                }
            },
            "auth: 'key_id' is a required property",
        ),
        ({"timeouts": {"read": -1}}, "timeouts.read"),
        ({"colour": "blue"}, "unknown key"),
        ({"destinations": {"organization": "not-a-uuid"}}, "destinations.organization"),
        ({"organization": [{"name": "No OID"}]}, "organization"),
    ],
)
def test_schema_mistakes_name_the_key_path(tmp_path: Path, changes: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path, **changes)
    assert expected in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nauth: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not YAML \(line \d+\)$"):
        load_settings(config_path=path, root=ROOT)


def test_production_refuses_a_development_destination(tmp_path: Path) -> None:
    dev_id = destinations.DEVELOPMENT["clinical_summary"]
    with pytest.raises(ConfigError, match="development destination for 'clinical_summary'"):
        settings_for(
            tmp_path,
            production=True,
            simulator=None,
            base_url="https://api.test",
            destinations={"clinical_summary": dev_id},
        )


def test_development_refuses_a_production_destination(tmp_path: Path) -> None:
    prod_id = destinations.PRODUCTION["organization"]
    with pytest.raises(ConfigError, match="production destination for 'organization'"):
        settings_for(tmp_path, destinations={"organization": prod_id})


def test_production_fills_production_destinations(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, production=True, simulator=None, base_url="https://api.test", destinations={}
    )
    assert settings.destinations == dict(destinations.PRODUCTION)


def test_duplicate_organization_oid_is_refused(tmp_path: Path) -> None:
    org = environment()["organization"][0]
    with pytest.raises(ConfigError, match="listed twice"):
        settings_for(tmp_path, organization=[org, dict(org)])


def test_base_url_is_required_without_simulator(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="base_url: required"):
        settings_for(tmp_path, simulator=None)


def test_single_organization_mapping_is_accepted(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, organization=environment()["organization"][0])
    assert [o.oid for o in settings.organizations] == ["2.16.840.1.113883.3.6147.458.99999.1.1.1.1"]


def test_update_values_default_to_a_marked_variant(tmp_path: Path) -> None:
    profile = settings_for(tmp_path).organizations[0]
    assert profile.update_address.street == "1 Test Way (techval update check)"
    assert profile.update_contacts[0].name == "Pat Tester (techval update check)"


def test_simulator_base_url_moves_token_url(tmp_path: Path) -> None:
    settings = settings_for(tmp_path).with_base_url("http://127.0.0.1:9999")
    assert settings.auth.token_url == "http://127.0.0.1:9999/v2/auth/token"


def test_every_missing_variable_is_named_at_once(tmp_path: Path) -> None:
    organization = dict(environment()["organization"][0], oid="${ORG_OID}", name="${ORG_NAME}")
    path = write_environment(tmp_path, organization=[organization], name="${ORG_NAME}")
    with pytest.raises(MissingVariables) as caught:
        load_settings(config_path=path, root=ROOT, environ={})
    assert caught.value.variables == {
        "ORG_NAME": ["name", "organization.0.name"],
        "ORG_OID": ["organization.0.oid"],
    }
    assert "2 environment variables are not set" in str(caught.value)


def test_dot_env_fills_placeholders_and_real_variables_win(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# a comment\n"
        "export ORG_OID=2.16.840.1.113883.3.6147.458.1.1   # the OID\n"
        "ORG_NAME='From dotenv # not a comment'\n"
        "EMPTY=\n"
    )
    found = dotenv.environ_with(tmp_path, {"ORG_NAME": "From the environment"})
    assert found["ORG_OID"] == "2.16.840.1.113883.3.6147.458.1.1"
    assert found["ORG_NAME"] == "From the environment"
    assert "EMPTY" not in found  # an empty value is still missing
    assert dotenv.read(tmp_path / ".env")["ORG_NAME"] == "From dotenv # not a comment"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no equals sign\n", ":1: not a KEY=VALUE line"),
        ('A="open\n', ":1: A: the quote is not closed"),
    ],
)
def test_a_bad_dot_env_line_is_named(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / ".env").write_text(text)
    with pytest.raises(ConfigError, match=problem):
        dotenv.read(tmp_path / ".env")


def test_load_settings_reads_the_project_dot_env(tmp_path: Path) -> None:
    organization = dict(environment()["organization"][0], oid="${ORG_OID}")
    folder = tmp_path / "project"
    (folder / "environments").mkdir(parents=True)
    write_environment(folder / "environments", organization=[organization])
    (folder / "environments" / "environment.yaml").rename(folder / "environments" / "x.yaml")
    (folder / ".env").write_text("ORG_OID=2.16.840.1.113883.3.6147.458.1.1\n")
    for part in ("schemas", "fixtures"):
        (folder / part).symlink_to(ROOT / part)
    settings = load_settings("x", root=folder)
    assert settings.organizations[0].oid == "2.16.840.1.113883.3.6147.458.1.1"


def test_dot_env_quotes_escapes_and_what_follows_them(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('A="abc\\"def"\nB="l1\\nl2"\nC=\'x\\n\'\nD="q"   # a comment\n')
    assert dotenv.read(tmp_path / ".env") == {"A": 'abc"def', "B": "l1\nl2", "C": "x\\n", "D": "q"}
    (tmp_path / ".env").write_text('A="abc" trailing\n')
    with pytest.raises(ConfigError, match=":1: A: text after the closing quote"):
        dotenv.read(tmp_path / ".env")


def test_an_empty_variable_is_not_set_and_does_not_hide_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ORG_OID=2.16.840.1.113883.3.6147.458.1.1\n")
    assert dotenv.environ_with(tmp_path, {"ORG_OID": ""})["ORG_OID"].startswith("2.16")
    organization = dict(environment()["organization"][0], oid="${ORG_OID}")
    path = write_environment(tmp_path, organization=[organization])
    with pytest.raises(MissingVariables, match="ORG_OID"):
        load_settings(config_path=path, root=ROOT, environ={"ORG_OID": ""})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"name: x\nproduction: 2026-02-30\n", "a value YAML cannot read"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_an_unreadable_value_or_encoding_is_one_line(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "environment.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=problem):
        load_settings(config_path=path, root=ROOT, environ={})
    patients = tmp_path / "patients.yaml"
    patients.write_bytes(content)
    with pytest.raises(ConfigError, match=f"test_patients: .*: {problem}"):
        load_patients(patients)

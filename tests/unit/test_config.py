"""Environment files: placeholders, schema errors with key paths, destination guards."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from techval.core import destinations, dotenv
from techval.core.config import CAREQUALITY_HEADERS, FhirSettings, MissingVariables, load_settings
from techval.core.errors import ConfigError
from techval.validation import messages
from techval.validation.patients import load_patients
from tests.helpers import ORGANIZATION, ROOT, environment, settings_for, write_environment


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
    with pytest.raises(
        ConfigError, match="unknown environment 'qa'.*known: dev, dev-fhir, production"
    ):
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


# --- api and the fhir block (issue 18) -----------------------------------------------------


def test_the_api_is_the_data_model_unless_said_and_fhir_has_its_defaults(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert settings.api == "data_model"
    fhir = settings.fhir
    assert (fhir.environment, fhir.base_path, fhir.update_verb) == (
        "Development",
        "/fhir/R4",
        "PUT",
    )
    assert (fhir.organizations_slug, fhir.patients_slug, fhir.documents_slug) == (
        "ceq-orgs",
        "ceq-xcpd:{oid}",
        "ceq-xca:{oid}",
    )
    assert (fhir.page_limit, fhir.max_pages, fhir.directory_radius) == (50, 10, 25)
    assert fhir.next_verb == "GET"
    assert not fhir.headers_on_directory
    assert fhir.path("ceq-xcpd:1.2.3", "Patient/_search") == (
        "/fhir/R4/ceq-xcpd:1.2.3/Development/Patient/_search"
    )


def test_the_carequality_headers_carry_the_values_of_the_meta_extensions(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        api="fhir",
        carequality={
            "user_id": "Tester, Pat",
            "user_role": {"code": "309343006", "display": "Physician"},
            "purpose_of_use": {"code": "COVERAGE"},
        },
    )
    assert settings.carequality_headers() == {
        "x-sender-organization-id": ORGANIZATION["oid"],
        "x-user-id": "Tester, Pat",
        "x-organization-name": ORGANIZATION["name"],
        "x-user-role": "309343006",
        "x-purpose-of-use": "COVERAGE",
    }
    extensions = messages.carequality_extensions(settings)  # the Data Model's same values
    assert (
        settings.carequality_headers()["x-user-role"] == (extensions["user-role"]["coding"]["code"])
    )
    assert (
        settings.carequality_headers()["x-sender-organization-id"]
        == (extensions["sender-organization-id"]["string"])
    )


def test_the_fhir_block_overrides_each_default(tmp_path: Path) -> None:
    fhir = {
        "environment": "Staging",
        "base_path": "/fhir/R4/",
        "slugs": {"organizations": "orgs", "patients": "xcpd-{oid}", "documents": "xca-{oid}"},
        "headers": {"user_role": "x-role"},
        "headers_on_directory": True,
        "update_verb": "POST",
        "page_limit": 5,
        "max_pages": 2,
        "next_verb": "POST",
        "directory_radius": 10,
    }
    settings = settings_for(tmp_path, api="fhir", fhir=fhir)
    assert settings.fhir.path("orgs", "Organization") == "/fhir/R4/orgs/Staging/Organization"
    assert settings.fhir.headers["user_role"] == "x-role"
    assert settings.fhir.headers["user_id"] == "x-user-id"  # the others keep their defaults
    assert "x-role" in settings.carequality_headers()
    assert (settings.fhir.update_verb, settings.fhir.page_limit) == ("POST", 5)
    assert settings.fhir.next_verb == "POST"


def test_production_defaults_the_fhir_environment_to_production(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, api="fhir", production=True, simulator=None, base_url="https://api.test"
    )
    assert settings.fhir.environment == "Production"


LEGACY = {"method": "legacy", "api_key": "an-api-key-1", "secret": "a-secret-123"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"api": "hl7v2"}, r"api: 'hl7v2' is not one of \['data_model', 'fhir'\]"),
        ({"api": "fhir", "auth": LEGACY}, r"auth\.method: .*FHIR needs an OAuth API key"),
        ({"api": "fhir", "fhir": {"environment": "Dev"}}, r"fhir\.environment: 'Dev' is not one"),
        (
            {"api": "fhir", "fhir": {"environment": "Production"}},
            r"fhir\.environment: Production disagrees with production: false",
        ),
        (
            {
                "api": "fhir",
                "production": True,
                "simulator": None,
                "base_url": "https://api.test",
                "fhir": {"environment": "Development"},
            },
            r"fhir\.environment: Development disagrees with production: true",
        ),
        ({"api": "fhir", "fhir": {"update_verb": "PATCH"}}, r"fhir\.update_verb: 'PATCH' is not"),
        ({"api": "fhir", "fhir": {"next_verb": "PUT"}}, r"fhir\.next_verb: 'PUT' is not"),
        (
            {"api": "fhir", "fhir": {"slugs": {"patients": "ceq-xcpd"}}},
            r"fhir\.slugs\.patients: 'ceq-xcpd' is not in the expected format",
        ),
        (
            {"api": "fhir", "fhir": {"headers": {"user_role": "x-user-id"}}},
            r"fhir\.headers\.user_id: x-user-id is named twice",
        ),
        (
            {"api": "fhir", "fhir": {"headers": {"user_id": "Authorization"}}},
            r"fhir\.headers\.user_id: Authorization is set by the client",
        ),
        (
            {"api": "fhir", "carequality": {"user_id": "Tester,\nPat"}},
            r"carequality\.user_id: sent as the HTTP header x-user-id, which carries printable",
        ),
    ],
    ids=[
        "api",
        "legacy-key",
        "environment",
        "not-production",
        "production",
        "update-verb",
        "next-verb",
        "slug-without-oid",
        "header-twice",
        "client-header",
        "header-value",
    ],
)
def test_each_fhir_refusal_is_one_line_naming_the_key(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path, **changes)
    message = str(caught.value)
    assert re.search(expected, message), message
    assert "\n" not in message and message.startswith(str(tmp_path))


def test_fhir_refusals_wait_for_api_fhir(tmp_path: Path) -> None:
    """The Data Model runs as before with a legacy key and an unused fhir block."""
    settings = settings_for(tmp_path, auth=LEGACY, fhir={"environment": "Production"})
    assert settings.api == "data_model" and settings.auth.method == "legacy"


def test_shipped_simulator_fhir_environment_loads() -> None:
    settings = load_settings("simulator-fhir", root=ROOT)
    assert settings.api == "fhir" and settings.simulator is not None and settings.simulator.start
    assert settings.fhir == replace(FhirSettings(), headers=settings.fhir.headers)
    assert dict(settings.fhir.headers) == dict(CAREQUALITY_HEADERS)


def test_shipped_dev_fhir_environment_loads_with_its_variables(tmp_path: Path) -> None:
    text = (ROOT / "environments/dev-fhir.yaml").read_text()
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    assert needed == set(
        re.findall(r"\$\{([A-Z_]+)\}", (ROOT / "environments/dev.yaml").read_text())
    )
    environ = {name: f"value-{name.lower()}" for name in needed}
    environ |= {
        "TECHVAL_ORG_OID": "2.16.840.1.113883.3.6147.458.4242.1.1.1.1",
        "TECHVAL_PATIENT_OID": "2.16.840.1.113883.3.6147.458.4242.1.1.2.1",
        "TECHVAL_DOCUMENT_OID": "2.16.840.1.113883.3.6147.458.4242.1.1.3.1",
        "REDOX_DOD_DESTINATION_ID": "0b8a4a55-3c3e-4f3a-9d55-1c2b3d4e5f60",
    }
    settings = load_settings("dev-fhir", root=ROOT, environ=environ)
    assert (settings.api, settings.fhir.environment, settings.production) == (
        "fhir",
        "Development",
        False,
    )
    assert settings.base_url == "https://api.redoxengine.com"
    assert settings.carequality_headers()["x-user-id"] == "value-techval_cq_user_id"
    with pytest.raises(MissingVariables, match=r"REDOX_CLIENT_ID \(auth\.client_id\)"):
        load_settings("dev-fhir", root=ROOT, environ={})


def test_dev_fhir_may_show_patient_data_as_dev_may(tmp_path: Path) -> None:
    changes = {"simulator": None, "base_url": "https://api.test"}
    shown = {"reports": {"mask_patient_data": False}}
    assert not settings_for(tmp_path, name="dev-fhir", **changes, **shown).reports.mask_patient_data
    with pytest.raises(ConfigError, match=r"reports\.mask_patient_data"):
        settings_for(tmp_path, name="prod-fhir", **changes, **shown)

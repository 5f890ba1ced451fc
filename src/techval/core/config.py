"""Environment files: load, fill ${VAR} placeholders, validate, and freeze into Settings.

Every mistake is a ConfigError whose message names the file and the key path, so the run can
stop with one line before any request is sent.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from techval.core import datafiles, destinations, dotenv, yamlfile
from techval.core.errors import ConfigError
from techval.core.paths import project_root
from techval.core.redox import MAX_MESSAGE_BYTES, TREATMENT
from techval.core.retries import RetryPolicy
from techval.core.verifies import verifies

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SCHEMA_PATH = Path("schemas/config/environment.json")


@dataclass(frozen=True)
class AuthSettings:
    method: str  # "jwt" or "legacy"
    token_url: str
    client_id: str = ""
    algorithm: str = ""
    private_key_file: Path | None = None
    key_id: str = ""
    client_secret: str = ""
    api_key: str = ""
    secret: str = ""
    refresh_url: str = ""
    source_id: str = ""

    def secret_values(self) -> list[str]:
        """The values that must never appear in a log, report or exception."""
        values = [self.client_secret, self.secret, self.api_key]
        if self.private_key_file and self.private_key_file.is_file():
            values.append(self.private_key_file.read_text(encoding="utf-8", errors="replace"))
        return [value for value in values if value]


@dataclass(frozen=True)
class Contact:
    name: str
    purpose: str | None = None
    emails: tuple[str, ...] = ()
    phone: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    county: str | None = None
    country: str | None = None


@dataclass(frozen=True, repr=False)
class OrganizationProfile:
    """One organization record under validation, as the user configured it."""

    name: str
    oid: str
    type: str | None = None
    part_of: str | None = None
    aliases: tuple[str, ...] = ()
    destination_id: str | None = None
    address: Address = Address()
    contacts: tuple[Contact, ...] = ()
    update_address: Address = Address()
    update_contacts: tuple[Contact, ...] = ()

    def __repr__(self) -> str:  # what reports show as the scenario's parameter
        return f"{self.name} ({self.oid})"


SNOMED_CT = "2.16.840.1.113883.6.96"  # the code system OIDs, for {system} in a header value
PURPOSE_OF_USE_SYSTEM = "2.16.840.1.113883.3.18.7.1"  # NHIN PurposeOfUse (Carequality's)


@dataclass(frozen=True)
class Carequality:
    """Who asks, in which role and for what purpose: sent as Meta.Extensions on every query."""

    user_id: str
    sender: OrganizationProfile
    user_role_code: str = "112247003"
    user_role_display: str = "Medical Doctor"
    purpose_code: str = TREATMENT
    purpose_display: str = "Treatment"
    user_role_system: str = SNOMED_CT  # for a fhir.header_values template's {system}
    purpose_system: str = PURPOSE_OF_USE_SYSTEM


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 130.0  # Redox ends synchronous requests after about 120 s
    write: float = 30.0
    scenario: float = 900.0  # one scenario, teardown included; data on demand polls for minutes
    token: float = 30.0  # reading a token answer: the token endpoint answers at once or not


@dataclass(frozen=True)
class FailFast:
    """When the environment counts as unreachable: `after` requests in a row with no HTTP
    answer; after the first, reads wait only `probe_read` seconds until an answer comes."""

    after: int = 3
    probe_read: float = 15.0


@dataclass(frozen=True)
class SimulatorSettings:
    start: bool = True
    port: int = 0
    repository_delay: float = 0.3
    answer_delay: float = 0.0  # seconds every answer is held back, as a round trip (bench)
    location_query_active: int = 1  # LocationQuery answers "Active" this often before "Success"


@dataclass(frozen=True)
class ReportSettings:
    mask_patient_data: bool = True


# their patients are test patients
UNMASKABLE_ENVIRONMENTS = frozenset({"simulator", "dev", "simulator-fhir", "dev-fhir"})


@dataclass(frozen=True)
class Oids:
    patient: str
    document: str
    arc: str


@dataclass(frozen=True)
class Polling:
    """How long to ask again for an answer Redox gives asynchronously."""

    attempts: int
    deadline: float  # seconds from the first attempt
    interval: float  # seconds before the second attempt; doubles up to 10 s


@dataclass(frozen=True)
class DataOnDemand(Polling):
    attempts: int = 10
    deadline: float = 60.0
    interval: float = 2.0
    document_ids: str = "oid"


@dataclass(frozen=True)
class LocationQuery(Polling):
    """The record locator fans out to the network: re-ask until task-status is Success."""

    attempts: int = 20
    deadline: float = 60.0
    interval: float = 1.0


# The Carequality metadata Redox's FHIR API takes as HTTP headers, field -> header name. The
# first two are documented (https://docs.redoxengine.com/permalink/255A2qjUtpc0Z3P4BydYz3), the
# last three INFERRED from the Data Model's Meta.Extensions keys (fhir.headers changes them).
CAREQUALITY_HEADERS: Mapping[str, str] = {
    "sender_organization_id": "x-sender-organization-id",
    "user_id": "x-user-id",
    "organization_name": "x-organization-name",
    "user_role": "x-user-role",
    "purpose_of_use": "x-purpose-of-use",
}
# How a coded Carequality field is written as its header's value (fhir.header_values): a
# shorthand or a template of {code}, {display}, {system}. INFERRED (3.5): bare codes by default.
HEADER_VALUE_FORMATS: Mapping[str, str] = {
    "code": "{code}",
    "code^display": "{code}^{display}",
    "display": "{display}",
}
HEADER_VALUE_FIELDS = frozenset({"code", "display", "system"})
CODED_HEADERS = ("user_role", "purpose_of_use")
# Headers the client sets itself: no Carequality field may be sent under their names.
CLIENT_HEADERS = frozenset(
    {"authorization", "content-type", "accept", "accept-encoding", "redox-source-id", "host"}
    | {"content-length", "user-agent", "connection", "transfer-encoding"}
)


@dataclass(frozen=True)
class AlreadyExists:
    """How the directory refuses a create of an OID it already holds, which a re-run adopts:
    one of `statuses` with an error text containing `text` (4.11: 403 `[OID] already exists.`,
    documented for the Data Model, INFERRED on FHIR)."""

    statuses: tuple[int, ...] = (403,)
    text: str = "already exists."
    key: str = ""  # where it is configured, for a failure's hint ("" when documented)

    def describe(self) -> str:
        said = " or ".join(str(status) for status in self.statuses)
        return f"HTTP {said} with an error text containing {self.text!r}"


@dataclass(frozen=True)
class FhirSettings:
    """Where and how the FHIR API is asked: URL parts, the Carequality header names, and the
    choices Redox's pages leave open. The URL pattern and the slugs:
    https://docs.redoxengine.com/how-to-use-redox/interact-with-clinical-networks/onramp-to-carequality/create-an-organization-record-with-fhir
    """

    environment: str = "Development"  # Development | Staging | Production: agrees with production
    base_path: str = "/fhir/R4"
    organizations_slug: str = "ceq-orgs"
    patients_slug: str = "ceq-xcpd:{oid}"  # {oid}: the organization asked
    documents_slug: str = "ceq-xca:{oid}"
    headers: Mapping[str, str] = field(default_factory=lambda: dict(CAREQUALITY_HEADERS))
    headers_on_directory: bool = False  # INFERRED: the Carequality headers also on ceq-orgs
    # INFERRED (3.5): the value template of each coded header (bare code by default)
    header_values: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(CODED_HEADERS, "{code}")
    )
    update_verb: str = "PUT"  # PUT Organization/{oid}, or POST Organization with the id
    page_limit: int = 50  # Organization/_search `limit`
    max_pages: int = 10  # next links / index pages followed at most
    next_verb: str = "GET"  # INFERRED (undocumented): GET a next link, or POST it an empty form
    directory_radius: int = 25  # miles around a ZIP for the directory search
    # organizations of the directory a patient is searched at, at most (each is a Carequality
    # query with purpose of use TREATMENT to a real organization)
    max_organizations: int = 10
    # INFERRED: how a responder's Patient.identifier names its assigning authority
    identifier_system: str = "urn:oid:{oid}"
    # INFERRED (Redox's example is cut off there): the Sequoia directory's organization types
    organization_type_system: str = (
        "https://sequoiaproject.org/fhir/sphd/CodeSystem/OrganizationType"
    )
    # INFERRED (4.3: the answer's body is not in the stored copy): what Organization create
    # and update answer: "resource" (the Organization), "outcome" (an OperationOutcome) or
    # "any" (either, a Bundle, or an empty body); the read-back proves the write either way
    write_answer: str = "resource"
    # The identifier system of an organization's OID (4.2: Redox's create example)
    oid_system: str = "http://www.hl7.org/oid/"
    # INFERRED (1.10: Redox's create example sends application/json): the Content-Type of a
    # FHIR request's JSON body (create, update)
    content_type: str = "application/fhir+json"
    # INFERRED (4.11, documented for the Data Model): the refusal of a create of a known OID,
    # which a re-run adopts with an update
    already_exists: AlreadyExists = AlreadyExists(key="fhir.already_exists")

    @verifies("FHIR-01")
    def path(self, slug: str, tail: str) -> str:
        """The URL path of `tail` (e.g. "Patient/_search") on destination `slug`."""
        return f"{self.base_path}/{slug}/{self.environment}/{tail}"


@dataclass(frozen=True)
class Settings:
    name: str
    base_url: str
    production: bool
    auth: AuthSettings
    destinations: Mapping[str, str]
    organizations: tuple[OrganizationProfile, ...]
    carequality: Carequality
    oids: Oids
    data_on_demand: DataOnDemand
    location_query: LocationQuery
    test_patients: Path
    timeouts: Timeouts
    fail_fast: FailFast
    simulator: SimulatorSettings | None
    source: Path
    reports: ReportSettings = ReportSettings()
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    # Redox's size limit of a message and of an answer (`limits.message_bytes`; 40 MB, the
    # quotas page; the error page says 10 MB: fact 8.2)
    message_limit_bytes: int = MAX_MESSAGE_BYTES
    api: str = "data_model"  # or "fhir": which Redox API the validation steps speak
    fhir: FhirSettings = FhirSettings()

    def with_base_url(self, base_url: str) -> Settings:
        """The same settings aimed at another server (used once the simulator has a port)."""
        old = self.base_url

        def moved(url: str) -> str:
            if url.startswith("/"):
                return base_url + url
            return base_url + url[len(old) :] if old and url.startswith(old) else url

        auth = replace(
            self.auth,
            token_url=moved(self.auth.token_url),
            refresh_url=moved(self.auth.refresh_url),
        )
        return replace(self, base_url=base_url, auth=auth)

    @verifies("FHIR-04")
    def carequality_headers(self) -> dict[str, str]:
        """The Carequality metadata as FHIR request headers, {header name: value}: the values
        the Data Model sends as Meta.Extensions, the user role and purpose written by
        fhir.header_values (bare codes by default, INFERRED: Redox's pages do not show the
        format, 3.5)."""
        cq = self.carequality
        templates = self.fhir.header_values
        role = (cq.user_role_code, cq.user_role_display, cq.user_role_system)
        purpose = (cq.purpose_code, cq.purpose_display, cq.purpose_system)
        values = {
            "sender_organization_id": cq.sender.oid,
            "user_id": cq.user_id,
            "organization_name": cq.sender.name,
            "user_role": _coded(templates["user_role"], *role),
            "purpose_of_use": _coded(templates["purpose_of_use"], *purpose),
        }
        return {self.fhir.headers[key]: value for key, value in values.items()}

    def destination(self, purpose: str) -> str:
        try:
            return self.destinations[purpose]
        except KeyError:
            raise ConfigError(
                f"{self.source}: destinations.{purpose} is not set for environment '{self.name}'"
            ) from None


def _coded(template: str, code: str, display: str, system: str) -> str:
    return template.format(code=code, display=display, system=system)


def written_parts(template: str, value: str) -> dict[str, str] | None:
    """The {code}, {display}, {system} of a header value written by `template` (None when
    the value is not written so)."""
    pattern = ""
    for literal, name, _, _ in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if name:
            # a code or a system is one token (a SNOMED ID, TREATMENT, an OID); a display may
            # hold the template's own separators ("Dr^Med")
            token = ".+?" if name == "display" else r"[A-Za-z0-9._:-]+"
            pattern += f"(?P={name})" if f"(?P<{name}>" in pattern else f"(?P<{name}>{token})"
    found = re.fullmatch(pattern, value)
    return found.groupdict() if found is not None else None


def environment_path(name: str, root: Path) -> Path:
    """The file of a named environment; ConfigError listing the known names if there is none."""
    folder = root / "environments"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise ConfigError(
            f"unknown environment '{name}': no {path}; known: {', '.join(known) or 'none'}"
        )
    return path


@verifies("DOD-05")
def load_settings(
    env: str | None = None,
    config_path: str | Path | None = None,
    *,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the environment named `env`, or the file `config_path`, into Settings; ${VAR}
    from `environ` (default: the process's environment over the project's .env)."""
    root = root or project_root()
    environ = dotenv.environ_with(root) if environ is None else environ
    path = _shown(Path(config_path) if config_path else environment_path(env or "simulator", root))
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yamlfile.read(path)  # a FIFO or a device is refused there, in one line
    except yamlfile.Unreadable as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        missing: list[tuple[str, str]] = []
        data = _substitute(raw, environ, (), missing)
        if missing:
            raise MissingVariables(path, missing, _complete_key_file(data, missing, root))
        datafiles.check(data, root / SCHEMA_PATH, path)
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be an environment file") from None
    return _build(data, path, root)


def _shown(path: Path) -> Path:
    """The path as the user would write it: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _complete_key_file(
    data: dict[str, Any], missing: list[tuple[str, str]], root: Path
) -> Path | None:
    """auth.private_key_file when no variable in it is missing and no simulator started by the
    run makes it: a file that can be checked while other variables are missing."""
    auth, simulator = data.get("auth"), data.get("simulator")
    value = auth.get("private_key_file") if isinstance(auth, dict) else None
    simulated = isinstance(simulator, dict) and simulator.get("start", True) is not False
    if not isinstance(value, str) or not value or simulated:
        return None
    return None if any(key == "auth.private_key_file" for _, key in missing) else root / value


class MissingVariables(ConfigError):
    """Environment variables the file's ${VAR} placeholders need, all of them at once;
    `key_file`: the private key file the file names, when it could be checked already."""

    def __init__(
        self, path: Path, missing: list[tuple[str, str]], key_file: Path | None = None
    ) -> None:
        self.path = path
        self.key_file = key_file
        self.variables: dict[str, list[str]] = {}  # variable -> the keys that use it
        for name, key in missing:
            self.variables.setdefault(name, []).append(key)
        where = "(in the environment or .env)"
        if len(self.variables) == 1:
            ((name, keys),) = self.variables.items()
            text = f"{path}: {', '.join(keys)}: environment variable {name} is not set {where}"
        else:
            listed = ", ".join(f"{n} ({', '.join(keys)})" for n, keys in self.variables.items())
            text = f"{path}: {len(self.variables)} environment variables are not set {where}: "
            text += listed
        super().__init__(text)


def _substitute(
    value: Any, environ: Mapping[str, str], at: tuple[str, ...], missing: list[tuple[str, str]]
) -> Any:
    """`value` with ${VAR} filled in; each missing variable, with where it is used, is added
    to `missing` so that all of them are reported together."""
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if not environ.get(name):  # an empty value is not a value
                missing.append((name, datafiles.dotted(at)))
                return ""
            return environ[name]

        return PLACEHOLDER.sub(fill, value)
    if isinstance(value, dict):
        return {k: _substitute(v, environ, (*at, str(k)), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, (*at, str(i)), missing) for i, v in enumerate(value)]
    return value


def _build(data: dict[str, Any], path: Path, root: Path) -> Settings:
    production = bool(data.get("production", False))
    simulator = None
    if "simulator" in data:
        sim = data["simulator"]
        simulator = SimulatorSettings(**sim)
    base_url = str(data.get("base_url", "")).rstrip("/")
    if not base_url and not (simulator and simulator.start):
        raise ConfigError(f"{path}: base_url: required unless the built-in simulator is started")
    if production and simulator is not None:
        raise ConfigError(f"{path}: simulator: a production environment cannot be simulated")
    try:
        resolved = destinations.resolve(data.get("destinations", {}), production)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    orgs = data["organization"]
    orgs = orgs if isinstance(orgs, list) else [orgs]
    oids = [org["oid"] for org in orgs]
    duplicates = {oid for oid in oids if oids.count(oid) > 1}
    if duplicates:
        raise ConfigError(f"{path}: organization: OID {sorted(duplicates)[0]} is listed twice")
    timeouts = Timeouts(**data.get("timeouts", {}))
    fail_fast = FailFast(**data.get("fail_fast", {}))
    reports = ReportSettings(**data.get("reports", {}))
    simulated = simulator is not None and simulator.start
    if not reports.mask_patient_data and (
        production or not (simulated or data["name"] in UNMASKABLE_ENVIRONMENTS)
    ):
        raise ConfigError(
            f"{path}: reports.mask_patient_data: false is only allowed for the simulator and "
            f"dev environments, not '{data['name']}'"
        )
    organizations = tuple(_organization(org) for org in orgs)
    api = data.get("api", "data_model")
    fhir = _fhir(data.get("fhir", {}), production)
    settings = Settings(
        name=data["name"],
        base_url=base_url,
        production=production,
        auth=_auth(data["auth"], base_url, root),
        destinations=resolved,
        organizations=organizations,
        carequality=(carequality := _carequality(data["carequality"], organizations, path)),
        oids=_oids(data["oids"], carequality.sender.oid, path),
        data_on_demand=DataOnDemand(**data.get("data_on_demand", {})),
        location_query=LocationQuery(**data.get("location_query", {})),
        test_patients=root / data.get("test_patients", "fixtures/test_patients.yaml"),
        timeouts=timeouts,
        fail_fast=fail_fast,
        simulator=simulator,
        source=path,
        reports=reports,
        retries=RetryPolicy(**data.get("retries", {})),
        api=api,
        fhir=fhir,
        message_limit_bytes=int((data.get("limits") or {}).get("message_bytes", MAX_MESSAGE_BYTES)),
    )
    if api == "fhir":
        _check_fhir(settings, path)
    return settings


def _fhir(raw: dict[str, Any], production: bool) -> FhirSettings:
    """The fhir block over the defaults; the environment segment follows `production:`
    unless given."""
    slugs = raw.get("slugs", {})
    defaults = FhirSettings()
    return FhirSettings(
        environment=raw.get("environment", "Production" if production else "Development"),
        base_path=raw.get("base_path", defaults.base_path).rstrip("/"),
        organizations_slug=slugs.get("organizations", defaults.organizations_slug),
        patients_slug=slugs.get("patients", defaults.patients_slug),
        documents_slug=slugs.get("documents", defaults.documents_slug),
        headers={**CAREQUALITY_HEADERS, **raw.get("headers", {})},
        headers_on_directory=raw.get("headers_on_directory", defaults.headers_on_directory),
        header_values={
            **defaults.header_values,
            **{
                name: HEADER_VALUE_FORMATS.get(value, value)
                for name, value in raw.get("header_values", {}).items()
            },
        },
        update_verb=raw.get("update_verb", defaults.update_verb),
        page_limit=raw.get("page_limit", defaults.page_limit),
        max_pages=raw.get("max_pages", defaults.max_pages),
        next_verb=raw.get("next_verb", defaults.next_verb),
        directory_radius=raw.get("directory_radius", defaults.directory_radius),
        max_organizations=raw.get("max_organizations", defaults.max_organizations),
        identifier_system=raw.get("identifier_system", defaults.identifier_system),
        organization_type_system=raw.get(
            "organization_type_system", defaults.organization_type_system
        ),
        write_answer=raw.get("write_answer", defaults.write_answer),
        oid_system=raw.get("oid_system", defaults.oid_system),
        content_type=raw.get("content_type", defaults.content_type),
        already_exists=_already_exists(raw.get("already_exists"), defaults.already_exists),
    )


def _already_exists(raw: dict[str, Any] | None, default: AlreadyExists) -> AlreadyExists:
    """fhir.already_exists: {status: 403 or [403, 409], text: "already exists"} (the schema
    has checked the shape)."""
    if not raw:
        return default
    status = raw.get("status", list(default.statuses))
    statuses = tuple(status) if isinstance(status, list) else (status,)
    return replace(default, statuses=statuses, text=raw.get("text", default.text))


# Where each Carequality header's value is configured (for a refusal naming the key).
_HEADER_SOURCES = {
    "sender_organization_id": "carequality.sender_oid",
    "user_id": "carequality.user_id",
    "organization_name": "organization.name (the sender's)",
    "user_role": "carequality.user_role.code",
    "purpose_of_use": "carequality.purpose_of_use.code",
}


@verifies("FHIR-02")
def _check_fhir(settings: Settings, path: Path) -> None:
    """What the FHIR API cannot take, refused before any request (one line naming the key)."""
    if settings.auth.method == "legacy":
        raise ConfigError(
            f"{path}: auth.method: legacy API keys are not supported with api: fhir "
            "(FHIR needs an OAuth API key)"
        )
    environment = settings.fhir.environment
    if (environment == "Production") != settings.production:
        said = "true" if settings.production else "false"
        raise ConfigError(
            f"{path}: fhir.environment: {environment} disagrees with production: {said}"
        )
    names = [name.lower() for name in settings.fhir.headers.values()]
    for key, header in settings.fhir.headers.items():
        if names.count(header.lower()) > 1 or header.lower() in CLIENT_HEADERS:
            why = "named twice" if names.count(header.lower()) > 1 else "set by the client"
            raise ConfigError(f"{path}: fhir.headers.{key}: {header} is {why}")
    for key, template in settings.fhir.header_values.items():
        _check_header_value(path, key, template)
    headers = settings.carequality_headers()
    for key, header in settings.fhir.headers.items():
        value = headers[header]
        if not all(" " <= char <= "~" for char in value):
            raise ConfigError(
                f"{path}: {_HEADER_SOURCES[key]}: sent as the HTTP header {header}, which "
                "carries printable ASCII only"
            )


def _check_header_value(path: Path, key: str, template: str) -> None:
    """A header value template: literal text and at least one of {code}, {display}, {system}."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        parts = [("", "?", None, None)]
    names = [name for _, name, spec, conversion in parts if name is not None]
    plain = all(not spec and not conversion for _, name, spec, conversion in parts if name)
    if not names or not plain or not set(names) <= HEADER_VALUE_FIELDS:
        shorthands = ", ".join(HEADER_VALUE_FORMATS)
        raise ConfigError(
            f"{path}: fhir.header_values.{key}: {template!r} is neither {shorthands} nor a "
            "template of {code}, {display} and {system}"
        )


def _auth(raw: dict[str, Any], base_url: str, root: Path) -> AuthSettings:
    method = raw["method"]
    default_path = "/v2/auth/token" if method == "jwt" else "/auth/authenticate"

    def absolute(url: str) -> str:
        return base_url + url if url.startswith("/") else url

    key_file = raw.get("private_key_file")
    return AuthSettings(
        method=method,
        token_url=absolute(raw.get("token_url", default_path)),
        refresh_url=absolute(raw.get("refresh_url", "/auth/refreshToken")),
        client_id=raw.get("client_id", ""),
        algorithm=raw.get("algorithm", ""),
        private_key_file=(root / key_file) if key_file else None,
        key_id=raw.get("key_id", ""),
        client_secret=raw.get("client_secret", ""),
        api_key=raw.get("api_key", ""),
        secret=raw.get("secret", ""),
        source_id=raw.get("source_id", ""),
    )


def _carequality(
    raw: dict[str, Any], organizations: tuple[OrganizationProfile, ...], path: Path
) -> Carequality:
    sender_oid = raw.get("sender_oid", organizations[0].oid)
    senders = [org for org in organizations if org.oid == sender_oid]
    if not senders:
        raise ConfigError(
            f"{path}: carequality.sender_oid: {sender_oid} is not a configured organization"
        )
    role, purpose = raw.get("user_role", {}), raw.get("purpose_of_use", {})
    defaults = Carequality(user_id="", sender=senders[0])
    return Carequality(
        user_id=raw["user_id"],
        sender=senders[0],
        user_role_code=role.get("code", defaults.user_role_code),
        user_role_display=role.get("display", defaults.user_role_display),
        purpose_code=purpose.get("code", defaults.purpose_code),
        purpose_display=purpose.get("display", defaults.purpose_display),
        user_role_system=role.get("system", defaults.user_role_system),
        purpose_system=purpose.get("system", defaults.purpose_system),
    )


def _oids(raw: dict[str, str], organization_oid: str, path: Path) -> Oids:
    """The data-on-demand OIDs, which must sit under the organization's arc (redox-api.md 5.1)."""
    arc = raw.get("arc", ".".join(organization_oid.split(".")[:-2]))
    for key in ("patient", "document"):
        if not raw[key].startswith(arc + "."):
            raise ConfigError(
                f"{path}: oids.{key}: {raw[key]} is not under your organization arc {arc}"
            )
    return Oids(patient=raw["patient"], document=raw["document"], arc=arc)


def _address(raw: Mapping[str, str] | None) -> Address:
    return Address(**raw) if raw else Address()


def _contacts(raw: list[dict[str, Any]] | None) -> tuple[Contact, ...]:
    return tuple(
        Contact(
            name=c["name"],
            purpose=c.get("purpose"),
            emails=tuple(c.get("emails", ())),
            phone=dict(c.get("phone", {})),
        )
        for c in raw or ()
    )


def _organization(raw: dict[str, Any]) -> OrganizationProfile:
    address = _address(raw.get("address"))
    contacts = _contacts(raw.get("contacts"))
    update = raw.get("update", {})
    # Without an explicit update block, the update check sets a recognisable variant of the
    # configured values; they are restored when the check ends.
    update_address = (
        _address(update["address"])
        if "address" in update
        else replace(address, street=f"{address.street or ''} (techval update check)".strip())
    )
    update_contacts = (
        _contacts(update["contacts"])
        if "contacts" in update
        else tuple(replace(c, name=f"{c.name} (techval update check)") for c in contacts)
        or (Contact(name="techval update check", purpose="Technical"),)
    )
    return OrganizationProfile(
        name=raw["name"],
        oid=raw["oid"],
        type=raw.get("type"),
        part_of=raw.get("part_of"),
        aliases=tuple(raw.get("aliases", ())),
        destination_id=raw.get("destination_id"),
        address=address,
        contacts=contacts,
        update_address=update_address,
        update_contacts=update_contacts,
    )

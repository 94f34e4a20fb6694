"""Typed settings, read from `GOVSHARE_*` environment variables (or a `.env` file).

Every field is described; `tests/test_settings.py` fails when a field is missing from
`docs/configuration.md`. In production mode (`GOVSHARE_ENV=production`) the platform refuses to
start while a secret is unset, short or left at a development value (see `production_problems`).
"""

from __future__ import annotations

import ipaddress
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"


class CreditCodeMode(StrEnum):
    strict = "strict"
    warn = "warn"


MIN_SECRET_LENGTH = 32
HEX_SECRETS = ("audit_signing_key", "master_key", "backup_key")  # generated as 64 hex digits in development
# Secrets generated for development are written with this prefix so that production mode can
# recognise (and refuse) a development secret copied into a production environment.
DEV_SECRET_PREFIX = "dev-"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVSHARE_", env_file=".env", extra="ignore")

    env: Environment = Field(
        Environment.development,
        description="`development` (default) or `production`. Production refuses development secrets, "
        "demo accounts and insecure cookies.",
    )
    data_dir: Path = Field(
        Path("data"),
        description="Directory for the embedded SQLite database, generated development secrets, "
        "files and backups.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the platform database, e.g. "
        "`postgresql+psycopg://govshare@db/govshare`. Default: SQLite file `govshare.db` in the data dir.",
    )
    db_pool_size: int = Field(
        20,
        ge=1,
        le=500,
        description="Database connections each server process keeps open for reuse. Requests that run "
        "at once beyond it open extra ones (up to `db_max_overflow` more), which are closed again "
        "after use: keep it above a process's usual concurrency.",
    )
    db_max_overflow: int = Field(
        10, ge=0, le=500, description="Extra connections a process may open beyond `db_pool_size`."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key for CSRF tokens and token hashing (at least 32 characters). Development: "
        "generated once into the data dir. Production: required.",
    )
    audit_signing_key: SecretStr | None = Field(
        None,
        description="SM2 private key (64 hex digits) that signs audit checkpoints. Development: generated "
        "once into the data dir. Production: required.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Master key (64 hex digits) from which the SM4 keys that encrypt stored secrets (e.g. "
        "front-end database credentials) are derived. Development: generated once into the data dir. "
        "Production: required; keep it out of backups of the database.",
    )
    backup_key: SecretStr | None = Field(
        None,
        description="Key (64 hex digits) under which backups are encrypted (SM4-GCM). Development: generated "
        "once into the data dir and carried inside each backup with the other development secrets, so a "
        "development backup restores anywhere. Production: required; keep it apart from the backups.",
    )
    key_dir: Path | None = Field(
        None,
        description="The key vault: one secret per resource under which its data keys are wrapped. Never "
        "part of a backup, so destroying a secret makes that resource's encrypted data unreadable in every "
        "backup. Default: `.keys` in the data dir; production: storage apart from the database and backups.",
    )
    key_rotation_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="Data keys of encrypted items are rotated (cells re-encrypted, old keys erased) once "
        "they are this many days old (job `encryption.rotate_keys`).",
    )
    backup_dir: Path | None = Field(
        None,
        description="Directory for scheduled and on-demand backups. Default: `backups` in the data dir.",
    )
    audit_checkpoint_every: int = Field(
        500, ge=1, description="Sign a checkpoint of the audit chain after this many new events."
    )
    audit_checkpoint_minutes: int = Field(
        60, ge=1, description="Also sign a checkpoint at least this often (minutes) while events arrive."
    )
    credit_code_mode: CreditCodeMode = Field(
        CreditCodeMode.strict,
        description="`strict` refuses a 统一社会信用代码 whose GB 32100 check character is wrong; `warn` "
        "accepts it, flags the organisation and records a warning (for early pilot codes).",
    )
    session_hours: int = Field(8, ge=1, le=72, description="Lifetime of a login session or API token.")
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins in a row after which an account is locked."
    )
    login_lockout_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    password_min_length: int = Field(10, ge=8, description="Minimum password length.")
    system_token_days: int = Field(
        180, ge=1, le=730, description="Default validity of a business-system token (days)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose `X-Forwarded-For` header is believed when "
        "finding a caller's address (for business-system address binding).",
    )
    max_json_bytes: int = Field(
        1_048_576, ge=1024, description="Largest JSON request body accepted by the API (bytes)."
    )
    data_api_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Data API calls (rows, changes) one server process works on at once; the others "
        "wait their turn in order of arrival.",
    )
    secure_cookies: bool | None = Field(
        None,
        description="Send cookies with `Secure` (and HSTS). Default: on in production or when the platform "
        "serves TLS itself, off otherwise.",
    )
    tls_cert: Path | None = Field(
        None,
        description="PEM certificate (chain) with which `govshare serve` serves HTTPS itself; set together "
        "with `tls_key`. Unset: plain HTTP (TLS terminated by a reverse proxy).",
    )
    tls_key: Path | None = Field(
        None,
        description="PEM private key (unencrypted) of `tls_cert`; set together with it.",
    )
    report_font: Path | None = Field(
        None,
        description="A font with Chinese glyphs (TrueType/OpenType, or a .ttc collection) embedded in the "
        "public reports' PDF. Unset: the system's Noto Sans CJK SC (Debian `fonts-noto-cjk`), found through "
        "its usual install directories.",
    )
    max_batch_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest data batch a business system may push in one request (bytes); bodies are "
        "streamed to a temporary file, not held in memory.",
    )
    sharing_reminder_working_days: int = Field(
        2,
        ge=0,
        le=10,
        description="The provider's approvers are reminded of a pending sharing request this many working "
        "days before its due date (0: on the due date).",
    )
    feedback_reply_working_days: int = Field(
        5,
        ge=1,
        le=30,
        description="Working days a provider has to verify and answer a consumer's doubt or error report "
        "on a row (M18); a case past it is escalated to the Bureau.",
    )
    export_valid_days: int = Field(
        7,
        ge=1,
        le=90,
        description="Days an approved bulk export of shared data may be downloaded (at most 3 times).",
    )
    analysis_table_rows: int = Field(
        200_000,
        ge=1,
        description="Most granted rows of one resource an analysis query may read (they are copied into "
        "the query's in-memory sandbox); a larger table is refused with a clear message.",
    )
    analysis_seconds: float = Field(
        10.0, gt=0, le=300, description="Time budget of one analysis query in its sandbox (seconds)."
    )
    analysis_result_rows: int = Field(
        10_000,
        ge=1,
        le=100_000,
        description="Most rows an analysis result keeps (the answer says when it was cut).",
    )
    analysis_small_cell: int = Field(
        5,
        ge=1,
        description="Small-cell threshold of analysis output checks: a count in an aggregate below it (and "
        "above 0) is not releasable. Applies to sources whose highest level has k > 1.",
    )
    analysis_k_l1: int = Field(
        1, ge=1, description="k of the k-anonymity and differencing checks for L1 sources (1: off)."
    )
    analysis_k_l2: int = Field(
        5, ge=1, description="k of the k-anonymity and differencing checks for L2 sources."
    )
    analysis_k_l3: int = Field(
        10, ge=1, description="k of the k-anonymity and differencing checks for L3 sources."
    )
    ingest_helper_min_mb: int = Field(
        16,
        ge=0,
        description="A data batch at least this large (MB) is parsed and checked in a helper process "
        "while the previous chunk is written, on machines with more than one core; 0: never.",
    )
    snapshot_max_retire_ratio: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A full snapshot that would retire more than this share of a resource's current rows "
        "is refused unless the sender confirms with `allow_mass_retire=true` (a truncated file looks like "
        "a small snapshot).",
    )
    batch_alert_score: float = Field(
        90.0,
        ge=0,
        le=100,
        description="A batch whose quality score (share of rows accepted, in %) is below this is an anomaly: "
        "the Bureau's administrators get a task.",
    )
    batch_row_change_ratio: float = Field(
        0.5,
        gt=0,
        description="A batch that inserts, or retires (snapshot, delete), more rows than this share of the "
        "resource's live rows before it is an anomaly for the Bureau (a runaway or truncated export, a "
        "wrong key).",
    )
    batch_row_change_min_rows: int = Field(
        100,
        ge=1,
        description="Resources with fewer live rows than this before a batch are not judged by "
        "`batch_row_change_ratio` (a new or small resource grows as it likes).",
    )
    catalog_stale_days: int = Field(
        365,
        ge=30,
        description="A published catalog entry not reviewed for this many days is reported to the Bureau as "
        "not updated (M11, M24(1)).",
    )
    rectification_deadline_working_days: int = Field(
        10,
        ge=1,
        le=60,
        description="Default working days a department has to report on a rectification notice (M24), "
        "counted from the day after the notice is issued; the Bureau may set another number per notice.",
    )
    rectification_window_days: int = Field(
        30,
        ge=1,
        le=366,
        description="How far back violation detection looks for events: quarantined batches, feedback "
        "cases corrected as errors, refused calls for an undeclared purpose.",
    )
    rectification_returned_working_days: int = Field(
        10,
        ge=1,
        le=120,
        description="A catalog entry returned by the Bureau and not revised for this many working days "
        "is a violation (catalog not updated, M24(1)).",
    )
    rectification_late_days: int = Field(
        1,
        ge=0,
        le=365,
        description="A resource whose last batch is this many days past its update cycle is a violation "
        "(data not provided in time, M24(2)); a published resource never provided always is.",
    )
    rectification_purpose_mismatch_min: int = Field(
        1,
        ge=1,
        le=10_000,
        description="Refused calls for a purpose no grant declares, per consumer, resource and day, that "
        "make a violation (use beyond the declared purpose, M24(4)).",
    )
    rectification_report_max_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=10 * 1024 * 1024,
        description="Largest attachment (bytes) a department may add to a rectification report.",
    )
    sync_sqlite_dir: Path | None = Field(
        None,
        description="Directory where SQLite front-end exchange databases (前置库) may live; a SQLite sync "
        "source outside it is refused, so the platform's own files cannot be read through a sync. "
        "Default: `frontdb` in the data dir.",
    )
    sync_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs that front-end database hosts may be in although they are loopback, "
        "link-local, multicast or unspecified addresses (refused by default, so a registration cannot "
        'reach databases on the platform\'s own host), e.g. `["127.0.0.0/8"]` for a local test.',
    )
    sync_page_rows: int = Field(
        5000,
        ge=100,
        le=100_000,
        description="Rows a front-end database sync reads and commits at a time; the watermark advances "
        "after each such page, so a failed run resumes where it stopped.",
    )
    sync_timeout_seconds: int = Field(
        300,
        ge=5,
        description="Longest a front-end database may take to connect or to answer one page query "
        "(seconds); beyond it the run fails and resumes from its last committed page next time.",
    )
    sync_check_minutes: int = Field(
        5,
        ge=1,
        description="How often the scheduler looks for front-end database syncs that are due by their "
        "resource's update cycle (minutes); 实时 resources are synced at every check.",
    )
    service_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs that API-service endpoints may point into although they are loopback, "
        "link-local, multicast or unspecified addresses (refused by default, so a registration cannot reach "
        'the platform\'s own host or a cloud metadata service), e.g. `["127.0.0.0/8"]` for a local test.',
    )
    service_max_timeout_seconds: int = Field(
        30,
        ge=1,
        le=600,
        description="Longest an API-service upstream may take to answer a call completely (seconds); a "
        "registration may ask for less, never more.",
    )
    service_max_response_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Largest upstream answer relayed by an API-service call (bytes); the answer is read as "
        "it arrives and the call fails (502) once it is larger.",
    )
    service_default_rate_per_minute: int = Field(
        60,
        ge=1,
        description="Calls per minute one consumer department may make to one API service when its "
        "registration does not set its own limit.",
    )
    sharing_reply_working_days: int = Field(
        10,
        ge=1,
        le=60,
        description="Working days a provider department has to answer a conditional sharing request (M16), "
        "counted from the day after filing with the Chinese holiday calendar (docs/working-days.md).",
    )
    sharing_reply_stages: str = Field(
        "",
        description="Split of `sharing_reply_working_days` into consecutive stages, as comma-separated "
        "positive integers that add up to it, e.g. `2,5` (2 working days to accept, then 5 to answer) with "
        "`sharing_reply_working_days=7`. Empty: one stage.",
    )
    open_rate_limit_per_minute: int = Field(
        120,
        ge=1,
        description="Anonymous calls per minute one client address may make to the open-data API's data "
        "endpoints and downloads (the counter is in the platform database, shared by every instance); "
        "more get 429 with `Retry-After`.",
    )
    open_applications_per_hour: int = Field(
        5,
        ge=1,
        description="Applications for conditionally open resources one client address may submit per hour.",
    )
    open_masking_profile: str = Field(
        "open",
        description="Masking profile applied to every open-data delivery until the Bureau chooses one on the "
        "开放申请 page (its choice, stored in the database, wins).",
    )
    run_jobs: bool = Field(
        True, description="Run scheduled jobs (audit checkpoints, …) inside `govshare serve`."
    )

    @field_validator("service_allowed_networks", "sync_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                name = f"GOVSHARE_{(info.field_name or '').upper()}"
                raise ValueError(f"{name}: {cidr!r} is not a CIDR") from None
        return value

    @field_validator("sharing_reply_stages")
    @classmethod
    def _stages(cls, value: str) -> str:
        parse_stages(value)  # raises a ValueError that names the setting
        return value.strip()

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "GOVSHARE_TLS_CERT and GOVSHARE_TLS_KEY must be set together "
                "(a certificate and its private key)"
            )
        return self

    @model_validator(mode="after")
    def _stages_add_up(self) -> Settings:
        stages = parse_stages(self.sharing_reply_stages)
        if stages and sum(stages) != self.sharing_reply_working_days:
            raise ValueError(
                f"GOVSHARE_SHARING_REPLY_STAGES ({self.sharing_reply_stages}) adds up to {sum(stages)} "
                f"working days but GOVSHARE_SHARING_REPLY_WORKING_DAYS is {self.sharing_reply_working_days}: "
                "set both so that the stages add up to the total"
            )
        return self

    @property
    def reply_stages(self) -> list[int]:
        """The working days of each stage of a sharing reply, in order (one stage when not split)."""
        return parse_stages(self.sharing_reply_stages) or [self.sharing_reply_working_days]

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'govshare.db').resolve()}"

    @property
    def frontdb_dir(self) -> Path:
        return (self.sync_sqlite_dir or self.data_dir / "frontdb").resolve()

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def cookies_secure(self) -> bool:
        """Cookies carry `Secure` (and responses HSTS) in production and whenever the platform serves
        TLS itself; `GOVSHARE_SECURE_COOKIES=false` cannot take it away while TLS is on (and production
        refuses to start with it)."""
        if self.tls_enabled:
            return True
        return self.is_production if self.secure_cookies is None else self.secure_cookies

    def secret(self, name: str) -> str:
        """Return secret `name`; in development, generate it once and keep it in the data dir."""
        value: SecretStr | None = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        if self.is_production:
            raise RuntimeError(f"GOVSHARE_{name.upper()} must be set in production")
        path = self.data_dir / ".secrets" / name
        try:
            return _secret_file(path)  # one stat per call: the file's stamp tells whether it changed
        except FileNotFoundError:
            generated = (
                secrets.token_hex(32)
                if name in HEX_SECRETS
                else DEV_SECRET_PREFIX + secrets.token_urlsafe(40)
            )
            self.write_secret(name, generated)
        return _secret_file(path)

    def existing_secret(self, name: str) -> str | None:
        """Secret `name` if it is configured or was generated before; never generates one."""
        value: SecretStr | None = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        path = self.data_dir / ".secrets" / name
        return path.read_text().strip() if not self.is_production and path.exists() else None

    def development_secrets(self) -> dict[str, str]:
        """The secrets of this data dir that were generated for development (none in production)."""
        if self.is_production:
            return {}
        names = ("secret_key", *HEX_SECRETS)
        return {n: self.secret(n) for n in names if getattr(self, n) is None}

    def write_secret(self, name: str, value: str) -> None:
        """Store a development secret in the data dir (restoring a development backup)."""
        path = self.data_dir / ".secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(value)
        tmp.chmod(0o600)
        tmp.replace(path)

    @property
    def backups(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    def production_problems(self) -> list[str]:
        """Reasons this configuration must not run in production (empty when fine)."""
        problems: list[str] = []
        for name in ("secret_key", "audit_signing_key", "master_key", "backup_key"):
            value: SecretStr | None = getattr(self, name)
            env_name = f"GOVSHARE_{name.upper()}"
            if value is None:
                problems.append(f"{env_name} is not set")
                continue
            raw = value.get_secret_value()
            dev_file = self.data_dir / ".secrets" / name
            if raw.startswith(DEV_SECRET_PREFIX) or (
                dev_file.exists() and dev_file.read_text().strip() == raw
            ):
                problems.append(f"{env_name} is a development secret")
            elif name == "secret_key" and len(raw) < MIN_SECRET_LENGTH:
                problems.append(f"{env_name} is shorter than {MIN_SECRET_LENGTH} characters")
            elif name in HEX_SECRETS and not _is_hex(raw, 32):
                problems.append(f"{env_name} must be 64 hex digits (32 random bytes)")
        if name_is_sqlite(self.database):
            problems.append("GOVSHARE_DATABASE_URL must point to PostgreSQL in production")
        if self.secure_cookies is False:
            problems.append("GOVSHARE_SECURE_COOKIES cannot be off in production")
        return problems


def _is_hex(value: str, size: int) -> bool:
    try:
        return len(bytes.fromhex(value)) == size
    except ValueError:
        return False


def parse_stages(value: str) -> list[int]:
    """`"2,5"` → `[2, 5]`; empty → `[]`; anything but positive integers raises ValueError."""
    parts = [p.strip() for p in value.split(",")] if value.strip() else []
    if not all(p.isdecimal() and int(p) > 0 for p in parts):
        raise ValueError(
            f"GOVSHARE_SHARING_REPLY_STAGES must be positive whole numbers of working days separated by "
            f"commas, e.g. 2,5 (got {value!r})"
        )
    return [int(p) for p in parts]


def name_is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


_SECRET_FILES: dict[Path, tuple[tuple[int, int, int], str]] = {}


def _secret_file(path: Path) -> str:
    """The text of a development secret's file, read again only when the file changes (a restore
    replaces it): the data API reads the master key on every call."""
    st = path.stat()
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    kept = _SECRET_FILES.get(path)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    value = path.read_text().strip()
    _SECRET_FILES[path] = (stamp, value)
    return value

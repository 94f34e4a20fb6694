"""Settings: production refuses development secrets and demo accounts; every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from govshare.settings import Environment, Settings
from govshare.startup import AUTOGROUP, RefusedToStart, check_production, host_advice, production_problems

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
GOOD_SECRET = "k" * 48
GOOD_SM2 = "3" * 64
GOOD_MASTER = "5c" * 32
GOOD_BACKUP = "a7" * 32


def _prod(tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "env": Environment.production,
        "data_dir": tmp_path,
        "database_url": "postgresql+psycopg://govshare@db/govshare",
        "secret_key": GOOD_SECRET,
        "audit_signing_key": GOOD_SM2,
        "master_key": GOOD_MASTER,
        "backup_key": GOOD_BACKUP,
    }
    return Settings(**(base | values))  # type: ignore[arg-type]


def test_production_config_without_problems(tmp_path: Path) -> None:
    assert _prod(tmp_path).production_problems() == []


def test_production_refuses_missing_short_and_development_secrets(tmp_path: Path) -> None:
    assert "GOVSHARE_SECRET_KEY is not set" in _prod(tmp_path, secret_key=None).production_problems()
    assert any("shorter" in p for p in _prod(tmp_path, secret_key="short").production_problems())
    assert any(
        "development secret" in p for p in _prod(tmp_path, secret_key="dev-" + "x" * 40).production_problems()
    )
    dev = Settings(data_dir=tmp_path)
    generated = dev.secret("audit_signing_key")  # what a development run left in the data dir
    assert any(
        "development secret" in p for p in _prod(tmp_path, audit_signing_key=generated).production_problems()
    )
    assert "GOVSHARE_MASTER_KEY is not set" in _prod(tmp_path, master_key=None).production_problems()
    assert "GOVSHARE_BACKUP_KEY is not set" in _prod(tmp_path, backup_key=None).production_problems()
    assert any("64 hex" in p for p in _prod(tmp_path, backup_key="not-hex" * 10).production_problems())
    assert any("64 hex" in p for p in _prod(tmp_path, master_key="not-hex" * 10).production_problems())
    generated_master = dev.secret("master_key")
    assert any(
        "development secret" in p for p in _prod(tmp_path, master_key=generated_master).production_problems()
    )
    assert any("PostgreSQL" in p for p in _prod(tmp_path, database_url=None).production_problems())
    with pytest.raises(RuntimeError):
        _prod(tmp_path, secret_key=None).secret("secret_key")


def test_development_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    dev = Settings(data_dir=tmp_path)
    first = dev.secret("secret_key")
    assert first == Settings(data_dir=tmp_path).secret("secret_key") and len(first) > 40
    assert (tmp_path / ".secrets" / "secret_key").stat().st_mode & 0o077 == 0


def test_a_development_secret_rewritten_on_disk_is_read_again(tmp_path: Path) -> None:
    """Secret files are kept in memory between reads, but a restore that replaces one is seen."""
    dev = Settings(data_dir=tmp_path)
    first = dev.secret("master_key")
    assert dev.secret("master_key") == first
    dev.write_secret("master_key", "ab" * 32)
    assert dev.secret("master_key") == "ab" * 32
    assert Settings(data_dir=tmp_path).secret("master_key") == "ab" * 32


def test_production_refuses_to_start_with_demo_accounts(tmp_path: Path) -> None:
    from govshare.db import make_engine, unit_of_work
    from govshare.demo import service as demo
    from govshare.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
    upgrade(engine)
    settings = _prod(tmp_path)
    assert production_problems(settings, engine) == []
    with unit_of_work(engine) as db:
        demo.load(db, population=0)  # the accounts are what matters here
    assert any("demo accounts" in p for p in production_problems(settings, engine))
    with pytest.raises(RefusedToStart, match="demo accounts"):
        check_production(settings, engine)
    check_production(Settings(data_dir=tmp_path), engine)  # development mode never refuses
    engine.dispose()


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(GOVSHARE_[A-Z0-9_]+)`", text))
    fields = {f"GOVSHARE_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from docs/configuration.md"
    assert documented - fields == set(), "docs/configuration.md names settings that do not exist"


def test_refused_to_start_is_a_runtime_error() -> None:
    assert issubclass(RefusedToStart, RuntimeError)


def test_reply_stages_are_positive_working_days_that_add_up_to_the_period(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).reply_stages == [10]
    staged = Settings(data_dir=tmp_path, sharing_reply_working_days=7, sharing_reply_stages=" 2, 5 ")
    assert staged.reply_stages == [2, 5]
    for bad in ("2,,5", "2,-5", "two", "0,7", "2.5"):
        with pytest.raises(ValueError, match="positive whole numbers"):
            Settings(data_dir=tmp_path, sharing_reply_working_days=7, sharing_reply_stages=bad)
    with pytest.raises(
        ValueError, match="adds up to 7 working days but GOVSHARE_SHARING_REPLY_WORKING_DAYS is 10"
    ):
        Settings(data_dir=tmp_path, sharing_reply_stages="2,5")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://root@127.0.0.1:5432/govshare",
        "postgresql+psycopg://root@localhost/govshare",
        "postgresql+psycopg://root@[::1]:5432/govshare",
        "postgresql+psycopg:///govshare",  # the default Unix socket
        "postgresql+psycopg://root@/govshare?host=/var/run/postgresql",
    ],
)
def test_serve_advises_turning_process_grouping_off_when_postgresql_shares_the_host(
    tmp_path: Path, url: str
) -> None:
    grouping = tmp_path / "sched_autogroup_enabled"
    grouping.write_text("1\n")
    settings = Settings(data_dir=tmp_path, database_url=url)
    [advice] = host_advice(settings, grouping)
    assert "sysctl -w kernel.sched_autogroup_enabled=0" in advice
    assert "docs/configuration.md" in advice
    grouping.write_text("0\n")
    assert host_advice(settings, grouping) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://govshare@db.internal/govshare",  # a name: another machine
        "postgresql+psycopg://govshare@10.20.0.5:5432/govshare",
        "sqlite:///govshare.db",
    ],
)
def test_no_host_advice_for_a_database_elsewhere_or_sqlite(tmp_path: Path, url: str) -> None:
    grouping = tmp_path / "sched_autogroup_enabled"
    grouping.write_text("1\n")
    assert host_advice(Settings(data_dir=tmp_path, database_url=url), grouping) == []


def test_no_host_advice_where_the_kernel_has_no_process_grouping(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://root@127.0.0.1/govshare")
    assert host_advice(settings, tmp_path / "absent") == []


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="a kernel without automatic process grouping")
def test_the_grouping_switch_is_read_where_linux_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://root@127.0.0.1/govshare")
    grouped = AUTOGROUP.read_text().strip()
    assert grouped in {"0", "1"}
    assert len(host_advice(settings)) == int(grouped)

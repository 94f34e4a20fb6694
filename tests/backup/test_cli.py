"""`govshare backup`, `restore` and `restore-drill` as an operator runs them (real processes)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.test_cli import _cli


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bk-cli")
    assert _cli(path, "demo", "--rows", "200").returncode == 0
    return path


def test_backup_restore_round_trip(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "city.gsbackup"
    made = _cli(city, "backup", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "备份完成" in made.stdout and out.is_file()

    restored = tmp_path / "restored"
    result = _cli(restored, "restore", str(out))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "恢复完成" in result.stdout
    query = "SELECT count(*) FROM xres_1 WHERE _retired_at IS NULL"
    with sqlite3.connect(city / "govshare.db") as a, sqlite3.connect(restored / "govshare.db") as b:
        assert a.execute(query).fetchone() == b.execute(query).fetchone() == (200,)
        assert b.execute("SELECT count(*) FROM backup_runs WHERE kind = 'restore'").fetchone() == (1,)
    verified = _cli(restored, "audit", "verify")
    assert verified.returncode == 0, verified.stdout

    drill = _cli(city, "restore-drill", str(out))
    assert drill.returncode == 0 and "恢复演练通过" in drill.stdout

    again = _cli(restored, "restore", str(out))
    assert again.returncode == 1 and "空的数据目录" in again.stderr


def test_tampered_backup_is_refused_with_a_clear_message(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "city.gsbackup"
    assert _cli(city, "backup", "--out", str(out), "--scope", "database").returncode == 0
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    out.write_bytes(bytes(data))
    target = tmp_path / "target"
    refused = _cli(target, "restore", str(out))
    assert refused.returncode == 1
    assert "已损坏或被篡改" in refused.stderr and "未恢复任何数据" in refused.stderr
    assert not target.exists() or not [p for p in target.iterdir() if not p.name.startswith(".")]


@pytest.mark.skipif(not os.environ.get("GOVSHARE_TEST_DATABASE_URL"), reason="runs against PostgreSQL")
def test_backup_and_restore_on_postgresql(tmp_path: Path) -> None:
    """The same commands with GOVSHARE_DATABASE_URL on PostgreSQL: a platform backed up from one
    database restores into another, empty one, and its audit chain verifies there."""
    from sqlalchemy import create_engine, text

    from tests.conftest import _drop_database, _postgres_url

    base = os.environ["GOVSHARE_TEST_DATABASE_URL"]
    source, target = _postgres_url(base, "bkcli_src"), _postgres_url(base, "bkcli_dst")
    try:
        data = tmp_path / "source"
        assert _cli(data, "demo", "--rows", "100", GOVSHARE_DATABASE_URL=source).returncode == 0
        out = tmp_path / "pg.gsbackup"
        made = _cli(data, "backup", "--out", str(out), GOVSHARE_DATABASE_URL=source)
        assert made.returncode == 0, made.stderr
        restored = _cli(tmp_path / "target", "restore", str(out), GOVSHARE_DATABASE_URL=target)
        assert restored.returncode == 0, restored.stderr + restored.stdout
        verified = _cli(tmp_path / "target", "audit", "verify", GOVSHARE_DATABASE_URL=target)
        assert verified.returncode == 0, verified.stdout
        query = text("SELECT count(*) FROM exchange.res_1 WHERE _retired_at IS NULL")
        for url in (source, target):
            engine = create_engine(url)
            with engine.connect() as conn:
                assert conn.scalar(query) == 100
            engine.dispose()
    finally:
        _drop_database(source)
        _drop_database(target)

"""`govshare backup`, `restore` and `restore-drill` as an operator runs them (real processes)."""

from __future__ import annotations

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

"""Backup files end to end, in process: a platform with rows in its exchange store and a file is
backed up, damaged in every way a file can be, and restored into empty SQLite and PostgreSQL
targets (whichever the suite runs on) and into a scratch SQLite drill."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from govshare.backup import archive, core, snapshot
from govshare.backup.archive import BackupError
from govshare.crypto import SM2Signer
from govshare.db import make_engine, unit_of_work
from govshare.migrate import upgrade
from govshare.settings import Environment, Settings
from tests.conftest import _drop_database, _postgres_url

ON_POSTGRES = bool(os.environ.get("GOVSHARE_TEST_DATABASE_URL"))


@dataclass
class Platform:
    settings: Settings
    engine: Engine


def _database(tmp: Path, tag: str) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp / 'govshare.db'}"
    return _postgres_url(os.environ["GOVSHARE_TEST_DATABASE_URL"], tag)


def _platform(tmp: Path, tag: str, **extra: object) -> Platform:
    settings = Settings(data_dir=tmp, database_url=_database(tmp, tag), **extra)  # type: ignore[arg-type]
    return Platform(settings, make_engine(settings.database))


def _dispose(p: Platform) -> None:
    p.engine.dispose()
    if ON_POSTGRES:
        _drop_database(p.settings.database)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A demo city with 300 people in its store, a stored file, and a 查询项 index."""
    from govshare.demo import service as demo

    p = _platform(tmp_path_factory.mktemp("source"), "bk_source")
    upgrade(p.engine)
    with unit_of_work(p.engine) as db:
        demo.load(db, population=300)
    files = p.settings.data_dir / "files" / "7"
    files.mkdir(parents=True)
    (files / "report.pdf").write_bytes(os.urandom(300_000))
    (p.settings.data_dir / "empty.txt").write_bytes(b"")
    vault = p.settings.data_dir / ".keys"
    vault.mkdir()
    (vault / "resource-7.key").write_text("ab" * 32)
    yield p
    _dispose(p)


@pytest.fixture(scope="module")
def backup_file(source: Platform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "platform.gsbackup"
    result = core.create(source.engine, out, source.settings)
    assert result.rows > 300 and result.files == 2
    return out


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Platform]:
    p = _platform(tmp_path / "restored", "bk_target")
    yield p
    _dispose(p)


def _tables(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        return snapshot.checksums(conn)


def _visible_files(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_restore_brings_back_every_row_file_and_secret(
    source: Platform, backup_file: Path, target: Platform
) -> None:
    result = core.restore(backup_file, target.settings)
    assert result.rows == result.verified.rows
    # Every table (platform and exchange store) has the same rows as the source.
    assert _tables(target.engine) == _tables(source.engine)
    for rel in ("files/7/report.pdf", "empty.txt"):
        assert (target.settings.data_dir / rel).read_bytes() == (source.settings.data_dir / rel).read_bytes()
    # The development secrets came along: sealed values and pseudonyms still work.
    for name in ("master_key", "audit_signing_key", "secret_key", "backup_key"):
        assert target.settings.secret(name) == source.settings.secret(name)
    # …and so did its key vault (development only: docs/encryption.md).
    assert (target.settings.data_dir / ".keys" / "resource-7.key").read_text() == "ab" * 32
    # The audit chain verifies, and the restore can be appended to it.
    from govshare.audit.service import verify_chain

    with unit_of_work(target.engine) as db:
        assert verify_chain(db).ok
    # The store's 查询项 indexes were rebuilt under the target's names.
    with target.engine.connect() as conn:
        stores = snapshot.store_tables(conn)
        assert stores
        indexed = [
            t
            for _, t in stores
            if any(i["name"].startswith("iq_") for i in inspect(conn).get_indexes(t.name, schema=t.schema))
        ]
        assert indexed
        # Sequences continue after the restored ids (PostgreSQL) and search works (SQLite FTS).
        people = conn.scalar(text("SELECT count(*) FROM users"))
        assert people and people > 10


def test_restored_platform_accepts_new_rows(backup_file: Path, target: Platform) -> None:
    """Ids continue after the restored ones (PostgreSQL's sequences are set past them)."""
    from sqlalchemy import func, select

    from govshare.audit.events import EventType
    from govshare.audit.models import AuditEvent
    from govshare.audit.service import record
    from govshare.authz import Actor

    core.restore(backup_file, target.settings)
    with unit_of_work(target.engine) as db:
        before = db.scalar(select(func.max(AuditEvent.id)))
        record(db, EventType.backup_restored, actor=Actor.operator("test"), object_type="backup", object_id=1)
    with unit_of_work(target.engine) as db:
        assert db.scalar(select(func.max(AuditEvent.id))) == before + 1


@pytest.mark.parametrize(
    "damage",
    [
        "header",
        "wrapped key",
        "first frame",
        "middle",
        "last byte",
        "truncated",
        "appended",
        "frames swapped",
    ],
)
def test_damaged_backup_is_refused_and_restores_nothing(
    backup_file: Path, target: Platform, tmp_path: Path, damage: str
) -> None:
    data = bytearray(backup_file.read_bytes())
    header_end = (
        len(archive.MAGIC) + 4 + int.from_bytes(data[len(archive.MAGIC) : len(archive.MAGIC) + 4], "big")
    )
    if damage == "header":
        data[len(archive.MAGIC) + 30] ^= 0x01
    elif damage == "wrapped key":
        at = data.index(b'"wrapped_key":"') + 20
        data[at] = ord("A") if data[at] != ord("A") else ord("B")
    elif damage == "first frame":
        data[header_end + 10] ^= 0x80
    elif damage == "middle":
        data[len(data) // 2] ^= 0x01
    elif damage == "last byte":
        data[-1] ^= 0x01
    elif damage == "truncated":
        del data[-100:]
    elif damage == "appended":
        data += b"\0" * 8
    elif damage == "frames swapped":
        first = 5 + int.from_bytes(data[header_end + 1 : header_end + 5], "big")
        second_at = header_end + first
        second = 5 + int.from_bytes(data[second_at + 1 : second_at + 5], "big")
        a, b = bytes(data[header_end:second_at]), bytes(data[second_at : second_at + second])
        if b[0] == 1:  # a one-frame backup: swap is impossible, flip the flag instead
            data[header_end] = 1
        else:
            data[header_end : second_at + second] = b + a
    bad = tmp_path / "bad.gsbackup"
    bad.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        core.restore(bad, target.settings)
    assert _visible_files(target.settings.data_dir) == []
    assert core.target_problems(target.settings) == []  # no database file, no tables


def test_backup_needs_the_same_key_and_a_trusted_signer(
    backup_file: Path, target: Platform, tmp_path: Path
) -> None:
    header = archive.read_header(backup_file)
    production = dict(
        env=Environment.production,
        secret_key="p" * 40,
        audit_signing_key="3" * 64,
        master_key="5c" * 32,
        backup_key="a7" * 32,
    )
    # A development backup carries development secrets: production refuses it.
    prod = Settings(data_dir=tmp_path / "p", database_url=target.settings.database, **production)  # type: ignore[arg-type]
    with pytest.raises(BackupError, match="development"):
        core.verify(backup_file, prod)
    # A production backup opens only with its backup key.
    assert "development_secrets" in header
    source_dir = tmp_path / "prod-source"
    shutil.copytree(backup_file.parent, source_dir)
    made = _production_backup(tmp_path, production)
    other_key = Settings(**(production | {"backup_key": "b8" * 32, "data_dir": tmp_path / "q"}))  # type: ignore[arg-type]
    with pytest.raises(BackupError, match="key id"):
        core.verify(made, other_key)
    # Someone who holds the backup key but not the signing key cannot pass off a backup of their own.
    forger = Settings(**(production | {"audit_signing_key": "4" * 64, "data_dir": tmp_path / "f"}))  # type: ignore[arg-type]
    forged = _production_backup(tmp_path, production | {"audit_signing_key": "4" * 64}, name="forged")
    assert core.verify(forged, forger).rows > 0
    with pytest.raises(BackupError, match="signature"):
        core.verify(forged, Settings(**(production | {"data_dir": tmp_path / "r"})))  # type: ignore[arg-type]
    # …unless the operator names the signer's public key explicitly.
    assert core.verify(
        forged,
        Settings(**(production | {"data_dir": tmp_path / "r"})),
        public_key=SM2Signer("4" * 64).public_key_hex,
    )


def _production_backup(tmp_path: Path, secrets: dict[str, object], name: str = "prod") -> Path:
    """A small production-mode platform (empty schema) backed up with `secrets`."""
    settings = Settings(
        data_dir=tmp_path / f"{name}-data", database_url=f"sqlite:///{tmp_path / name}.db", **secrets
    )  # type: ignore[arg-type]
    engine = make_engine(settings.database)
    upgrade(engine)
    out = tmp_path / f"{name}.gsbackup"
    core.create(engine, out, settings, scope="database")
    engine.dispose()
    assert not {"development_secrets", "development_vault"} & set(archive.read_header(out))
    return out


def test_restore_refuses_a_target_that_is_not_empty(backup_file: Path, target: Platform) -> None:
    target.settings.data_dir.mkdir(parents=True)
    (target.settings.data_dir / "keep-me.txt").write_text("mine")
    with pytest.raises(BackupError, match="empty"):
        core.restore(backup_file, target.settings)
    assert (target.settings.data_dir / "keep-me.txt").read_text() == "mine"


def test_drill_restores_into_scratch_sqlite_and_matches_the_manifest(
    source: Platform, backup_file: Path
) -> None:
    # On PostgreSQL this is also the cross-database path: PostgreSQL rows checked in SQLite.
    result = core.drill(backup_file, source.settings)
    assert result.ok, result.mismatches
    assert result.rows == result.verified.rows and result.files == 2


def test_backup_destroy_restore(source: Platform, tmp_path: Path, target: Platform) -> None:
    """The disaster drill: back up, lose the data, restore, and find every row again."""
    out = tmp_path / "before.gsbackup"
    core.create(source.engine, out, source.settings, scope="database")
    with source.engine.connect() as conn:
        store = snapshot.store_tables(conn)[0][1]
        before = conn.scalar(
            text(f"SELECT count(*) FROM {conn.dialect.identifier_preparer.format_table(store)}")
        )
    assert before
    with source.engine.begin() as conn:
        conn.execute(store.delete())  # lost
    try:
        core.restore(out, target.settings)
        with target.engine.connect() as conn:
            restored = dict(snapshot.store_tables(conn))[int(store.name.rsplit("_", 1)[1])]
            assert (
                conn.scalar(
                    text(f"SELECT count(*) FROM {conn.dialect.identifier_preparer.format_table(restored)}")
                )
                == before
            )
    finally:
        # Put the source back for the other tests of the module.
        core_settings = target.settings
        with target.engine.connect() as conn, source.engine.begin() as dst:
            restored = dict(snapshot.store_tables(conn))[int(store.name.rsplit("_", 1)[1])]
            rows = [dict(r._mapping) for r in conn.execute(restored.select())]
            dst.execute(store.insert(), rows)
        assert core_settings


def test_an_entry_larger_than_a_frame_spans_several_frames(tmp_path: Path) -> None:
    """A published report's PDF makes one entry larger than a frame: it is split, never refused."""
    key = os.urandom(32)
    path = tmp_path / "big.gsbackup"
    blob = base64.b64encode(os.urandom(3 * archive.CHUNK_BYTES)).decode()  # incompressible
    with path.open("wb") as out:
        writer = archive.ArchiveWriter(out, {"kind": "test"}, key)
        writer.entry({"n": 1, "blob": blob})
        writer.entry({"n": 2})
        writer.close()
    assert [e["n"] for e in archive.entries(path, key)] == [1, 2]
    assert next(archive.entries(path, key))["blob"] == blob

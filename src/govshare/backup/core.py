"""Backup, verify, restore and drill one backup file (no records here: see `service.py`)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table, inspect, make_url

from govshare.backup import archive, snapshot
from govshare.backup.archive import BackupError, canonical
from govshare.crypto import SM2Signer, sm2_verify, sm3_hex
from govshare.db import make_engine
from govshare.exchange import store
from govshare.migrate import alembic_config
from govshare.settings import Settings

SCOPES = ("full", "database")
Progress = snapshot.Progress


def _hasher() -> Any:
    return hashlib.new("sm3")


class _Counting:
    """A file wrapper that hashes (SM3) what is written through it."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.hash = _hasher()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return self.f.write(data)


@dataclass
class BackupResult:
    path: Path
    size: int
    sm3: str
    created_at: datetime
    tables: int
    rows: int
    files: int
    seconds: float


def create(
    engine: Engine, out: Path, settings: Settings, *, scope: str = "full", progress: Progress | None = None
) -> BackupResult:
    """Write a backup of the platform at `engine` (and, for scope `full`, the data dir's files) to
    `out`, atomically: the file appears complete or not at all."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    started = time.monotonic()
    backup_key = bytes.fromhex(settings.secret("backup_key"))
    signer = SM2Signer(settings.secret("audit_signing_key"))
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.{secrets.token_hex(4)}.part")
    created_at = datetime.now(UTC)
    conn = snapshot.read_snapshot(engine)
    try:
        header: dict[str, Any] = {
            "created_at": created_at.isoformat(),
            "platform": _version(),
            "dialect": engine.dialect.name,
            "revision": MigrationContext.configure(conn).get_current_revision(),
            "scope": scope,
            "signer_public_key": signer.public_key_hex,
        }
        development = settings.development_secrets()
        if development:
            header["development_secrets"] = development
            vault_secrets = _development_vault(settings)
            if vault_secrets:
                header["development_vault"] = vault_secrets
        manifest = snapshot.Manifest()
        rows = 0
        with part.open("wb") as raw:
            sink = _Counting(raw)
            writer = archive.ArchiveWriter(sink, header, backup_key)  # type: ignore[arg-type]
            for dump in snapshot.tables(conn):
                table_entry = {
                    "k": "table",
                    "name": dump.name,
                    "scope": dump.scope,
                    "columns": dump.columns,
                    "codecs": dump.codecs,
                    **dump.extra,
                }
                writer.entry(table_entry)
                total = snapshot.TableSum()
                for batch in dump.rows:
                    for line in batch:
                        total.add(line)
                    writer.write_line(b'{"k":"rows","rows":[' + b",".join(batch) + b"]}\n")
                    if progress:
                        progress(dump.name, len(batch))
                # The table's layout (columns, codecs, types …) is signed with its rows: remapping
                # columns would otherwise change what the rows mean without touching their sums.
                manifest.tables[dump.name] = {**total.as_dict(), "layout": sm3_hex(canonical(table_entry))}
                rows += total.rows
            conn.rollback()
            if scope == "full":
                excluded = snapshot.sqlite_files(settings.database) | {settings.backups.resolve()}
                for rel, path in snapshot.data_files(settings.data_dir, excluded):
                    try:
                        manifest.files[rel] = _write_file(writer, rel, path)
                    except FileNotFoundError:
                        continue
                    if progress:
                        progress("文件 " + rel, 0)
            signed = manifest.as_dict(writer.header_sm3)
            writer.entry({"k": "end", "manifest": signed, "signature": signer.sign(canonical(signed))})
            writer.close()
            raw.flush()
            os.fsync(raw.fileno())
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    return BackupResult(
        path=out,
        size=out.stat().st_size,
        sm3=sink.hash.hexdigest(),
        created_at=created_at,
        tables=len(manifest.tables),
        rows=rows,
        files=len(manifest.files),
        seconds=time.monotonic() - started,
    )


def _development_vault(settings: Settings) -> dict[str, str]:
    """The key vault of a development platform whose vault lives in its data dir (the default):
    carried like its other development secrets. A configured `GOVSHARE_KEY_DIR`, and production,
    keep the vault out of every backup (crypto-shredding depends on it; docs/encryption.md)."""
    if settings.is_production or settings.key_dir is not None:
        return {}
    folder = settings.data_dir / ".keys"
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text().strip() for p in sorted(folder.glob("resource-*.key"))}


def _write_file(writer: archive.ArchiveWriter, rel: str, path: Path) -> dict[str, Any]:
    digest = _hasher()
    size = 0
    with path.open("rb") as f:  # opened first: a file deleted since the listing is left out
        writer.entry({"k": "file", "path": rel})
        while piece := f.read(snapshot.FILE_PIECE):
            digest.update(piece)
            size += len(piece)
            writer.entry({"k": "data", "b": base64.b64encode(piece).decode()})
    return {"size": size, "sm3": digest.hexdigest()}


def _version() -> str:
    from govshare import __version__

    return __version__


# --- verifying ---------------------------------------------------------------------------------


@dataclass
class Verified:
    path: Path
    header: dict[str, Any]
    manifest: dict[str, Any]
    backup_key: bytes
    columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.manifest["tables"].values())


def backup_key_for(header: dict[str, Any], settings: Settings) -> bytes:
    """The backup key that opens `header`'s backup: the configured one, or (development) the one the
    backup carries or this data dir's. Never generates a key."""
    development = header.get("development_secrets") or {}
    if development and settings.is_production:
        raise BackupError(
            "这是开发环境生成的备份（携带开发密钥），不能在生产环境恢复",
            "a development backup (carrying development secrets) cannot be restored in production",
        )
    candidates = [settings.existing_secret("backup_key"), development.get("backup_key")]
    for candidate in candidates:
        if candidate and archive.key_id(bytes.fromhex(candidate)) == header.get("key_id"):
            return bytes.fromhex(candidate)
    raise BackupError(
        f"无法解密：请配置创建该备份时使用的 GOVSHARE_BACKUP_KEY（密钥标识 {header.get('key_id')}）",
        f"cannot decrypt: configure the backup key it was made with (key id {header.get('key_id')})",
    )


def _trusted_public_key(header: dict[str, Any], settings: Settings, public_key: str | None) -> str:
    """The SM2 public key the manifest must be signed with: given, configured, or (development)
    the signing key the backup carries or this data dir's."""
    if public_key:
        return public_key
    development = header.get("development_secrets") or {}
    signing = (
        (settings.audit_signing_key.get_secret_value() if settings.audit_signing_key else None)
        or development.get("audit_signing_key")
        or settings.existing_secret("audit_signing_key")
    )
    if signing:
        return SM2Signer(signing).public_key_hex
    raise BackupError(
        "无法核验备份签名：请配置 GOVSHARE_AUDIT_SIGNING_KEY，或用 --public-key 指定签名公钥",
        "cannot check the backup's signature: configure GOVSHARE_AUDIT_SIGNING_KEY or pass --public-key",
    )


def verify(path: Path, settings: Settings, *, public_key: str | None = None) -> Verified:
    """Read the whole backup without writing anything: every frame authenticates, every table and
    file matches the manifest, and the manifest's SM2 signature is valid under a trusted key."""
    if not path.is_file():
        raise BackupError(f"找不到备份文件：{path}", f"no backup file at {path}")
    header = archive.read_header(path)
    key = backup_key_for(header, settings)
    trusted = _trusted_public_key(header, settings, public_key)
    sums: dict[str, snapshot.TableSum] = {}
    columns: dict[str, list[str]] = {}
    layouts: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    current: snapshot.TableSum | None = None
    digest: Any = None
    file_name = ""
    end: dict[str, Any] | None = None
    for entry in archive.entries(path, key):
        kind = entry.get("k")
        if end is not None:
            raise archive._damaged("清单之后还有数据")
        if kind == "table":
            current = sums[entry["name"]] = snapshot.TableSum()
            columns[entry["name"]] = entry["columns"]
            layouts[entry["name"]] = sm3_hex(canonical(entry))
        elif kind == "rows" and current is not None:
            for row in entry["rows"]:
                current.add(canonical(row))
        elif kind == "file":
            file_name = entry["path"]
            digest = _hasher()
            files[file_name] = {"size": 0, "sm3": digest.hexdigest()}
        elif kind == "data" and digest is not None:
            piece = base64.b64decode(entry["b"])
            digest.update(piece)
            files[file_name]["size"] += len(piece)
            files[file_name]["sm3"] = digest.hexdigest()
        elif kind == "end":
            end = entry
        else:
            raise archive._damaged(f"未知条目 {kind!r}")
    if end is None:
        raise archive._damaged("缺少清单")
    manifest = end["manifest"]
    if manifest.get("header_sm3") != sm3_hex(canonical(header)):
        raise archive._damaged("清单与文件头不符")
    if header.get("signer_public_key") != trusted or not sm2_verify(
        trusted, canonical(manifest), str(end.get("signature"))
    ):
        raise BackupError(
            "备份清单的签名无效或不是由受信任的密钥签署，拒绝恢复",
            "the manifest's signature is invalid or not made by a trusted key",
        )
    # Backups made before 2026-11-30 sign no layout; later ones do, and it must match.
    found = {
        n: {**s.as_dict(), **({"layout": layouts[n]} if "layout" in manifest["tables"].get(n, {}) else {})}
        for n, s in sums.items()
    }
    if found != manifest["tables"]:
        raise archive._damaged("数据表与清单不符")
    if files != manifest["files"]:
        raise archive._damaged("文件与清单不符")
    return Verified(path, header, manifest, key, columns)


# --- restoring ---------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    verified: Verified
    tables: int
    rows: int
    files: int
    seconds: float
    mismatches: list[str] = field(default_factory=list)


def _known_revision(revision: str | None) -> str:
    script = ScriptDirectory.from_config(alembic_config())
    try:
        found = script.get_revision(revision) if revision else None
    except Exception:  # alembic raises several kinds of error for an unknown id
        found = None
    if found is not None and revision:
        return revision
    raise BackupError(
        f"备份来自更新版本的 GovShare（数据库结构版本 {revision}），请先升级本平台再恢复",
        f"the backup comes from a newer GovShare (schema revision {revision}); upgrade first",
    )


def _migrate(conn: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


def target_problems(settings: Settings) -> list[str]:
    """Why the configured data dir and database are not an empty place to restore into."""
    problems = []
    data_dir = settings.data_dir
    if data_dir.exists():
        visible = sorted(p.name for p in data_dir.iterdir() if not p.name.startswith("."))
        if visible:
            problems.append(f"数据目录 {data_dir} 不为空（{', '.join(visible[:5])}）")
    url = settings.database
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and Path(database).exists() and Path(database).stat().st_size:
            problems.append(f"数据库文件 {database} 已存在")
    else:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                inspector = inspect(conn)
                if inspector.get_table_names():
                    problems.append("目标 PostgreSQL 数据库中已有数据表")
                if store.SCHEMA_PG in inspector.get_schema_names() and inspector.get_table_names(
                    schema=store.SCHEMA_PG
                ):
                    problems.append("目标 PostgreSQL 数据库中已有交换库数据表")
        finally:
            engine.dispose()
    return problems


def _load(
    verified: Verified,
    conn: Connection,
    files_dir: Path | None,
    *,
    progress: Progress | None,
    compare_checksums: bool,
) -> tuple[dict[str, int], list[str]]:
    """Load the backup into `conn` (in its transaction) at the backup's revision; returns counts
    and mismatches against the manifest (counts always; checksums when asked)."""
    revision = _known_revision(verified.header.get("revision"))
    _migrate(conn, revision)
    loader = snapshot.Loader(conn, files_dir, progress)
    for entry in archive.entries(verified.path, verified.backup_key):
        kind = entry["k"]
        if kind == "table":
            loader.table(entry)
        elif kind == "rows":
            loader.rows(entry["rows"])
        elif kind == "file":
            loader.file(entry)
        elif kind == "data":
            loader.data(entry["b"])
    loader.finish()
    snapshot.after_load(conn)
    mismatches = []
    expected = verified.manifest["tables"]
    for name, want in expected.items():
        if loader.counts.get(name, 0) != want["rows"]:
            mismatches.append(f"{name}: {loader.counts.get(name, 0)} 行，清单为 {want['rows']} 行")
    if compare_checksums and not mismatches:
        got = _checksums(conn, verified)
        for name, want in expected.items():
            sums = {k: v for k, v in want.items() if k != "layout"}  # (the layout was checked at verify)
            if got.get(name) != sums:
                mismatches.append(f"{name}: 校验和与清单不符")
    if files_dir is not None:
        for rel, want in verified.manifest["files"].items():
            path = files_dir / rel
            digest = _hasher()
            digest.update(path.read_bytes() if path.is_file() else b"")
            if not path.is_file() or {"size": path.stat().st_size, "sm3": digest.hexdigest()} != want:
                mismatches.append(f"文件 {rel} 与清单不符")
    _migrate(conn, "head")
    return loader.counts, mismatches


def _checksums(conn: Connection, verified: Verified) -> dict[str, dict[str, Any]]:
    """Count and checksum each table of the backup as restored in `conn`, columns in the backup's
    order."""
    metadata = MetaData()
    metadata.reflect(conn)
    stores = dict(snapshot.store_tables(conn))
    out = {}
    for name, columns in verified.columns.items():
        table: Table = (
            stores[int(name.split(":", 1)[1])] if name.startswith("store:") else metadata.tables[name]
        )
        out[name] = snapshot.TableSum.of(snapshot.rows(conn, table, [table.c[c] for c in columns])).as_dict()
    return out


def restore(
    path: Path, settings: Settings, *, public_key: str | None = None, progress: Progress | None = None
) -> RestoreResult:
    """Restore a backup into the (empty) data dir and database of `settings`. Nothing is written
    until the whole file has been verified; a failure half-way leaves the target as it was."""
    started = time.monotonic()
    verified = verify(path, settings, public_key=public_key)
    problems = target_problems(settings)
    if problems:
        raise BackupError(
            "只能恢复到空的数据目录和数据库：" + "；".join(problems),
            "a backup restores only into an empty data dir and database",
        )
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    sqlite_target = settings.database.startswith("sqlite")
    try:
        url = f"sqlite:///{staging / 'govshare.db'}" if sqlite_target else settings.database
        engine = make_engine(url)
        try:
            with engine.connect() as conn, conn.begin():
                counts, mismatches = _load(
                    verified, conn, staging / "files", progress=progress, compare_checksums=False
                )
                if mismatches:
                    raise BackupError(
                        "恢复结果与清单不符，已撤销：" + "；".join(mismatches[:5]),
                        "the restored data does not match the manifest; rolled back",
                    )
        finally:
            engine.dispose()
        if sqlite_target:
            database = Path(str(make_url(settings.database).database))
            database.parent.mkdir(parents=True, exist_ok=True)
            (staging / "govshare.db").replace(database)
        files = staging / "files"
        if files.exists():
            for child in files.iterdir():
                child.replace(data_dir / child.name)
        for name, value in (verified.header.get("development_secrets") or {}).items():
            if getattr(settings, name, None) is None:
                settings.write_secret(name, value)
        _restore_vault(settings, verified.header.get("development_vault") or {})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RestoreResult(
        verified=verified,
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(verified.manifest["files"]),
        seconds=time.monotonic() - started,
    )


def _restore_vault(settings: Settings, secrets_by_file: dict[str, str]) -> None:
    if not secrets_by_file:
        return
    folder = settings.key_dir or settings.data_dir / ".keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, value in secrets_by_file.items():
        if not (name.startswith("resource-") and name.endswith(".key") and "/" not in name):
            raise BackupError("备份中的密钥库文件名异常", "unexpected key vault entry in the backup")
        path = folder / name
        if not path.exists():
            path.write_text(value)
            path.chmod(0o600)


@dataclass
class DrillResult:
    verified: Verified
    ok: bool
    tables: int
    rows: int
    files: int
    seconds: float
    mismatches: list[str]


def drill(path: Path, settings: Settings, *, progress: Progress | None = None) -> DrillResult:
    """Restore the backup into a scratch SQLite database and directory, compare every table's count
    and checksum and every file's digest with the manifest, and throw the scratch copy away."""
    started = time.monotonic()
    verified = verify(path, settings)
    with tempfile.TemporaryDirectory(prefix="govshare-drill-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'drill.db'}")
        try:
            with engine.connect() as conn, conn.begin():
                counts, mismatches = _load(
                    verified, conn, Path(scratch) / "files", progress=progress, compare_checksums=True
                )
        finally:
            engine.dispose()
    return DrillResult(
        verified=verified,
        ok=not mismatches,
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(verified.manifest["files"]),
        seconds=time.monotonic() - started,
        mismatches=mismatches,
    )

"""Destruction, backups, the audit chain and abuse detection at their edges (S10–S12, S19, S21,
S28): quarantined copies destroyed and kept readable as asked, checkpoints that must be there, a
backup's table layout under its signature, and detection rules that a cursor or a service call
once slipped past."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from govshare.backup import archive, core
from govshare.backup.archive import BackupError
from govshare.crypto import sm3, sm4_gcm_encrypt
from govshare.exchange.models import QuarantinedRow
from tests.conftest import settings_override
from tests.destruction.helpers import approve_all, file_request
from tests.exchange.test_ingest import csv_body, idn, line, push
from tests.exchange.test_services import call, licences, local, registered, upstream  # noqa: F401
from tests.helpers import bearer, login
from tests.protection.helpers import alerts, scan, set_rule, start_at_end
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows

# --- 1. destruction by key leaves quarantined rows of encrypted key items ---------------------------


def test_destruction_by_key_removes_quarantined_rows_whose_key_item_is_encrypted(client, city, db) -> None:
    """Ingest stores a quarantined row's encrypted items as ciphertext (`_Applier._quarantined`);
    `execution._quarantined` re-parses those values as plain business keys, fails, and skips the row:
    the quarantined copy of the person's data survives a destruction that names their key."""
    from tests.encryption.test_encryption import encrypt_level

    encrypt_level(db)  # ID numbers (L3) are stored encrypted
    population = loaded(client, db)
    police = login(client, "police_admin")
    odd = idn("130102", "19990909", "111")
    pushed = push(client, police, population.id, csv_body(line(odd, gender="X")))  # valid key, bad gender
    assert pushed.status_code == 201 and pushed.json()["quarantined"] == 1
    [kept] = db.scalars(select(QuarantinedRow).where(QuarantinedRow.resource_id == population.id)).all()
    assert kept.row_key is not None  # ingest knew the row's business key

    filed = file_request(
        client, db, "police", population.id, scope="keys", method="delete", keys=[{"id_number": odd}]
    )
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "police", filed.json()["id"])

    assert done["quarantined_removed"] == 1
    left = db.scalars(select(QuarantinedRow).where(QuarantinedRow.resource_id == population.id)).all()
    assert left == []


# --- 2. deleting signed checkpoints lets a rewritten chain verify -----------------------------------


def test_a_rewritten_chain_with_its_checkpoints_deleted_does_not_verify(db, operator) -> None:
    """`verify_chain` checks only the checkpoints that are still there: whoever can write the
    database deletes `audit_checkpoints`, rewrites any event (before the last checkpoint too),
    recomputes the hashes and the head, and verification reports ok."""
    with settings_override(audit_checkpoint_every=5):
        for i in range(11):
            audit.record(db, EventType.user_updated, actor=operator, object_type="users", object_id=i)
        db.flush()
        assert audit.verify_chain(db).ok and db.scalar(select(AuditCheckpoint.id).limit(1)) is not None
        rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        rows[1].actor_name = "mallory"  # an early event, long signed
        prev = audit.GENESIS_HASH
        for row in rows:
            row.prev_hash = prev
            row.hash = audit.event_hash(prev, row)
            prev = row.hash
        db.execute(delete(AuditCheckpoint))
        db.execute(update(AuditHead).values(last_hash=prev, last_checkpoint_seq=0, last_checkpoint_at=None))
        db.flush()
        assert not audit.verify_chain(db).ok


# --- 3. a backup's table layout is outside the signed manifest --------------------------------------


def _rewrite(path: Path, out: Path, backup_key: bytes, change) -> None:  # type: ignore[no-untyped-def]
    """Re-encrypt the backup's entries, changed by `change`, under its own header and data key (what
    someone holding the backup key, but not the signing key, can do)."""
    header = archive.read_header(path)
    data_key = archive.unwrap_key(header, backup_key)
    raw = archive.canonical(header)
    entries = [change(e) for e in archive.entries(path, backup_key)]
    stream = zlib.compress(
        b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in entries)
    )
    digest = sm3(raw)
    with out.open("wb") as f:
        f.write(archive.MAGIC + archive._LENGTH.pack(len(raw)) + raw)
        pieces = [stream[i : i + archive.CHUNK_BYTES] for i in range(0, len(stream), archive.CHUNK_BYTES)]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            blob = sm4_gcm_encrypt(data_key, piece, archive._aad(digest, index, last))
            f.write(archive._FRAME.pack(int(last), len(blob)) + blob)


def test_a_backup_whose_columns_were_remapped_is_refused(tmp_path: Path) -> None:
    """The manifest signs each table's row count and checksum, but not the table entry's `columns`
    (nor `resource_id`, `codecs`, `types`): swapping two column names moves every value into the
    other column at restore, and the backup still verifies (the drill checksums in the same order)."""
    from tests.backup.test_backup import _production_backup

    production = dict(
        env="production",
        secret_key="p" * 40,
        audit_signing_key="3" * 64,
        master_key="5c" * 32,
        backup_key="a7" * 32,
    )
    made = _production_backup(tmp_path, production)
    from govshare.settings import Settings

    settings = Settings(data_dir=tmp_path / "check", database_url=f"sqlite:///{tmp_path}/x.db", **production)  # type: ignore[arg-type]
    assert core.verify(made, settings).manifest["tables"]["classification_levels"]["rows"]

    def swap(entry):  # type: ignore[no-untyped-def]
        # L4 (never shared, encrypted) comes back shareable and stored in clear, and so on.
        if entry.get("k") == "table" and entry["name"] == "classification_levels":
            cols = list(entry["columns"])
            a, b = cols.index("shareable"), cols.index("encrypted")
            cols[a], cols[b] = cols[b], cols[a]
            entry = {**entry, "columns": cols}
        return entry

    tampered = tmp_path / "tampered.gsbackup"
    _rewrite(made, tampered, bytes.fromhex("a7" * 32), swap)
    with pytest.raises(BackupError):
        core.verify(tampered, settings)


# --- 4. key enumeration evaded with any cursor -------------------------------------------------------


def test_key_enumeration_is_not_evaded_by_sending_a_cursor(client, city, db) -> None:
    """`_single_lookup` ignores every call with a cursor (`page`): one cursor, taken from an
    unfiltered first page, makes every later `id_number=…` lookup invisible to the rule."""
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name", "region_code"])
    cursor = rows(client, population, civil, limit=1).json()["next_cursor"]
    assert cursor
    start_at_end(db)
    set_rule(db, "key_enumeration", lookups=4, misses=100, minutes=10)
    for number in PEOPLE[:4]:  # four distinct single-value lookups
        assert rows(client, population, civil, id_number=number, cursor=cursor).status_code == 200
    scan(db)
    assert len(alerts(db, "key_enumeration")) == 1


# --- 5. refused API-service calls never count towards denial_burst -------------------------------------


def test_refused_service_calls_count_towards_a_denial_burst(
    client,
    city,
    db,
    licences,  # noqa: F811 (fixtures of tests/exchange/test_services.py)
    upstream,  # noqa: F811
    local,  # noqa: F811
) -> None:
    """A call of another department's API service without a grant is refused (403) and recorded as
    `data.service_called` (outcome denied) with `keep_changes`, so no `access.denied` is written — and
    `denial_burst` counts neither: probing services without grants never raises an alert."""
    registered(client, licences, upstream)
    start_at_end(db)
    set_rule(db, "denial_burst", count=3, minutes=10)
    system = bearer(city.tokens["police-hukou"])
    for n in range(3):
        refused = call(client, system, licences, licence_no=str(n))
        assert refused.status_code == 403 and refused.json()["error"]["details"]["reason"] == "grant_required"
    scan(db)
    assert len(alerts(db, "denial_burst")) == 1


# --- 6. a partial destruction makes other people's quarantined rows unreadable ---------------------------


def test_a_partial_destruction_leaves_other_quarantined_rows_readable(client, city, db) -> None:
    """A partial destruction of a resource with encrypted items rotates its data key and erases the old
    versions (`_shred_keys` → `rotate_resource`), but `cells.reencrypt` rewrites only the store table:
    quarantined rows keep cells under the erased version, so rows the request never named lose their
    encrypted values (the provider sees 密钥已销毁 and can no longer fix and resend them)."""
    from tests.encryption.test_encryption import encrypt_level

    encrypt_level(db)
    population = loaded(client, db)
    police = login(client, "police_admin")
    other = idn("130102", "19990909", "111")
    pushed = push(client, police, population.id, csv_body(line(other, gender="X")))
    assert pushed.status_code == 201 and pushed.json()["quarantined"] == 1
    url = f"/api/v1/resources/{population.id}/batches/{pushed.json()['batch_id']}/quarantine"
    before = client.get(url, headers=police).json()["items"]
    assert before[0]["data"]["id_number"] == other

    filed = file_request(
        client, db, "police", population.id, scope="keys", method="delete", keys=[{"id_number": PEOPLE[0]}]
    )
    assert filed.status_code == 201, filed.text
    done = approve_all(client, "police", filed.json()["id"])
    assert done["rows_removed"] == 1 and done["quarantined_removed"] == 0

    after = client.get(url, headers=police).json()["items"]
    assert after[0]["data"]["id_number"] == other

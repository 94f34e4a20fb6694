"""Encryption at rest of the store's most sensitive items: ciphertext in the database, plaintext to
those entitled, equality through blind indexes, quarantine, migration when an item's level changes,
rotation and destruction of keys (S17, S20, S28)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, MetaData, String, Table, Text, select, update
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.classification import scheme
from govshare.classification.models import ClassificationLevel
from govshare.encryption import cells, keys, service, vault
from govshare.encryption.models import DataKey
from govshare.exchange import store
from govshare.exchange.access import published_items
from tests.exchange.test_ingest import BAD, csv_body, line, push
from tests.helpers import actor, login
from tests.sharing.test_requests import PURPOSE
from tests.sharing.test_rows import PEOPLE, granted, loaded, rows


def encrypt_level(db: Session, code: str = "L3") -> None:
    """The Bureau's scheme marks sensitivity level `code` 须加密存储."""
    level = db.scalar(
        select(ClassificationLevel).where(
            ClassificationLevel.dimension == "sensitivity", ClassificationLevel.code == code
        )
    )
    assert level is not None
    level.encrypted = True
    db.flush()
    scheme.forget(db)


@pytest.fixture
def l3_encrypted(db: Session) -> Iterator[None]:
    encrypt_level(db)
    yield


def _raw(db: Session, resource: Resource, *names: str) -> dict[str, dict[str, str | None]]:
    """The stored text of columns, by `_key`, read past the store's types."""
    table = store.table_for(db, resource.id, [])
    raw = Table(
        table.name,
        MetaData(),
        Column("_key", String(64), primary_key=True),
        *(Column(n, Text) for n in names),
        schema=table.schema,
    )
    return {r._key: dict(r._mapping) for r in db.execute(select(raw))}


def test_l3_items_are_ciphertext_at_rest_and_plain_to_the_entitled(client, city, db, l3_encrypted) -> None:
    population = loaded(client, db)
    stored = _raw(db, population, "id_number", "mobile", "name", "_bi_id_number")
    assert len(stored) == len(PEOPLE)
    for row in stored.values():
        assert str(row["id_number"]).startswith("gs1:1:") and str(row["mobile"]).startswith("gs1:1:")
        assert not re.search(r"\d{11}", str(row["id_number"]).split(":", 2)[2])
        assert re.fullmatch(r"[0-9a-f]{64}", str(row["_bi_id_number"]))
        assert not str(row["name"]).startswith("gs1:")  # L2 stays as it is
    # The store reads them back decrypted and typed.
    table = store.table_for(db, population.id, published_items(db, population))
    assert {r.id_number for r in db.execute(select(table))} == set(PEOPLE)
    # A consumer filters on the encrypted item by equality (through its digest), never by range.
    granted(client, population, ["id_number", "name", "mobile", "region_code"])
    civil = login(client, "civil_user")
    one = rows(client, population, civil, id_number=PEOPLE[1])
    assert one.status_code == 200 and len(one.json()["rows"]) == 1
    two = client.get(
        f"/api/v1/resources/{population.id}/rows",
        params=[("purpose", PURPOSE), ("id_number", PEOPLE[0]), ("id_number", PEOPLE[2])],
        headers=civil,
    )
    assert two.status_code == 200 and len(two.json()["rows"]) == 2
    ranged = rows(client, population, civil, id_number__gte=PEOPLE[0])
    assert ranged.status_code == 422 and "加密存储" in ranged.json()["error"]["message"]


def test_a_cell_copied_elsewhere_does_not_open(client, city, db, l3_encrypted) -> None:
    population = loaded(client, db)
    stored = _raw(db, population, "id_number", "mobile")
    key, row = next(iter(stored.items()))
    table = store.table_for(db, population.id, [])
    raw = Table(
        table.name, MetaData(), Column("_key", String(64)), Column("id_number", Text), schema=table.schema
    )
    db.execute(update(raw).where(raw.c._key == key).values(id_number=row["mobile"]))
    typed = store.table_for(db, population.id, published_items(db, population))
    with pytest.raises(ValueError, match="authentication"):
        db.execute(select(typed.c.id_number).where(typed.c._key == key)).scalar()


def test_quarantined_values_are_kept_encrypted_and_shown_to_the_provider(
    client, city, db, l3_encrypted
) -> None:
    from govshare.exchange.models import QuarantinedRow

    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    police = login(client, "police_admin")
    batch = push(client, police, population.id, csv_body(line(PEOPLE[0]), line(BAD))).json()
    kept = db.scalar(select(QuarantinedRow).where(QuarantinedRow.batch_id == batch["batch_id"]))
    assert kept is not None and kept.data["id_number"].startswith("gs1:") and BAD not in str(kept.data)
    shown = client.get(
        f"/api/v1/resources/{population.id}/batches/{batch['batch_id']}/quarantine", headers=police
    )
    assert shown.status_code == 200 and shown.json()["items"][0]["data"]["id_number"] == BAD


def test_an_item_that_becomes_encrypted_is_migrated_and_its_plaintext_erased(client, city, db) -> None:
    population = loaded(client, db)  # L3 is not encrypted by default
    assert "_bi_id_number" not in store.table_for(db, population.id, published_items(db, population)).c
    encrypt_level(db)
    response = push(client, login(client, "police_admin"), population.id, csv_body(line(PEOPLE[0])))
    assert response.status_code == 201
    migrated = {m["item"] for m in response.json()["report"]["migrations"]}
    assert {"id_number", "mobile"} <= migrated
    stored = _raw(db, population, "id_number", "id_number__old1", "_bi_id_number")
    assert all(str(r["id_number"]).startswith("gs1:") for r in stored.values())
    assert all(r["id_number__old1"] is None for r in stored.values())  # no plaintext left
    assert all(r["_bi_id_number"] for r in stored.values())
    table = store.table_for(db, population.id, published_items(db, population))
    assert {r.id_number for r in db.execute(select(table))} == set(PEOPLE)


def test_rotation_rewrites_every_cell_and_erases_the_old_key(client, city, db, l3_encrypted) -> None:
    population = loaded(client, db)
    table = store.table_for(db, population.id, published_items(db, population))
    encrypted = [c.name for c in table.columns if store.is_encrypted(c)]
    assert {"id_number", "mobile"} <= set(encrypted)
    done = service.rotate_resource(db, population, actor=actor(db, "bureau_admin"))
    assert done.version == 2 and done.cells == len(encrypted) * len(PEOPLE) and done.retired == 1
    stored = _raw(db, population, *encrypted)
    assert all(
        str(v).startswith("gs1:2:") for r in stored.values() for k, v in r.items() if k != "_key" and v
    )
    old = db.scalar(
        select(DataKey).where(
            DataKey.resource_id == population.id, DataKey.kind == "data", DataKey.version == 1
        )
    )
    assert old is not None and old.wrapped is None and old.destroyed_at is not None
    table = store.table_for(db, population.id, published_items(db, population))
    assert {r.id_number for r in db.execute(select(table))} == set(PEOPLE)
    # Lookups by digest survive rotation (the index key does not change).
    assert db.execute(select(table.c._key).where(store.equals(table, "id_number", [PEOPLE[3]]))).scalar()


def test_destroyed_keys_leave_the_cells_unreadable_even_with_the_wrapped_keys_from_a_backup(
    client, city, db, l3_encrypted
) -> None:
    population = loaded(client, db)
    from_backup = {
        r.id: r.wrapped for r in db.scalars(select(DataKey).where(DataKey.resource_id == population.id))
    }
    assert keys.destroy(db, population.id, by="test") == 2
    assert not (vault.directory() / f"resource-{population.id}.key").exists()
    table = store.table_for(db, population.id, published_items(db, population))
    with pytest.raises(keys.KeysDestroyed):
        db.execute(select(table.c.id_number)).first()
    # A backup taken before holds the wrapped keys; put them back: without the vault secret they
    # are useless.
    for row in db.scalars(select(DataKey).where(DataKey.resource_id == population.id)):
        row.wrapped, row.destroyed_at = from_backup[row.id], None
    db.flush()
    with pytest.raises(keys.KeysDestroyed):
        cells.prepare(db, population.id)
        db.execute(select(table.c.id_number)).first()

"""The audit chain: appends in the caller's transaction, and verification finds every kind of tampering."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import select, text, update

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from govshare.authz import Actor
from govshare.crypto import SM2Signer
from govshare.errors import Forbidden
from tests.conftest import settings_override
from tests.helpers import actor


def _append(db, n: int, operator: Actor) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        audit.record(
            db, EventType.user_updated, actor=operator, object_type="users", object_id=i, details={"i": i}
        )
    db.flush()


@pytest.fixture
def base(db) -> int:  # type: ignore[no-untyped-def]
    """The sequence number the chain (the demo city's events) ends at before the test."""
    return int(db.scalar(select(AuditHead.last_seq)))


@pytest.fixture
def chain(db, operator, base):  # type: ignore[no-untyped-def]
    _append(db, 12, operator)
    report = audit.verify_chain(db)
    assert report.ok and report.events == base + 12
    return db


def test_events_link_to_their_predecessor(chain, base) -> None:
    rows = chain.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == list(range(1, base + 13))
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    head = chain.get(AuditHead, 1)
    assert head.last_seq == base + 12 and head.last_hash == rows[-1].hash


def test_event_is_rolled_back_with_its_change(db, operator, base) -> None:
    _append(db, 1, operator)
    db.commit()
    nested = db.begin_nested()
    audit.record(db, EventType.user_updated, actor=operator, details={"doomed": True})
    nested.rollback()
    assert audit.verify_chain(db).ok
    assert db.scalar(select(AuditHead.last_seq)) == base + 1


def test_a_batch_is_appended_together_in_order_and_verifies(db, operator, base) -> None:
    with audit.batched(db):
        _append(db, 3, operator)
        # Recorded, not yet appended: the head has not moved.
        assert db.scalar(select(AuditHead.last_seq)) == base
    rows = db.scalars(select(AuditEvent).where(AuditEvent.seq > base).order_by(AuditEvent.seq)).all()
    assert [(r.seq, r.object_id) for r in rows] == [(base + 1, "0"), (base + 2, "1"), (base + 3, "2")]
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert db.get(AuditHead, 1).last_hash == rows[-1].hash
    _append(db, 1, operator)  # the chain goes on from the batch
    assert audit.verify_chain(db).ok and audit.verify_chain(db).events == base + 4

    with pytest.raises(RuntimeError), audit.batched(db):
        _append(db, 2, operator)
        raise RuntimeError("the write phase failed")
    assert db.scalar(select(AuditHead.last_seq)) == base + 4  # nothing of a failed batch


def _first(report) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    assert not report.ok
    return report.first_broken.seq, report.first_broken.kind


def test_edited_field_is_found(chain, base) -> None:
    chain.execute(text("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = :s"), {"s": base + 5})
    assert _first(audit.verify_chain(chain)) == (base + 5, "hash")


def test_edited_details_is_found(chain, base) -> None:
    chain.execute(
        text("UPDATE audit_events SET details = :d WHERE seq = :s"), {"d": '{"i":99}', "s": base + 7}
    )
    assert _first(audit.verify_chain(chain)) == (base + 7, "hash")


def test_edited_early_event_is_found(chain) -> None:
    chain.execute(text("UPDATE audit_events SET outcome = 'failure' WHERE seq = 2"))
    assert _first(audit.verify_chain(chain)) == (2, "hash")


def test_deleted_event_is_found(chain, base) -> None:
    chain.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": base + 4})
    seq, kind = _first(audit.verify_chain(chain))
    assert seq == base + 5 and kind in {"gap", "link"}


def test_inserted_event_is_found(chain, base) -> None:
    # An attacker recomputes a plausible hash but cannot fit it between existing links.
    at = base + 6
    row = chain.scalars(select(AuditEvent).where(AuditEvent.seq == at)).one()
    chain.execute(text("UPDATE audit_events SET seq = -seq WHERE seq >= :s"), {"s": at})  # make room
    chain.execute(text("UPDATE audit_events SET seq = 1 - seq WHERE seq < 0"))
    forged = AuditEvent(
        seq=at,
        occurred_at=row.occurred_at,
        event_type="user.updated",
        outcome="success",
        actor_kind="operator",
        actor_id=None,
        actor_name="mallory",
        org_id=None,
        object_type=None,
        object_id=None,
        source_ip=None,
        details="{}",
        prev_hash=row.prev_hash,
    )
    forged.hash = audit.event_hash(row.prev_hash, forged)
    chain.add(forged)
    chain.flush()
    report = audit.verify_chain(chain)
    assert _first(report)[0] == at + 1


def test_reordered_events_are_found(chain, base) -> None:
    a, b = base + 3, base + 4
    chain.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = :a"), {"a": a})
    chain.execute(text("UPDATE audit_events SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
    chain.execute(text("UPDATE audit_events SET seq = :b WHERE seq = -1"), {"b": b})
    assert _first(audit.verify_chain(chain))[0] == a


def test_truncated_tail_is_found(chain, base) -> None:
    chain.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": base + 10})
    seq, kind = _first(audit.verify_chain(chain))
    assert kind == "head" and seq == base + 12


def test_checkpoints_are_signed_and_checked(db, operator) -> None:
    with settings_override(audit_checkpoint_every=5):
        _append(db, 11, operator)
        checkpoints = db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
        assert checkpoints[-1].seq - checkpoints[-2].seq == 5
        report = audit.verify_chain(db)
        assert report.ok and report.checkpoints_verified == len(checkpoints)
        # Rewriting the whole chain consistently still breaks the signed checkpoint.
        rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        rows[-3].actor_name = "mallory"
        prev = rows[0].hash
        for row in rows[1:]:
            row.prev_hash = prev
            row.hash = audit.event_hash(prev, row)
            prev = row.hash
        db.execute(update(AuditHead).values(last_hash=prev))
        db.flush()
        report = audit.verify_chain(db)
        assert not report.ok
        assert {p.kind for p in report.problems} == {"checkpoint_mismatch"}


def test_forged_checkpoint_signature_is_found(db, operator) -> None:
    _append(db, 3, operator)
    checkpoint = db.scalars(select(AuditCheckpoint)).first()
    other = SM2Signer("11" * 32)
    checkpoint.public_key = other.public_key_hex
    db.flush()
    assert "checkpoint_key" in {p.kind for p in audit.verify_chain(db).problems}
    checkpoint.public_key = audit.signer().public_key_hex
    checkpoint.signature = "00" * 64
    db.flush()
    assert "checkpoint_signature" in {p.kind for p in audit.verify_chain(db).problems}


def test_checkpoint_now_signs_only_new_events(db, operator, base) -> None:
    _append(db, 2, operator)
    first = audit.checkpoint_now(db)
    assert first is not None and first.seq == base + 2
    assert audit.checkpoint_now(db) is None


def test_verification_is_for_auditors_and_is_itself_audited(db, city) -> None:
    with pytest.raises(Forbidden):
        audit.run_verification(db, actor=actor(db, "civil_user"))
    report = audit.run_verification(db, actor=actor(db, "bureau_auditor"))
    assert report.ok
    last = db.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last.event_type == "audit.verified" and last.actor_name == "bureau_auditor"


def test_security_officer_searches_only_own_department(db, city) -> None:
    officer = actor(db, "police_security")
    rows, total = audit.search(db, actor=officer, query=audit.AuditQuery(), page_size=200)
    assert total > 0 and {r.org_id for r in rows} == {officer.org_id}
    _, all_total = audit.search(db, actor=actor(db, "bureau_auditor"), query=audit.AuditQuery())
    assert all_total > total
    with pytest.raises(Forbidden):
        audit.search(db, actor=actor(db, "police_approver"), query=audit.AuditQuery())


def test_search_filters_and_daily_counts(db, city) -> None:
    auditor = actor(db, "bureau_auditor")
    rows, total = audit.search(db, actor=auditor, query=audit.AuditQuery(event_type="system.created"))
    assert total == 14 and all(r.event_type == "system.created" for r in rows)
    counts = audit.daily_counts(db, actor=auditor, query=audit.AuditQuery(event_type="system.created"))
    assert sum(n for _, n in counts) == 14 and len(counts[0][0]) == 10

"""Building destruction requests through the API, and recomputing their evidence independently."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.exchange import store
from govshare.exchange.models import QuarantinedRow
from tests.helpers import login, user_id

REASON = "该批数据已超过规定保存期限，依本单位数据销毁规范予以销毁"


def sm3_lines(lines: list[str]) -> str:
    digest = hashes.Hash(hashes.SM3())
    for line in lines:
        digest.update(f"{line}\n".encode())
    return digest.finalize().hex()


def sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def store_digest(db: Session, resource_id: int, keys: set[str] | None = None) -> tuple[int, str]:
    """The expected store digest: SM3 over sorted `_key:_row_hash` lines of the rows (of `keys`)."""
    table = store.table_for(db, resource_id, [])
    lines = sorted(
        f"{k}:{h}"
        for k, h in db.execute(select(table.c._key, table.c._row_hash))
        if keys is None or k in keys
    )
    return len(lines), sm3_lines(lines)


def quarantine_digest(rows: list[QuarantinedRow]) -> str:
    lines = []
    for row in sorted(rows, key=lambda r: r.id):
        canonical = json.dumps(row.data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        lines.append(f"{row.id}:{sm3(canonical.encode())}")
    return sm3_lines(lines)


def file_request(client, db: Session, dept: str, resource_id: int, **body: Any):  # type: ignore[no-untyped-def]
    payload = {
        "resource_id": resource_id,
        "scope": "resource",
        "method": "delete_shred",
        "reason": REASON,
        "supervisor_id": user_id(db, f"{dept}_supervisor"),
        **body,
    }
    return client.post("/api/v1/destructions", json=payload, headers=login(client, f"{dept}_admin"))


def approve_all(client, dept: str, request_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Department approval, Bureau approval, the supervisor's confirmation: the executed request."""
    url = f"/api/v1/destructions/{request_id}"
    first = client.post(
        f"{url}/approval", json={"opinion": "同意销毁"}, headers=login(client, f"{dept}_approver")
    )
    assert first.status_code == 200 and first.json()["status"] == "pending_bureau", first.text
    second = client.post(
        f"{url}/approval", json={"opinion": "经审核同意"}, headers=login(client, "bureau_admin")
    )
    assert second.status_code == 200 and second.json()["status"] == "pending_supervisor", second.text
    done = client.post(
        f"{url}/confirmation",
        json={"opinion": "已现场监督，确认执行"},
        headers=login(client, f"{dept}_supervisor"),
    )
    assert done.status_code == 200 and done.json()["status"] == "executed", done.text
    return dict(done.json())

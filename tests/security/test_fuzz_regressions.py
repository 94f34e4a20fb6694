"""Server errors schemathesis found (tests/security/test_openapi_fuzz.py), each pinned by a plain test."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from govshare.errors import Invalid
from tests.helpers import login

BEYOND_64_BITS = 2**63


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"/api/v1/systems/{BEYOND_64_BITS}/tokens", {}),
        ("POST", f"/api/v1/exports/{BEYOND_64_BITS}/decision", {"approve": False, "reason": ""}),
        (
            "POST",
            f"/api/v1/catalog/conflicts/{BEYOND_64_BITS}/decision",
            {"comment": "govshare", "resolution": "keep"},
        ),
        ("POST", f"/api/v1/resources/{BEYOND_64_BITS}/retire", {"reason": "0000"}),
        ("GET", f"/api/v1/users/{BEYOND_64_BITS}", None),
        ("GET", f"/api/v1/orgs/{2**70}", None),
    ],
)
def test_ids_beyond_64_bits_are_refused_as_invalid_not_a_server_error(
    client: TestClient, method: str, path: str, body: object
) -> None:
    response = client.request(method, path, json=body, headers=login(client, "bureau_admin"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"] == {"reason": "number_out_of_range"} and "超出允许范围" in error["message"]


def test_values_the_database_cannot_hold_become_invalid_and_other_errors_stay(db: Session) -> None:
    with pytest.raises(Invalid) as caught:
        db.execute(text("SELECT CAST(:x AS INTEGER)"), {"x": 2**64})
    assert caught.value.details == {"reason": "number_out_of_range"}
    db.rollback()
    with pytest.raises(Exception) as other:
        db.execute(text("SELECT no_such_column FROM users"))
    assert not isinstance(other.value, Invalid)

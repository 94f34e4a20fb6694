"""Who may do what, and when: no step skipped or taken twice, the requester never decides, another
department never even sees a request, refusals and withdrawals end it, bad input is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from govshare.authz import Actor, Role
from govshare.destruction import service
from govshare.destruction.models import DestructionRequest
from govshare.errors import Conflict
from govshare.exchange import store
from govshare.tasks.models import Task
from govshare.users import service as users
from govshare.users.models import User
from tests.destruction.helpers import file_request
from tests.helpers import login, user_id
from tests.sharing.test_rows import PEOPLE, loaded


def _filed(client, db) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    population = loaded(client, db)
    filed = file_request(client, db, "police", population.id)
    assert filed.status_code == 201, filed.text
    return population.id, f"/api/v1/destructions/{filed.json()['id']}"


def _post(client, url: str, step: str, who: str, text: str = "同意"):  # type: ignore[no-untyped-def]
    body = {"reason": text} if step in ("refusal", "withdrawal") else {"opinion": text}
    return client.post(f"{url}/{step}", json=body, headers=login(client, who))


def test_no_step_is_skipped_and_none_is_taken_twice(client, city, db) -> None:
    resource_id, url = _filed(client, db)
    # The supervisor cannot confirm before both approvals; the Bureau cannot approve first.
    early = _post(client, url, "confirmation", "police_supervisor")
    assert early.status_code == 409 and "待本单位审批" in early.json()["error"]["message"]
    assert _post(client, url, "approval", "bureau_admin").status_code == 403
    assert _post(client, url, "approval", "police_supervisor").status_code == 403
    assert _post(client, url, "approval", "police_approver").json()["status"] == "pending_bureau"
    assert _post(client, url, "approval", "police_approver").status_code == 403  # now the Bureau's turn
    assert _post(client, url, "confirmation", "police_supervisor").status_code == 409
    assert _post(client, url, "approval", "bureau_admin").json()["status"] == "pending_supervisor"
    assert _post(client, url, "approval", "bureau_admin").status_code == 409  # no approval left to give
    assert store.exists(db, resource_id)  # nothing happened before the confirmation
    # Only the supervisor named on the request confirms.
    assert _post(client, url, "confirmation", "police_approver").status_code == 403
    assert _post(client, url, "confirmation", "hrss_supervisor").status_code == 404
    assert _post(client, url, "confirmation", "police_supervisor").json()["status"] == "executed"
    again = _post(client, url, "confirmation", "police_supervisor")
    assert again.status_code == 409 and "已销毁" in again.json()["error"]["message"]
    assert _post(client, url, "refusal", "police_supervisor").status_code == 409
    assert _post(client, url, "withdrawal", "police_admin").status_code == 409
    open_tasks = db.scalars(
        select(Task).where(Task.subject_type == "destruction_requests", Task.status == "open")
    ).all()
    assert open_tasks == []


def test_another_department_never_sees_a_request(client, city, db) -> None:
    _, url = _filed(client, db)
    for who in ("hrss_admin", "hrss_approver", "hrss_supervisor", "civil_admin"):
        assert client.get(url, headers=login(client, who)).status_code == 404
        assert _post(client, url, "approval", who).status_code == 404
    listed = client.get("/api/v1/destructions", headers=login(client, "hrss_admin")).json()
    assert listed["total"] == 0
    for who in ("police_admin", "police_approver", "police_supervisor", "police_security", "bureau_auditor"):
        assert client.get(url, headers=login(client, who)).status_code == 200, who
        assert client.get("/api/v1/destructions", headers=login(client, who)).json()["total"] == 1
    assert client.get(url, headers=login(client, "police_user")).status_code == 404  # may not view them
    assert client.get(url).status_code == 401


def test_the_requester_never_approves_their_own_request(client, city, db, operator: Actor) -> None:
    requester = db.scalar(select(User).where(User.username == "police_admin"))
    assert requester is not None
    users.grant_role(db, actor=operator, user=requester, role=Role.approver)
    _, url = _filed(client, db)
    own = _post(client, url, "approval", "police_admin")
    assert own.status_code == 403 and "申请人不能审批" in own.json()["error"]["message"]
    assert _post(client, url, "refusal", "police_admin").status_code == 403
    # Nor can a request name its requester as supervisor, nor someone who is not a supervisor.
    population_id = client.get(url, headers=login(client, "police_admin")).json()["resource_id"]
    for supervisor in ("police_approver", "hrss_supervisor"):
        refused = file_request(client, db, "police", population_id, supervisor_id=user_id(db, supervisor))
        assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "supervisor_id"


@pytest.mark.parametrize("stage", ["department", "bureau", "supervisor"])
def test_each_decider_can_refuse_with_a_reason(client, city, db, stage: str) -> None:
    resource_id, url = _filed(client, db)
    deciders = {"department": "police_approver", "bureau": "bureau_admin", "supervisor": "police_supervisor"}
    for earlier in list(deciders)[: list(deciders).index(stage)]:
        assert _post(client, url, "approval", deciders[earlier]).status_code == 200
    assert _post(client, url, "refusal", deciders[stage], " ").status_code == 422  # a reason is required
    refused = _post(client, url, "refusal", deciders[stage], "销毁范围过大，请缩小范围后重新申请")
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert (body["status"], body["refused_stage"]) == ("refused", f"pending_{stage}")
    assert body["refusal_reason"] == "销毁范围过大，请缩小范围后重新申请"
    assert _post(client, url, "approval", "bureau_admin").status_code == 409
    assert store.exists(db, resource_id)
    assert client.get(f"{url}/certificate", headers=login(client, "police_admin")).status_code == 409


def test_the_requester_may_withdraw_before_execution(client, city, db) -> None:
    _, url = _filed(client, db)
    assert _post(client, url, "withdrawal", "police_approver", "撤回").status_code == 403
    withdrawn = _post(client, url, "withdrawal", "police_admin", "范围填写有误")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert _post(client, url, "approval", "police_approver").status_code == 409


def test_a_decision_based_on_an_outdated_version_writes_nothing(client, city, db) -> None:
    """The guard behind every transition: if another transaction changed the request after it was
    read (here: its version moved on underneath), the update matches no row and nothing is written."""
    _, url = _filed(client, db)
    request = db.get(DestructionRequest, int(url.rsplit("/", 1)[1]))
    assert request is not None
    db.execute(
        update(DestructionRequest)
        .where(DestructionRequest.id == request.id)
        .values(version=DestructionRequest.version + 1),
        execution_options={"synchronize_session": False},
    )
    with pytest.raises(Conflict):
        service._advance(db, request, "pending_bureau")
    db.rollback()
    assert client.get(url, headers=login(client, "police_admin")).json()["status"] == "pending_department"


def test_bad_requests_are_refused_with_the_field(client, city, db) -> None:
    population = loaded(client, db)
    cases = [
        ({"method": "delete"}, "method"),  # a whole resource goes with its keys
        ({"scope": "keys", "method": "delete_shred", "keys": [{"id_number": PEOPLE[0]}]}, "method"),
        ({"scope": "keys", "method": "delete", "keys": []}, "keys"),
        ({"scope": "batches", "method": "delete", "batch_ids": []}, "batch_ids"),
        ({"scope": "time_range", "method": "delete"}, "received_from"),
        ({"reason": "  "}, "reason"),
    ]
    for body, field in cases:
        response = file_request(client, db, "police", population.id, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["details"]["field"] == field, body
    unknown = file_request(
        client, db, "police", population.id, scope="batches", method="delete", batch_ids=["nope"]
    )
    assert unknown.status_code == 404
    hrss = file_request(client, db, "hrss", population.id)
    assert hrss.status_code == 403  # another department's resource
    assert (
        client.get(
            "/api/v1/destructions", params={"status": "bogus"}, headers=login(client, "police_admin")
        ).status_code
        == 422
    )

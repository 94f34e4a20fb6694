"""The data API under a grant: items, row scope, masking, filters, pages, formats, audit (M17, S22,
S23, S25)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.crypto import sm3_hex
from govshare.exchange.keys import row_key
from govshare.identifiers import id_number_valid
from tests.exchange.test_ingest import csv_body, idn, line, push
from tests.helpers import login
from tests.sharing.test_requests import BASIS, PURPOSE

PEOPLE = [
    idn("130102", "19850317", "771"),
    idn("130104", "19920611", "532"),
    idn("130105", "20010101", "118"),
    idn("130102", "19700101", "013"),
    idn("130108", "19601231", "024"),
]


def loaded(client, db) -> Resource:  # type: ignore[no-untyped-def]
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    rows = [
        line(n, name, mobile=f"1391234567{i}")
        for i, (n, name) in enumerate(zip(PEOPLE, ["张伟", "李娜", "欧阳娜娜", "王芳", "赵敏"], strict=True))
    ]
    response = push(client, login(client, "police_admin"), population.id, csv_body(*rows))
    assert response.status_code == 201 and response.json()["accepted"] == len(PEOPLE), response.text
    return population


def granted(client, population: Resource, items: list[str] | None = None, user: str = "civil_user") -> dict:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/requests",
        json={
            "resource_id": population.id,
            "items": items or ["id_number", "name", "gender", "birth_date", "mobile", "region_code"],
            "purpose": PURPOSE,
            "basis": BASIS,
            "duration_days": 30,
        },
        headers=login(client, user),
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["grant"])


def rows(client, population: Resource, headers, **params):  # type: ignore[no-untyped-def]
    return client.get(
        f"/api/v1/resources/{population.id}/rows", params={"purpose": PURPOSE, **params}, headers=headers
    )


def test_rows_need_a_grant_for_the_purpose_and_arrive_masked(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    refused = rows(client, population, civil)
    assert refused.status_code == 403 and "申请共享" in refused.json()["error"]["message"]
    granted(client, population, ["id_number", "name", "mobile", "region_code"])
    page = rows(client, population, civil)
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["rows"]) == len(PEOPLE) and body["next_cursor"] is None
    assert set(body["rows"][0]) == {"_row_id", "id_number", "name", "mobile", "region_code"}  # granted only
    values = [str(v) for r in body["rows"] for v in r.values() if v is not None]
    assert {len(r["_row_id"]) for r in body["rows"]} == {64}
    assert len({r["_row_id"] for r in body["rows"]}) == len(PEOPLE)
    assert not any(id_number_valid(v) for v in values)
    assert not any(re.fullmatch(r"1[3-9]\d{9}", v) for v in values)
    assert "欧阳**" in {r["name"] for r in body["rows"]}
    assert body["masking"]["id_number"] and body["masking"]["mobile"]

    other = rows(client, population, civil, purpose="商业营销")
    assert other.status_code == 403 and other.json()["error"]["details"]["reason"] == "purpose_mismatch"
    missing = client.get(f"/api/v1/resources/{population.id}/rows", headers=civil)
    assert missing.status_code == 422
    assert rows(client, population, login(client, "hrss_user")).status_code == 403
    outcomes = db.scalars(
        select(AuditEvent.event_type).where(AuditEvent.event_type.like("sharing.data_%"))
    ).all()
    assert outcomes.count("sharing.data_refused") == 3 and outcomes.count("sharing.data_delivered") == 1


def test_filters_work_on_granted_items_only(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "name", "birth_date", "region_code"])
    one = rows(client, population, civil, region_code="130104").json()["rows"]
    assert len(one) == 1 and one[0]["region_code"] == "130104"
    several = client.get(
        f"/api/v1/resources/{population.id}/rows",
        params=[("purpose", PURPOSE), ("region_code", "130102"), ("region_code", "130105")],
        headers=civil,
    ).json()["rows"]
    assert sorted(r["region_code"] for r in several) == ["130102", "130102", "130105"]
    born = rows(client, population, civil, birth_date__gte="1980-01-01", birth_date__lt="2000-01-01").json()
    assert len(born["rows"]) == 2  # 1985 and 1992
    outside = rows(client, population, civil, mobile="13912345670")
    assert outside.status_code == 422 and "不是授权给本单位的信息项" in outside.json()["error"]["message"]
    assert rows(client, population, civil, birth_date__gte="去年").status_code == 422
    assert rows(client, population, civil, birth_date__like="1985").status_code == 422
    fields = rows(client, population, civil, fields="name,region_code").json()["rows"]
    assert set(fields[0]) == {"_row_id", "name", "region_code"}
    assert rows(client, population, civil, fields="name,mobile").status_code == 422


def test_a_page_statement_is_built_once_per_shape_of_filters(client, city, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The page's values are parameters: calls that differ only in values run one statement, kept
    with the cached reading (a bounded number of shapes each), and still get their own rows."""
    from govshare.sharing import rows as data

    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "region_code"])

    def districts(*codes: str) -> list[str]:
        params = [("purpose", PURPOSE), *(("region_code", c) for c in codes)]
        answer = client.get(f"/api/v1/resources/{population.id}/rows", params=params, headers=civil)
        assert answer.status_code == 200, answer.text
        return sorted(r["region_code"] for r in answer.json()["rows"])

    def kept() -> dict:  # type: ignore[type-arg]
        (entry,) = data._READINGS._entries.values()
        return entry[2].pages

    assert districts("130104") == ["130104"]  # builds the reading, kept without its statements
    assert districts("130105") == ["130105"]
    assert districts("130102") == ["130102", "130102"]
    assert len(kept()) == 1  # one shape: one item, equality, one value, no cursor
    assert districts("130104", "130105") == ["130104", "130105"]
    assert districts("130102", "130108") == ["130102", "130102", "130108"]
    assert len(kept()) == 2
    monkeypatch.setattr(data, "PAGES_KEPT", 2)
    assert districts("130102", "130104", "130105") == ["130102", "130102", "130104", "130105"]
    assert len(kept()) == 1  # past the bound: started over


def test_pages_follow_the_cursor_and_csv_is_the_same_data(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "region_code"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = rows(client, population, civil, **params).json()
        seen += page["rows"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(PEOPLE) and len({r["_row_id"] for r in seen}) == len(PEOPLE)
    assert rows(client, population, civil, cursor="not-a-cursor").status_code == 422
    first = rows(client, population, civil, limit=2).json()["next_cursor"]
    keys = [row_key({"id_number": n}, ["id_number"]) for n in PEOPLE]
    assert not any(k in first or k in str(seen) for k in keys)  # the store's keys stay sealed
    assert rows(client, population, civil, cursor=first[:-4] + "AAAA").status_code == 422  # tampered
    assert rows(client, population, civil, limit=0).status_code == 422
    text = rows(client, population, civil, format="csv")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    lines = text.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "_row_id,id_number,region_code" and len(lines) == len(PEOPLE) + 1
    assert not any(id_number_valid(cell) for row in lines for cell in row.split(","))


def test_page_parameters_are_checked_and_documented(client, city, db) -> None:
    """The route reads its page parameters itself (not as FastAPI parameters): wrong values are a
    422 naming the parameter, the last of repeated ones counts, and OpenAPI still lists them."""
    population = loaded(client, db)
    civil = login(client, "civil_user")
    granted(client, population, ["id_number", "region_code"])
    for params, field in [
        ({"limit": "abc"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"format": "xml"}, "format"),
    ]:
        answer = rows(client, population, civil, **params)
        assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] == field, params
    repeated = client.get(
        f"/api/v1/resources/{population.id}/rows?purpose={PURPOSE}&limit=5&limit=1", headers=civil
    )
    assert repeated.status_code == 200 and len(repeated.json()["rows"]) == 1
    no_purpose = client.get(f"/api/v1/resources/{population.id}/rows", headers=civil)
    assert no_purpose.status_code == 422 and no_purpose.json()["error"]["details"]["field"] == "purpose"
    spec = client.get("/api/v1/openapi.json").json()
    documented = spec["paths"]["/api/v1/resources/{resource_id}/rows"]["get"]["parameters"]
    assert {p["name"] for p in documented} == {
        "resource_id",
        "purpose",
        "limit",
        "cursor",
        "fields",
        "format",
    }


def test_the_grants_row_scope_and_status_apply(client, city, db) -> None:
    population = loaded(client, db)
    civil, police_admin = login(client, "civil_user"), login(client, "police_admin")
    grant = granted(client, population, ["id_number", "region_code"])
    # The provider narrows the grant by revoking it; a partial approval is what sets a row scope, so
    # here the scope is checked through a conditional resource's decision below.
    suspended = client.post(
        f"/api/v1/grants/{grant['id']}/suspend", json={"reason": "核查"}, headers=police_admin
    )
    assert suspended.status_code == 200
    assert rows(client, population, civil).status_code == 403
    client.post(f"/api/v1/grants/{grant['id']}/resume", json={"reason": "核查完毕"}, headers=police_admin)
    assert rows(client, population, civil).status_code == 200

    cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert cars is not None
    plates = ["冀A12345", "冀A23456", "冀B34567"]
    body = csv_body(
        *[
            f"{p},张伟,{PEOPLE[i]},1391234567{i},小型轿车,2020-01-0{i + 1},{PEOPLE[i][:6]}"
            for i, p in enumerate(plates)
        ],
        header="plate_number,name,id_number,mobile,vehicle_type,first_registered_on,region_code",
    )
    assert push(client, police_admin, cars.id, body).json()["accepted"] == 3
    requested = client.post(
        "/api/v1/requests",
        json={
            "resource_id": cars.id,
            "items": ["plate_number", "region_code"],
            "purpose": PURPOSE,
            "basis": BASIS,
            "duration_days": 30,
        },
        headers=civil,
    ).json()
    decided = client.post(
        f"/api/v1/requests/{requested['id']}/decision",
        json={"decision": "partial", "reason": "仅限长安区", "row_scope": {"region_code": ["130102"]}},
        headers=login(client, "police_approver"),
    )
    assert decided.status_code == 200, decided.text
    scoped = rows(client, cars, civil).json()["rows"]
    assert [r["region_code"] for r in scoped] == ["130102"]
    assert rows(client, cars, civil, region_code="130104").json()["rows"] == []  # outside the scope


def test_every_delivery_is_audited_with_what_was_returned(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    grant = granted(client, population, ["id_number", "region_code"])
    page = rows(client, population, civil, region_code="130102")
    assert page.status_code == 200
    event = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.event_type == "sharing.data_delivered")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event is not None and event.actor_kind == "user"
    details = json.loads(event.details)
    assert details["grant_id"] == grant["id"] and details["purpose"] == PURPOSE
    assert details["filters"] == {"region_code": ["130102"]} and details["rows"] == 2
    returned = json.dumps(page.json()["rows"], ensure_ascii=False, separators=(",", ":"))
    assert details["sm3"] == sm3_hex(returned.encode()) == page.headers["x-content-sm3"]
    assert page.text.startswith('{"rows":' + returned + ",")  # the very bytes whose SM3 was taken
    assert not any(PEOPLE[0] in str(v) for v in details.values())  # no values in the audit log


def test_a_call_gives_up_its_turn_while_it_commits_what_it_recorded_before_it_answers(  # type: ignore[no-untyped-def]
    client, city, db, monkeypatch
) -> None:
    """A call in a worker thread (one that needs its session: `deps.in_own_unit`): on PostgreSQL
    the next data call of the process may start while this one's writes commit (`Admission`);
    SQLite commits in the process, and the call keeps its turn. Either way the delivery, or the
    refusal, is on record before the answer."""
    import threading

    from govshare.db import Deferred, NeedsThread
    from govshare.web import deps

    reads_first = client.app.state.reads_first

    def in_a_thread(deferred=None, inline=False):  # type: ignore[no-untyped-def]
        if inline:  # as a call whose caches missed
            raise NeedsThread
        return reads_first(deferred, inline)

    monkeypatch.setattr(client.app.state, "reads_first", in_a_thread)

    population = loaded(client, db)
    civil = login(client, "civil_user")
    given = threading.Event()
    commits: list[bool] = []
    give_turn, commit = deps.give_turn, Deferred.commit

    def giving_turn(scope) -> None:  # type: ignore[no-untyped-def]
        give_turn(scope)
        given.set()

    server = db.get_bind().dialect.name != "sqlite"

    def committing(self) -> None:  # type: ignore[no-untyped-def]
        # The turn is given up on the event loop, not waited for: it must come while this commits.
        commits.append(given.wait(10 if server else 0.2))
        commit(self)

    monkeypatch.setattr(deps, "give_turn", giving_turn)
    monkeypatch.setattr(Deferred, "commit", committing)

    def recorded(event_type: str) -> int:
        return len(db.scalars(select(AuditEvent.id).where(AuditEvent.event_type == event_type)).all())

    assert rows(client, population, civil).status_code == 403  # a refusal: on record as it ends
    assert commits == [] and recorded("sharing.data_refused") == 1
    granted(client, population, ["id_number", "region_code"])
    given.clear()
    assert rows(client, population, civil).status_code == 200
    assert commits == [server] and recorded("sharing.data_delivered") == 1
    given.clear()
    assert rows(client, population, civil, cursor="forged").status_code == 422  # nothing to record
    assert commits == [server] and not given.is_set()


def test_the_change_feed_keeps_a_copy_current(client, city, db) -> None:
    population = loaded(client, db)
    civil, police_admin = login(client, "civil_user"), login(client, "police_admin")
    granted(client, population, ["id_number", "name", "region_code"])
    url = f"/api/v1/resources/{population.id}/changes"
    copy: dict[str, dict] = {}

    def follow(cursor: str | None) -> str:
        while True:
            params = {"purpose": PURPOSE, "limit": 2, **({"since": cursor} if cursor else {})}
            answer = client.get(url, params=params, headers=civil)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            for change in body["changes"]:
                if change["op"] == "retire":
                    copy.pop(change["_row_id"], None)
                else:
                    copy[change["_row_id"]] = change
            cursor = body["cursor"]
            if not body["more"]:
                return cursor

    cursor = follow(None)
    assert len(copy) == len(PEOPLE)
    assert (
        client.get(url, params={"purpose": PURPOSE, "since": cursor}, headers=civil).json()["changes"] == []
    )
    # The provider changes one row and deletes another: the feed brings exactly that.
    changed = push(client, police_admin, population.id, csv_body(line(PEOPLE[0], "张新伟")))
    assert changed.json()["updated"] == 1
    deleted = push(client, police_admin, population.id, csv_body(line(PEOPLE[1])), params={"mode": "delete"})
    assert deleted.json()["retired"] == 1
    answer = client.get(url, params={"purpose": PURPOSE, "since": cursor}, headers=civil).json()
    assert [c["op"] for c in answer["changes"]] == ["upsert", "retire"]
    assert answer["changes"][0]["name"] == "张**"
    cursor = follow(cursor)
    assert len(copy) == len(PEOPLE) - 1
    assert client.get(url, params={"purpose": PURPOSE, "since": "x" * 40}, headers=civil).status_code == 422
    other = client.get(url, params={"purpose": "商业营销"}, headers=civil)
    assert other.status_code == 403


def civil_system(db):  # type: ignore[no-untyped-def]
    """A business system of 市民政局 that may call from 127.0.0.0/8: (system, token, token row)."""
    from govshare.authz import Actor
    from govshare.orgs.models import Organisation
    from govshare.systems import service as systems
    from govshare.systems.schemas import SystemCreate

    civil = db.scalar(select(Organisation).where(Organisation.short_name == "市民政局"))
    assert civil is not None
    return systems.create_system(
        db,
        actor=Actor.operator("test"),
        data=SystemCreate(org_id=civil.id, code="assist", name="救助系统", allowed_cidrs=["127.0.0.0/8"]),
    )


def events_after(db, seq: int | None) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent).where(AuditEvent.seq > (seq or 0)).order_by(AuditEvent.seq)))


def last_seq(db) -> int | None:  # type: ignore[no-untyped-def]
    return db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))


def test_a_systems_data_call_is_one_event_naming_the_token_it_used(client, city, db) -> None:
    from govshare.systems.models import SystemToken

    population = loaded(client, db)
    granted(client, population, ["id_number", "region_code"])
    _system, token, row = civil_system(db)
    bearer = {"Authorization": f"Bearer {token}"}
    before = last_seq(db)
    page = rows(client, population, bearer, region_code="130102")
    assert page.status_code == 200 and len(page.json()["rows"]) == 2
    events = events_after(db, before)
    assert [e.event_type for e in events] == ["sharing.data_delivered"]  # no separate token_used
    details = json.loads(events[0].details)
    assert details["system_id"] == _system.id and details["token_id"] == row.id
    db.expire_all()
    assert db.get(SystemToken, row.id).last_used_ip == "127.0.0.1"  # type: ignore[union-attr]
    # Refusals name the token too: a purpose without a grant, a resource that does not exist.
    before = last_seq(db)
    assert rows(client, population, bearer, purpose="别的用途").status_code == 403
    missing = client.get("/api/v1/resources/999999/rows", params={"purpose": PURPOSE}, headers=bearer)
    assert missing.status_code == 404
    events = events_after(db, before)
    assert [e.event_type for e in events] == ["sharing.data_refused", "sharing.data_refused"]  # one each
    assert [json.loads(e.details)["reason"] for e in events] == ["purpose_mismatch", "unknown_resource"]
    assert {json.loads(e.details)["token_id"] for e in events} == {row.id}
    # A call refused as invalid (a filter on an item outside the grant) keeps nothing, as before;
    # a call that is not a data call is audited as a use of the token on its own.
    before = last_seq(db)
    bad = rows(client, population, bearer, name="张伟")
    assert bad.status_code == 422
    assert [e.event_type for e in events_after(db, before)] == []  # nothing is kept of a 422
    before = last_seq(db)
    assert client.get(f"/api/v1/resources/{population.id}", headers=bearer).status_code == 200
    events = events_after(db, before)
    assert [e.event_type for e in events] == ["system.token_used"]
    assert json.loads(events[0].details)["token_id"] == row.id


def test_a_user_s_data_call_names_no_token(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["region_code"])
    civil = login(client, "civil_user")
    before = last_seq(db)
    assert rows(client, population, civil).status_code == 200
    events = events_after(db, before)
    assert [e.event_type for e in events] == ["sharing.data_delivered"]
    assert "token_id" not in json.loads(events[0].details)


def test_a_tokens_last_use_is_written_at_most_once_a_minute_but_every_use_is_audited(
    client, city, db, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from govshare.systems import service as systems
    from govshare.systems.models import SystemToken

    population = loaded(client, db)
    granted(client, population, ["region_code"])
    _system, token, row = civil_system(db)
    bearer = {"Authorization": f"Bearer {token}"}

    def last_used() -> object:
        db.expire_all()
        return db.get(SystemToken, row.id).last_used_at  # type: ignore[union-attr]

    def uses() -> int:  # a data call's use of its token is recorded in its delivery event
        events = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "sharing.data_delivered"))
        return sum(json.loads(e.details).get("token_id") == row.id for e in events)

    assert rows(client, population, bearer).status_code == 200
    assert last_used() is not None
    db.execute(update(SystemToken).where(SystemToken.id == row.id).values(last_used_at=None))
    before = uses()
    assert rows(client, population, bearer).status_code == 200
    assert last_used() is None  # within the minute: not written again
    assert uses() == before + 1  # but audited
    monkeypatch.setattr(systems, "NOTE_USE_EVERY_S", 0.0)
    assert rows(client, population, bearer).status_code == 200
    assert last_used() is not None


def test_token_use_notes_of_long_ago_are_forgotten_past_a_bound(client, city, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import time

    from govshare.systems import service as systems

    population = loaded(client, db)
    granted(client, population, ["region_code"])
    _system, token, row = civil_system(db)
    monkeypatch.setattr(systems, "USE_NOTES_KEPT", 10)
    long_ago = time.monotonic() - systems.NOTE_USE_EVERY_S - 1
    recent = time.monotonic()
    systems._use_noted.update({(10_000 + n, "10.0.0.1"): long_ago for n in range(20)})
    systems._use_noted[(20_000, "10.0.0.1")] = recent
    assert rows(client, population, {"Authorization": f"Bearer {token}"}).status_code == 200
    # The stale notes went; the recent one and this call's stay.
    assert {token_id for token_id, _ip in systems._use_noted} == {20_000, row.id}


def test_rows_json_is_the_standard_compact_text_even_where_orjson_refuses() -> None:
    from govshare.sharing.rows import rows_json

    page = [{"_row_id": "a", "姓名": "林**", "n": 1.5, "big": 2**70, "none": None, "t": 'a"\\\n\x01'}]
    assert rows_json(page) == json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
    assert rows_json(page[:0]) == b"[]"

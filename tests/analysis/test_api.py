"""Analysis through the JSON API: the contract, what is refused, the sandbox, the risk checks,
releases, derived datasets and the audit trail (S24)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from govshare.analysis.models import AnalysisQuery
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.identifiers import id_number_valid
from tests.analysis.helpers import REGIONS, granted, loaded, run
from tests.exchange.test_ingest import csv_body, push
from tests.helpers import login
from tests.sharing.test_requests import BASIS, PURPOSE

ALL = ["id_number", "name", "gender", "birth_date", "mobile", "region_code", "address"]


def checks_of(body: dict, name: str) -> list[dict]:
    return [c for c in body["checks"] if c["name"] == name]


def test_schema_lists_only_the_departments_granted_items(client, city, db) -> None:
    population = loaded(client, db)
    civil = login(client, "civil_user")
    before = client.get("/api/v1/analysis/schema", headers=civil)
    assert before.status_code == 200
    assert all(t["resource_id"] != population.id for t in before.json()["tables"])
    granted(client, population, ["gender", "birth_date", "region_code"])
    tables = client.get("/api/v1/analysis/schema", headers=civil).json()["tables"]
    [table] = [t for t in tables if t["resource_id"] == population.id]
    assert table["table"] == f"r{population.id}" and table["purpose"] == PURPOSE
    assert [c["name"] for c in table["columns"]] == ["gender", "birth_date", "region_code"]
    birth = next(c for c in table["columns"] if c["name"] == "birth_date")
    assert birth["title"] == "出生日期" and "年月" in birth["masking"]
    # Another department holds no grant: it sees nothing of it.
    other = client.get("/api/v1/analysis/schema", headers=login(client, "hrss_user")).json()["tables"]
    assert all(t["resource_id"] != population.id for t in other)
    # A role without analysis (the auditor) is refused.
    assert client.get("/api/v1/analysis/schema", headers=login(client, "bureau_auditor")).status_code == 403


def test_a_plain_count_answers_the_contract_shape(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "region_code"])
    response = run(client, login(client, "civil_user"), f'SELECT COUNT(*) FROM "r{population.id}"')
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"id", "columns", "rows", "checks", "releasable"} <= set(body)
    assert body["rows"] == [[len(REGIONS)]] and body["releasable"] is True
    assert {c["name"] for c in body["checks"]} == {
        "direct_identifiers",
        "k_anonymity",
        "small_cells",
        "differencing",
    }
    assert all({"name", "passed", "detail", "column", "group"} <= set(c) for c in body["checks"])


def test_only_one_select_is_accepted(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "region_code"])
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    for sql, words in [
        (f"INSERT INTO {t} (gender) VALUES ('男')", "INSERT"),
        (f"DELETE FROM {t}", "DELETE"),
        (f"UPDATE {t} SET gender = '女'", "UPDATE"),
        (f"SELECT 1; DROP TABLE {t}", "一条"),
        (f"SELECT COUNT(*) FROM {t}; SELECT COUNT(*) FROM {t}", "一条"),
        ("PRAGMA table_info(r1)", "PRAGMA"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH"),
        (f"CREATE TABLE x AS SELECT * FROM {t}", "CREATE"),
        ("BEGIN", "TRANSACTION"),
        ("SELEC gender FRM", "语法"),
    ]:
        response = run(client, civil, sql)
        assert response.status_code == 422, (sql, response.text)
        assert words in response.json()["error"]["message"], (sql, response.text)
    refused = db.scalars(select(AnalysisQuery).where(AnalysisQuery.status == "refused")).all()
    assert len(refused) == 10 and all(q.refusal for q in refused)
    events = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "analysis.query_refused")).all()
    assert len(events) == 10 and all(
        json.loads(e.details)["reason"] and json.loads(e.details)["sql"] for e in events
    )


def test_ungranted_tables_columns_and_functions_are_refused(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "birth_date", "region_code"])
    cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert cars is not None
    civil = login(client, "civil_user")
    t, c = f"r{population.id}", f"r{cars.id}"
    for sql, named in [
        (f"SELECT * FROM {c}", c),  # a resource without a grant
        (f"SELECT p.gender FROM {t} p JOIN {c} v ON v.region_code = p.region_code", c),
        (f"SELECT gender FROM {t} WHERE region_code IN (SELECT region_code FROM {c})", c),
        (f"WITH v AS (SELECT * FROM {c}) SELECT COUNT(*) FROM v", c),
        ("SELECT name FROM sqlite_master", "sqlite_master"),
        ("SELECT * FROM no_such_granted_table", "no_such_granted_table"),
        (f"SELECT * FROM main.{t}", "库名"),
        ("SELECT * FROM pragma_table_info('x')", "函数"),
        # mobile exists in the store (pushed) but is not granted; id_number neither
        (f"SELECT mobile FROM {t}", "mobile"),
        (f"SELECT COUNT(*) FROM {t} WHERE id_number LIKE '1301%'", "id_number"),
        (f"WITH x AS (SELECT gender, mobile FROM {t}) SELECT gender FROM x", "mobile"),
        (f"SELECT gender FROM {t} WHERE gender IN (SELECT name FROM {t})", "name"),
        (f"SELECT load_extension('evil') FROM {t}", "load_extension"),
        (f"SELECT randomblob(100000000) FROM {t}", "randomblob"),
        (f"SELECT hex(gender) FROM {t}", "HEX"),
        (f"SELECT sqlite_version() FROM {t}", "不允许使用函数"),
    ]:
        response = run(client, civil, sql)
        assert response.status_code == 422, (sql, response.text)
        assert named in response.json()["error"]["message"], (sql, response.text)


def test_rows_outside_the_grants_scope_never_reach_the_sandbox(client, city, db) -> None:
    cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert cars is not None
    police = login(client, "police_admin")
    body = csv_body(
        *[
            f"冀A1000{i},张伟,{idn_for(i)},1391234567{i},小型轿车,2020-01-0{i + 1},{region}"
            for i, region in enumerate(["130102", "130104", "130104"])
        ],
        header="plate_number,name,id_number,mobile,vehicle_type,first_registered_on,region_code",
    )
    assert push(client, police, cars.id, body).json()["accepted"] == 3
    civil = login(client, "civil_user")
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
    t = f"r{cars.id}"
    every = run(client, civil, f"SELECT region_code, COUNT(*) AS n FROM {t} GROUP BY region_code")
    assert every.status_code == 200, every.text
    assert every.json()["rows"] == [["130102", 1]]
    tricky = run(client, civil, f"SELECT COUNT(*) FROM {t} WHERE region_code <> '130102' OR 1 = 1")
    assert tricky.status_code == 200, tricky.text
    assert tricky.json()["rows"] == [[1]]


def idn_for(i: int) -> str:
    from tests.exchange.test_ingest import idn

    return idn("130102", f"198{i}0101", "123")


def test_the_analyst_sees_masked_values_and_identifiers_are_never_releasable(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ALL)
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    response = run(client, civil, f"SELECT id_number, name, mobile, birth_date FROM {t} LIMIT 50")
    assert response.status_code == 200, response.text
    body = response.json()
    values = [str(v) for row in body["rows"] for v in row]
    assert not any(id_number_valid(v) for v in values)
    assert not any(re.fullmatch(r"1[3-9]\d{9}", v) for v in values)
    assert all(re.fullmatch(r"\d{4}-\d{2}", row[3]) for row in body["rows"])  # 年月 only
    assert body["releasable"] is False
    failed = {c["column"] for c in checks_of(body, "direct_identifiers") if not c["passed"]}
    assert failed == {"id_number", "mobile"}
    refused = client.post(
        f"/api/v1/analysis/queries/{body['id']}/release", json={"kind": "csv"}, headers=civil
    )
    assert refused.status_code == 409 and "风险评估" in refused.json()["error"]["message"]
    assert (
        db.scalar(select(AuditEvent).where(AuditEvent.event_type == "analysis.release_refused")) is not None
    )
    # A value-based check: an identifier renamed or computed still counts.
    renamed = run(client, civil, f"SELECT mobile AS remark FROM {t} LIMIT 5").json()
    assert [c["column"] for c in checks_of(renamed, "direct_identifiers") if not c["passed"]] == ["remark"]


def test_small_cells_fail_until_suppressed(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "birth_date", "region_code"])  # birth_date is L2: k = 5
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    body = run(client, civil, f"SELECT region_code, COUNT(*) AS n FROM {t} GROUP BY region_code").json()
    small = [c for c in checks_of(body, "small_cells") if not c["passed"]]
    assert [c["group"] for c in small] == ["region_code=130105"] and body["releasable"] is False
    assert "小于阈值 5" in small[0]["detail"]
    fixed = run(
        client,
        civil,
        f"SELECT region_code, COUNT(*) AS n FROM {t} GROUP BY region_code HAVING COUNT(*) >= 10",
    ).json()
    assert fixed["releasable"] is True, fixed["checks"]


def test_k_anonymity_fails_then_passes_after_generalising(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "birth_date", "region_code"])
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    body = run(client, civil, f"SELECT gender, birth_date, region_code FROM {t}").json()
    failed = [c for c in checks_of(body, "k_anonymity") if not c["passed"]]
    assert failed and body["releasable"] is False and body["k"] == 5  # birth_date is L2
    assert "k=5" in failed[0]["detail"]
    general = run(client, civil, f"SELECT gender, substr(region_code, 1, 4) AS city FROM {t}").json()
    assert general["releasable"] is True, general["checks"]
    grouped = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM {t} GROUP BY gender").json()
    assert grouped["releasable"] is True and sorted(r[1] for r in grouped["rows"]) == [20, 20]


def test_differencing_two_releases_is_refused(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "birth_date", "region_code"])
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    first = run(client, civil, f"SELECT COUNT(*) AS n FROM {t}").json()
    exported = client.post(
        f"/api/v1/analysis/queries/{first['id']}/release", json={"kind": "csv"}, headers=civil
    )
    assert exported.status_code == 200 and exported.text.strip().splitlines()[-1] == "40"
    narrower = run(client, civil, f"SELECT COUNT(*) AS n FROM {t} WHERE region_code <> '130105'").json()
    [diff] = checks_of(narrower, "differencing")
    assert diff["passed"] is False and "相差 2 人" in diff["detail"] and narrower["releasable"] is False
    refused = client.post(
        f"/api/v1/analysis/queries/{narrower['id']}/release", json={"kind": "csv"}, headers=civil
    )
    assert refused.status_code == 409
    # Both run before either is released: the release of the second is checked again and refused.
    a = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM {t} GROUP BY gender").json()
    b = run(
        client, civil, f"SELECT gender, COUNT(*) AS n FROM {t} WHERE region_code <> '130105' GROUP BY gender"
    ).json()
    assert a["releasable"] and b["releasable"]
    assert (
        client.post(
            f"/api/v1/analysis/queries/{a['id']}/release", json={"kind": "csv"}, headers=civil
        ).status_code
        == 200
    )
    late = client.post(f"/api/v1/analysis/queries/{b['id']}/release", json={"kind": "csv"}, headers=civil)
    assert late.status_code == 409 and "差分" in late.json()["error"]["message"]
    assert client.get(f"/api/v1/analysis/queries/{b['id']}", headers=civil).json()["releasable"] is False


def test_a_purpose_without_a_grant_is_forbidden(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender"])
    civil = login(client, "civil_user")
    response = run(client, civil, f"SELECT COUNT(*) FROM r{population.id}", purpose="商业营销")
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "purpose_mismatch"
    assert run(client, civil, f"SELECT COUNT(*) FROM r{population.id}", purpose=" ").status_code == 422
    refused = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "analysis.query_refused")).all()
    assert len(refused) == 2


def test_other_departments_see_nothing(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender"])
    civil = login(client, "civil_user")
    body = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM r{population.id} GROUP BY gender").json()
    hrss = login(client, "hrss_user")
    refused = run(client, hrss, f"SELECT COUNT(*) FROM r{population.id}")
    assert refused.status_code == 422 and "授权范围" in refused.json()["error"]["message"]
    assert client.get(f"/api/v1/analysis/queries/{body['id']}", headers=hrss).status_code == 404
    assert client.get("/api/v1/analysis/queries", headers=hrss).json()["total"] == 1  # its own refusal
    assert client.get("/api/v1/analysis/queries?scope=all", headers=hrss).status_code == 403


def test_derived_dataset_keeps_lineage_and_stays_in_the_department(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "region_code"])
    civil = login(client, "civil_user")
    body = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM r{population.id} GROUP BY gender").json()
    saved = client.post(
        f"/api/v1/analysis/queries/{body['id']}/release",
        json={"kind": "derived", "name": "低保核查人口性别分布"},
        headers=civil,
    )
    assert saved.status_code == 200, saved.text
    derived = saved.json()
    assert derived["level"] == "L1" and derived["shareable"] is False  # gender, region_code are L1
    lineage = derived["lineage"]
    assert lineage["sources"][0]["resource_id"] == population.id and lineage["sources"][0]["batches"]
    assert lineage["sql"] == body["sql"] and lineage["checks"] == body["checks"]
    assert client.get(f"/api/v1/analysis/derived/{derived['id']}", headers=civil).status_code == 200
    assert (
        client.get(
            f"/api/v1/analysis/derived/{derived['id']}", headers=login(client, "hrss_user")
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/analysis/derived/{derived['id']}", headers=login(client, "bureau_auditor")
        ).status_code
        == 200
    )
    missing = client.post(
        f"/api/v1/analysis/queries/{body['id']}/release", json={"kind": "derived", "name": " "}, headers=civil
    )
    assert missing.status_code == 422


def test_every_query_check_and_release_is_audited_with_its_batches(client, city, db) -> None:
    population = loaded(client, db)
    grant = granted(client, population, ["gender", "region_code"])
    civil = login(client, "civil_user")
    body = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM r{population.id} GROUP BY gender").json()
    client.post(f"/api/v1/analysis/queries/{body['id']}/release", json={"kind": "csv"}, headers=civil)
    kinds = [
        e.event_type
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.event_type.like("analysis.%")).order_by(AuditEvent.seq)
        )
    ]
    assert kinds == ["analysis.query_run", "analysis.checked", "analysis.released"]
    ran = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "analysis.query_run"))
    assert ran is not None
    [source] = json.loads(ran.details)["sources"]
    assert source["grant_id"] == grant["id"] and source["rows"] == len(REGIONS)
    batch = source["batches"][0]
    assert source["last_batch"] == batch
    released = db.scalar(select(AuditEvent).where(AuditEvent.event_type == "analysis.released"))
    assert released is not None and json.loads(released.details)["sources"][0]["batches"] == [batch]
    assert len(json.loads(released.details)["sm3"]) == 64
    # The auditor reads every query and release with the same provenance.
    auditor = login(client, "bureau_auditor")
    everyone = client.get("/api/v1/analysis/queries?scope=all", headers=auditor).json()
    assert everyone["total"] == 1 and everyone["items"][0]["sources"][0]["batches"] == [batch]
    assert client.get("/api/v1/analysis/releases", headers=auditor).json()["total"] == 1
    assert client.get("/api/v1/analysis/releases", headers=civil).status_code == 403


def test_a_query_joins_several_granted_sources(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "region_code"])
    cars = db.scalar(select(Resource).where(Resource.name == "机动车登记信息"))
    assert cars is not None
    body = csv_body(
        *[f"冀A2000{i},张伟,{idn_for(i)},1391234567{i},小型轿车,2020-01-0{i + 1},130102" for i in range(3)],
        header="plate_number,name,id_number,mobile,vehicle_type,first_registered_on,region_code",
    )
    assert push(client, login(client, "police_admin"), cars.id, body).json()["accepted"] == 3
    civil = login(client, "civil_user")
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
    client.post(
        f"/api/v1/requests/{requested['id']}/decision",
        json={"decision": "approve", "reason": "同意"},
        headers=login(client, "police_approver"),
    )
    p, c = f"r{population.id}", f"r{cars.id}"
    joined = run(
        client,
        civil,
        f"SELECT p.gender, COUNT(*) AS n FROM {p} p JOIN {c} v ON v.region_code = p.region_code "
        "GROUP BY p.gender",
    )
    assert joined.status_code == 200, joined.text
    assert sorted(r[1] for r in joined.json()["rows"]) == [36, 36]  # 12 + 12 people × 3 cars
    assert {s["resource_id"] for s in joined.json()["sources"]} == {population.id, cars.id}
    # One alias for two tables in two scopes: both tables get the columns they need.
    shadowed = run(
        client, civil, f"SELECT COUNT(*) AS n FROM {p} a WHERE a.gender IN (SELECT a.plate_number FROM {c} a)"
    )
    assert shadowed.status_code == 200, shadowed.text
    assert shadowed.json()["rows"] == [[0]]


def test_a_result_cannot_be_released_once_its_grant_is_suspended(client, city, db) -> None:
    population = loaded(client, db)
    grant = granted(client, population, ["gender"])
    civil = login(client, "civil_user")
    body = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM r{population.id} GROUP BY gender").json()
    assert body["releasable"] is True
    suspended = client.post(
        f"/api/v1/grants/{grant['id']}/suspend",
        json={"reason": "核查"},
        headers=login(client, "police_admin"),
    )
    assert suspended.status_code == 200
    refused = client.post(
        f"/api/v1/analysis/queries/{body['id']}/release", json={"kind": "csv"}, headers=civil
    )
    assert refused.status_code == 409 and "授权已不再有效" in refused.json()["error"]["message"]

"""Ways around the analysis module's output checks (S24) that a review found, each pinned: an
identifier with a prefix, a constant named like a count, a count in arithmetic, a renamed group
column, a colleague's release, an oversized result, a deeply nested query, an auditor's view."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from tests.analysis.helpers import granted, loaded, run
from tests.helpers import login

ALL = ["id_number", "name", "gender", "birth_date", "mobile", "region_code", "address"]
QUASI = ["gender", "birth_date", "region_code"]  # birth_date is L2: k = 5, small cells 5


def _release(client: TestClient, headers: dict[str, str], query_id: int, kind: str = "csv") -> int:
    body: dict[str, str] = {"kind": kind}
    if kind == "derived":
        body["name"] = f"派生{query_id}"
    return client.post(f"/api/v1/analysis/queries/{query_id}/release", json=body, headers=headers).status_code


def test_direct_identifiers_survive_a_prefix_and_become_releasable(client, city, db) -> None:
    """risk.direct_identifiers matches whole values only (fullmatch): `'x' || id_number` keeps every
    partly hidden ID number and mobile number the check refuses bare, and passes."""
    population = loaded(client, db)
    granted(client, population, ALL)
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    bare = run(client, civil, f"SELECT id_number, mobile FROM {t}").json()
    assert bare["releasable"] is False
    body = run(client, civil, f"SELECT 'x' || id_number AS a, 'x' || mobile AS b FROM {t}").json()
    assert [row[0][1:] for row in body["rows"]] == [row[0] for row in bare["rows"]]  # same values
    assert body["releasable"] is False, body["checks"]


def test_a_constant_column_named_n_defeats_k_anonymity(client, city, db) -> None:
    """k_anonymity takes group sizes from the first 'count' column even in a row-level result, and
    a column is a count by its name: `999 AS n` makes every person a group of 999."""
    population = loaded(client, db)
    granted(client, population, QUASI)
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    honest = run(client, civil, f"SELECT gender, birth_date, region_code FROM {t}").json()
    assert honest["releasable"] is False
    body = run(client, civil, f"SELECT gender, birth_date, region_code, 999 AS n FROM {t}").json()
    assert len(body["rows"]) == 40  # one row per person, as before
    assert body["releasable"] is False, body["checks"]


def test_arithmetic_on_count_hides_a_small_cell(client, city, db) -> None:
    """small_cells recognises a count only as a bare COUNT(...)/SUM(1) or by its alias:
    `COUNT(*) + 0 AS v` releases a cell of 2 people."""
    population = loaded(client, db)
    granted(client, population, QUASI)
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    body = run(client, civil, f"SELECT COUNT(*) + 0 AS v FROM {t} WHERE region_code = '130105'").json()
    assert body["rows"] == [[2]]
    assert body["releasable"] is False, body["checks"]


def test_renaming_the_group_column_defeats_differencing(client, city, db) -> None:
    """differencing keys groups by (column name, value): the same groups under another alias are
    never compared (docs: 'renaming a column changes nothing')."""
    population = loaded(client, db)
    granted(client, population, QUASI)
    civil = login(client, "civil_user")
    t = f"r{population.id}"
    first = run(client, civil, f"SELECT gender, COUNT(*) AS n FROM {t} GROUP BY gender").json()
    assert _release(client, civil, first["id"]) == 200
    narrower = run(
        client,
        civil,
        f"SELECT gender AS sex, COUNT(*) AS n FROM {t} WHERE region_code <> '130105' GROUP BY gender",
    ).json()
    assert sorted(r[1] for r in narrower["rows"]) == [19, 19]  # 20 - 19: one person per gender
    assert _release(client, civil, narrower["id"]) == 409


def test_a_colleagues_derived_dataset_is_not_compared_for_differencing(client, city, db) -> None:
    """Derived datasets are visible to the whole department, but differencing only compares the
    releasing analyst's own releases: two analysts of one department keep 40 and 38."""
    population = loaded(client, db)
    granted(client, population, QUASI)
    civil, admin = login(client, "civil_user"), login(client, "civil_admin")
    t = f"r{population.id}"
    first = run(client, civil, f"SELECT COUNT(*) AS n FROM {t}").json()
    assert _release(client, civil, first["id"], "derived") == 200
    second = run(client, admin, f"SELECT COUNT(*) AS n FROM {t} WHERE region_code <> '130105'").json()
    assert second["rows"] == [[38]]
    status = _release(client, admin, second["id"], "derived")
    seen = client.get("/api/v1/analysis/derived", headers=civil).json()["total"]
    assert not (status == 200 and seen == 2), "the department now holds 40 and 38: 2 people isolated"


def test_a_deeply_nested_query_is_refused_and_audited_not_a_500(app, city, db) -> None:
    """sqlglot raises RecursionError on deep nesting; parse() catches only ParseError/SqlglotError,
    so the request fails with 500 and the refusal is never recorded or audited."""
    with TestClient(app, client=("127.0.0.1", 50000), raise_server_exceptions=False) as client:
        population = loaded(client, db)
        granted(client, population, QUASI)
        civil = login(client, "civil_user")
        sql = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + f" FROM r{population.id}"
        response = run(client, civil, sql)
        assert response.status_code == 422, response.text
        refused = db.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "analysis.query_refused")
        ).all()
        assert len(refused) == 1


def test_result_size_is_bounded(client, city, db) -> None:
    """Only each value (16 MB) and the row count (10000) are capped: nested replace() turns one
    character into ~15 MB per row, all kept in memory, stored as JSON and returned."""
    population = loaded(client, db)
    granted(client, population, QUASI)
    civil = login(client, "civil_user")
    g = "gender"
    e = g
    for _ in range(6):
        e = f"replace({e}, {g}, {'||'.join([g] * 10)})"
    e = f"replace({e}, {g}, {'||'.join([g] * 5)})"  # 5 000 000 characters, 15 MB
    response = run(client, civil, f"SELECT {e} AS x FROM r{population.id} LIMIT 4")
    assert response.status_code == 422, f"{len(response.content) / 1e6:.0f} MB answered"


def test_an_auditor_does_not_receive_the_rows_of_an_unreleasable_result(client, city, db) -> None:
    """The auditor holds no grant; the JSON API hands them the rows of any department's query,
    including row-level results that failed the risk checks (the HTML page shows none)."""
    population = loaded(client, db)
    granted(client, population, ALL)
    civil = login(client, "civil_user")
    body = run(client, civil, f"SELECT id_number, name, mobile, birth_date FROM r{population.id}").json()
    assert body["releasable"] is False and len(body["rows"]) == 40
    auditor = login(client, "bureau_auditor")
    seen = client.get(f"/api/v1/analysis/queries/{body['id']}", headers=auditor).json()
    listed = client.get("/api/v1/analysis/queries?scope=all", headers=auditor).json()["items"]
    leaked = json.dumps([seen.get("rows"), [q.get("rows") for q in listed]], ensure_ascii=False)
    assert body["rows"][0][0] not in leaked

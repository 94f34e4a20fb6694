"""The sandbox's own walls: time budget, result cap, row cap per table, no writes or attachments."""

from __future__ import annotations

import pytest

from govshare.analysis.sandbox import Sandbox
from govshare.errors import Invalid
from tests.analysis.helpers import REGIONS, granted, loaded, run
from tests.conftest import settings_override
from tests.helpers import login


def box() -> Sandbox:
    sandbox = Sandbox()
    sandbox.load("r1", [("a", "INTEGER")], [[i] for i in range(100)])
    return sandbox


def test_the_sandbox_refuses_writes_attachments_and_unlisted_functions() -> None:
    for sql in [
        "DELETE FROM r1",
        "ATTACH DATABASE ':memory:' AS x",
        "SELECT load_extension('x')",
        "SELECT randomblob(10)",
        "PRAGMA query_only = OFF",
        "SELECT sqlite_version()",
    ]:
        sandbox = box()
        with pytest.raises(Invalid):
            sandbox.run(sql, seconds=5, max_rows=10)
        sandbox.close()


def test_time_budget_and_result_cap() -> None:
    sandbox = box()
    with pytest.raises(Invalid, match="时间上限"):
        sandbox.run("SELECT COUNT(*) FROM r1 a, r1 b, r1 c, r1 d, r1 e", seconds=0.2, max_rows=10)
    sandbox.close()
    sandbox = box()
    result = sandbox.run("SELECT a FROM r1", seconds=5, max_rows=10)
    assert len(result.rows) == 10 and result.truncated
    sandbox.close()


def test_caps_apply_through_the_api(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population, ["gender", "region_code"])
    civil = login(client, "civil_user")
    with settings_override(analysis_result_rows=7):
        body = run(client, civil, f"SELECT gender FROM r{population.id}").json()
        assert body["row_count"] == 7 and body["truncated"] is True
    with settings_override(analysis_table_rows=len(REGIONS) - 1):
        refused = run(client, civil, f"SELECT COUNT(*) FROM r{population.id}")
        assert refused.status_code == 422 and "超出分析沙箱上限" in refused.json()["error"]["message"]


def test_the_allowed_functions_run_after_transpiling_and_recursion_is_refused() -> None:
    from govshare.analysis import sql

    schema = {"r1": {"a": "INTEGER", "d": "TEXT"}}
    query = (
        "SELECT strftime('%Y', d) AS y, date(d, '+1 day') AS next, iif(a > 1, 'x', 'y') AS flag, "
        "ifnull(substr(d, 1, 4), '-') AS s, julianday(d) - julianday('2020-01-01') AS days, "
        "round(a / 3.0, 2) AS r, CASE WHEN a > 1 THEN 1 ELSE 0 END AS c FROM r1 WHERE d LIKE '20%' ORDER BY a"
    )
    sandbox = Sandbox()
    sandbox.load("r1", [("a", "INTEGER"), ("d", "TEXT")], [[1, "2020-01-02"], [2, "2021-03-04"]])
    result = sandbox.run(sql.check(sql.parse(query), schema).sqlite, seconds=5, max_rows=10)
    assert result.rows == [
        ["2020", "2020-01-03", "y", "2020", 1.0, 0.33, 0],
        ["2021", "2021-03-05", "x", "2021", 428.0, 0.67, 1],
    ]
    sandbox.close()
    recursive = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
    sandbox = box()
    with pytest.raises(Invalid, match="递归"):
        sandbox.run(sql.check(sql.parse(recursive), schema).sqlite, seconds=5, max_rows=10)
    sandbox.close()

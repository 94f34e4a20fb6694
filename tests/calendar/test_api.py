"""The holiday API: reading the years, loading a year as the Bureau, refusals."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from govshare.calendar.upload import parse_csv
from tests.helpers import login

SCHEDULE_2027 = [  # test data (tests/calendar/schedule_2027.csv), not the State Council's notice
    {"date": d.date.isoformat(), "kind": d.kind.value, "name": d.name}
    for d in parse_csv((Path(__file__).parent / "schedule_2027.csv").read_bytes())
]
BODY = {"source": "国办发明电〔2026〕99号（测试数据）", "days": SCHEDULE_2027}


def test_every_person_reads_the_years_and_their_sources(client: TestClient, city) -> None:
    headers = login(client, "civil_user")
    years = client.get("/api/v1/holidays", headers=headers).json()
    by_year = {y["year"]: y for y in years}
    assert by_year[2027]["source"] == "provisional" and by_year[2027]["holidays"] == 6
    assert by_year[2026]["source"] == "chinesecalendar" and by_year[2026]["workdays"] == 6
    year = client.get("/api/v1/holidays/2026", headers=headers).json()
    assert {"date": "2026-10-10", "kind": "workday", "name": "国庆节"} in year["days"]
    assert client.get("/api/v1/holidays").status_code == 401


def test_the_bureau_admin_loads_a_year_and_it_becomes_authoritative(client: TestClient, city) -> None:
    headers = login(client, "bureau_admin")
    response = client.put("/api/v1/holidays/2027", headers=headers, json=BODY)
    assert response.status_code == 200, response.text
    loaded = response.json()
    assert loaded["source"] == "bureau" and loaded["notice"] == BODY["source"]
    assert (loaded["holidays"], loaded["workdays"], loaded["recomputed"]) == (29, 5, 0)
    assert loaded["loaded_by"] == "bureau_admin"
    year = client.get("/api/v1/holidays/2027", headers=login(client, "civil_user")).json()
    assert year["source"] == "bureau" and len(year["days"]) == 34
    assert {"date": "2027-01-31", "kind": "workday", "name": "春节"} in year["days"]


def test_a_schedule_with_mistakes_gets_422_in_chinese(client: TestClient, city) -> None:
    headers = login(client, "bureau_admin")
    wrong = {**BODY, "days": [*SCHEDULE_2027, {"date": "2027-03-03", "kind": "workday", "name": "春节"}]}
    response = client.put("/api/v1/holidays/2027", headers=headers, json=wrong)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid" and "只能是周六或周日" in error["message"]
    assert error["details"]["problems"] == ["2027-03-03 是星期三，本来就上班：调休上班日只能是周六或周日"]
    outside = {**BODY, "days": [{"date": "2028-01-01", "kind": "holiday", "name": "元旦"}]}
    assert "不在 2027 年内" in client.put("/api/v1/holidays/2027", headers=headers, json=outside).text
    unknown_kind = {**BODY, "days": [{"date": "2027-01-01", "kind": "rest", "name": "元旦"}]}
    response = client.put("/api/v1/holidays/2027", headers=headers, json=unknown_kind)
    assert response.status_code == 422 and "取值不在允许范围内" in response.json()["error"]["message"]
    assert client.get("/api/v1/holidays/1999", headers=headers).status_code == 422


def test_nobody_but_the_bureau_admin_loads_a_year(client: TestClient, city) -> None:
    for username in ("police_admin", "bureau_reviewer", "civil_user"):
        response = client.put("/api/v1/holidays/2027", headers=login(client, username), json=BODY)
        assert response.status_code == 403, username
        assert "加载节假日安排" in response.json()["error"]["message"]
    year = client.get("/api/v1/holidays/2027", headers=login(client, "civil_user")).json()
    assert year["source"] == "provisional"

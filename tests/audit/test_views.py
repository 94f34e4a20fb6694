"""Audit pages: the auditor's search and chart, department scoping, and the chain verification button."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import func, select, text

from govshare.audit.models import AuditEvent
from govshare.web.templating import BEIJING
from tests.helpers import org
from tests.ui import ui_login

_CHART = re.compile(r'<script type="application/json" id="chart-audit-daily"[^>]*>(.*?)</script>', re.S)
_TOTAL = re.compile(r'data-testid="result-total">(\d+)<')


def _chart(html: str) -> dict:  # type: ignore[type-arg]
    match = _CHART.search(html)
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def _total(html: str) -> int:
    match = _TOTAL.search(html)
    assert match
    return int(match.group(1))


def _rows(html: str) -> list[dict[str, str]]:
    return [
        dict(zip(("seq", "event_type", "org_id"), m, strict=True))
        for m in re.findall(
            r'data-testid="audit-row" data-seq="(\d+)" data-event-type="([^"]*)" data-org-id="([^"]*)"', html
        )
    ]


def test_auditor_search_filters_paginates_and_charts(client, city, db) -> None:
    created = db.scalar(select(func.count()).where(AuditEvent.event_type == "user.created"))
    first = db.scalar(select(func.min(AuditEvent.occurred_at)).where(AuditEvent.event_type == "user.created"))
    day = first.astimezone(BEIJING).date()
    assert created > 50
    ui_login(client, "bureau_auditor")
    params = {"event_type": "user.created", "date_from": day.isoformat(), "date_to": day.isoformat()}

    page1 = client.get("/audit", params=params)
    assert page1.status_code == 200
    rows = _rows(page1.text)
    assert len(rows) == 50 and {r["event_type"] for r in rows} == {"user.created"}
    assert _total(page1.text) == created
    assert "新建人员" in page1.text and "vendor/echarts.min.js" in page1.text
    assert 'data-chart="chart-audit-daily"' in page1.text
    chart = _chart(page1.text)
    assert chart["xAxis"]["data"] == [day.isoformat()] and chart["series"][0]["data"] == [created]
    assert 'href="?event_type=user.created&amp;date_from=' in page1.text and "page=2" in page1.text

    page2 = client.get("/audit", params=params | {"page": 2})
    seqs = [int(r["seq"]) for r in _rows(page2.text)]
    assert len(seqs) == created - 50 and max(seqs) < min(int(r["seq"]) for r in rows)

    later = client.get(
        "/audit", params=params | {"date_from": (day + timedelta(days=1)).isoformat(), "date_to": ""}
    )
    assert _total(later.text) == 0 and 'data-testid="no-events"' in later.text
    assert _chart(later.text)["series"][0]["data"] == []
    earlier = client.get(
        "/audit", params=params | {"date_from": "", "date_to": (day - timedelta(days=1)).isoformat()}
    )
    assert _total(earlier.text) == 0

    bad = client.get("/audit", params={"date_from": "2026-13-01"})
    assert bad.status_code == 200 and "开始日期“2026-13-01”不是有效日期" in bad.text


def test_chart_counts_match_the_unfiltered_table(client, city, db) -> None:
    ui_login(client, "bureau_auditor")
    page = client.get("/audit").text
    chart = _chart(page)
    assert sum(chart["series"][0]["data"]) == _total(page) > 100
    assert len(chart["xAxis"]["data"]) == len(chart["series"][0]["data"])


def test_business_user_is_refused(client, city) -> None:
    csrf = ui_login(client, "civil_user")
    assert 'href="/audit"' not in client.get("/").text
    assert client.get("/audit").status_code == 403
    assert client.post("/audit/verify", data={"csrf_token": csrf}).status_code == 403


def test_security_officer_sees_only_own_department(client, city, db) -> None:
    police, civil = org(db, "police").id, org(db, "civil").id
    csrf = ui_login(client, "police_security")
    page = client.get("/audit").text
    rows = _rows(page)
    assert rows and {r["org_id"] for r in rows} == {str(police)}
    assert _total(page) == sum(_chart(page)["series"][0]["data"])
    assert "您只能查阅本单位的审计事件" in page and f'<option value="{civil}"' not in page
    assert 'data-testid="verify-form"' not in page

    other = client.get("/audit", params={"org_id": civil}).text
    assert _total(other) == 0 and _rows(other) == []
    assert client.post("/audit/verify", data={"csrf_token": csrf}).status_code == 403


def test_verify_button_reports_tampering(client, city, db) -> None:
    csrf = ui_login(client, "bureau_auditor")
    assert 'data-testid="verify-form"' in client.get("/audit").text
    ok = client.post("/audit/verify", data={"csrf_token": csrf})
    assert ok.status_code == 200 and 'data-testid="verify-ok"' in ok.text and "审计链完整" in ok.text

    db.execute(text("UPDATE audit_events SET details = details || 'x' WHERE seq = 2"))
    broken = client.post("/audit/verify", data={"csrf_token": csrf})
    assert broken.status_code == 200
    assert 'data-testid="verify-broken" data-first-seq="2" data-first-kind="hash"' in broken.text
    assert "内容在写入后被修改" in broken.text and 'data-testid="verify-problems"' in broken.text

    fragment = client.post("/audit/verify", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-first-seq="2"' in fragment.text
    recorded = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.event_type == "audit.verified")
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    assert recorded is not None and recorded.outcome == "failure"

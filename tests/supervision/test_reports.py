"""The periodic public report (公示, M23): frozen figures, a PDF with a Chinese font whose numbers are
the platform's, a CSV, an archive nobody can change, published by a job and open to everyone."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from govshare.audit.models import AuditEvent
from govshare.authz import Actor
from govshare.crypto import sm3_hex
from govshare.errors import Forbidden, Invalid
from govshare.supervision import indicators, reports
from govshare.supervision.models import PublicReport
from govshare.supervision.periods import Period
from tests.helpers import actor, login, org
from tests.sharing.test_rows import granted, loaded, rows

OPERATOR = Actor.operator("test")


def this_month_at_its_end(db) -> PublicReport:  # type: ignore[no-untyped-def]
    """This month's report as the job publishes it once the month is over (`on` its last day + 1)."""
    period = Period.parse(None)
    return reports.generate(db, actor=OPERATOR, period=period, source="job", on=period.end).report


def pdf_text(data: bytes) -> str:
    """The PDF's text without the spaces (and NULs) pypdf's extractor puts between two-byte glyphs."""
    return re.sub(
        r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    )


def test_the_pdf_embeds_a_chinese_font_and_carries_the_platforms_numbers(client, city, db) -> None:
    population = loaded(client, db)
    granted(client, population)
    assert rows(client, population, login(client, "civil_user"), limit=3).status_code == 200
    report = this_month_at_its_end(db)
    police = org(db, "police")
    expected = next(
        d for d in indicators.compute(db, Period.parse(None)).departments if d.org_id == police.id
    )
    assert expected.calls >= 1 and expected.rows_delivered >= 3

    reader = PdfReader(io.BytesIO(report.pdf))
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    descriptors = [f["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object() for f in fonts]
    assert descriptors and all("/FontFile3" in d or "/FontFile2" in d for d in descriptors)  # embedded
    assert len({f.indirect_reference.idnum for f in fonts}) == 1  # one face, parsed once, for headings too
    text = pdf_text(report.pdf)
    assert reports.title_for(Period.parse(None)) in text
    assert "全市总体情况" in text and "各部门情况" in text
    row = [police.short_name, expected.compiled, expected.published, expected.attach_rate]
    assert "".join(indicators_cell(v) for v in row) in text
    total = indicators.compute(db, Period.parse(None)).total
    assert f"{total.calls}{total.consumers}{total.rows_delivered}" in text


def indicators_cell(value) -> str:  # type: ignore[no-untyped-def]
    return "—" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def test_the_csv_matches_the_frozen_figures_and_both_files_match_their_sm3(client, city, db) -> None:
    report = this_month_at_its_end(db)
    assert sm3_hex(report.pdf) == report.pdf_sm3 and sm3_hex(report.csv) == report.csv_sm3
    table = list(csv.reader(io.StringIO(report.csv.decode("utf-8-sig"))))
    assert table[0][0] == "部门" and table[0][3] == "挂接率（%）"
    assert len(table) == len(report.data["departments"]) + 2  # heading, departments, city total
    by_name = {line[0]: line for line in table[1:]}
    for department in report.data["departments"]:
        line = by_name[department["name"]]
        assert line[2] == str(department["published"]) and line[11] == str(department["calls"])
    assert by_name["全市合计"][1] == str(report.data["total"]["compiled"])


def test_a_published_report_is_archived_unchanged(client, city, db) -> None:
    first = this_month_at_its_end(db)
    frozen = (first.pdf_sm3, first.csv_sm3, first.data)
    loaded(client, db)  # the platform moves on
    again = reports.generate(db, actor=OPERATOR, period=Period.parse(None), on=Period.parse(None).end)
    assert not again.created and again.report.id == first.id
    assert (again.report.pdf_sm3, again.report.csv_sm3, again.report.data) == frozen
    events = db.scalars(select(AuditEvent).where(AuditEvent.event_type == "report.published")).all()
    assert [json.loads(e.details)["period"] for e in events].count(Period.parse(None).code) == 1


def test_only_a_finished_period_is_published_and_only_by_the_bureau(client, city, db) -> None:
    with pytest.raises(Invalid):
        reports.generate(db, actor=OPERATOR, period=Period.parse(None))  # this month is not over
    with pytest.raises(Forbidden):
        reports.generate(db, actor=actor(db, "police_admin"), period=Period.parse("2026-01"))
    refused = client.post(
        "/api/v1/supervision/reports", json={"period": "2026-01"}, headers=login(client, "bureau_reviewer")
    )
    assert refused.status_code == 403
    published = client.post(
        "/api/v1/supervision/reports", json={"period": "2026-01"}, headers=login(client, "bureau_admin")
    )
    assert published.status_code == 201, published.text
    assert published.json()["title"] == "石家庄市政务数据共享情况月度公示（2026年1月）"
    twice = client.post(
        "/api/v1/supervision/reports", json={"period": "2026-01"}, headers=login(client, "bureau_admin")
    )
    assert twice.status_code == 200 and twice.json()["id"] == published.json()["id"]
    current = client.post(
        "/api/v1/supervision/reports",
        json={"period": Period.parse(None).code},
        headers=login(client, "bureau_admin"),
    )
    assert current.status_code == 422 and "尚未结束" in current.json()["error"]["message"]


def test_the_job_publishes_the_last_finished_month_and_quarter_once(db, city) -> None:
    on = date(2026, 10, 5)
    done = reports.publish_due(db, on=on)
    assert sorted((r.kind, r.period) for r in done) == [("month", "2026-09"), ("quarter", "2026-Q3")]
    assert reports.publish_due(db, on=on) == []
    later = reports.publish_due(db, on=date(2026, 11, 1))
    assert [(r.kind, r.period) for r in later] == [("month", "2026-10")]


def test_the_archive_and_its_files_are_public(client, city, db) -> None:
    report = this_month_at_its_end(db)
    listed = client.get("/api/v1/open/reports")
    assert listed.status_code == 200 and report.id in [r["id"] for r in listed.json()["items"]]
    detail = client.get(f"/api/v1/open/reports/{report.id}").json()
    assert detail["data"]["total"]["published"] == report.data["total"]["published"]
    page = client.get("/open/reports")
    assert page.status_code == 200 and report.title in page.text
    shown = client.get(f"/open/reports/{report.id}")
    assert shown.status_code == 200 and report.pdf_sm3 in shown.text
    pdf = client.get(f"/open/reports/{report.id}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == report.pdf and pdf.headers["x-content-sm3"] == report.pdf_sm3
    csv_file = client.get(f"/open/reports/{report.id}.csv")
    assert csv_file.status_code == 200 and csv_file.content == report.csv
    assert client.get("/open/reports/999999.pdf").status_code == 404
    assert client.get("/open/reports/999999").status_code == 404

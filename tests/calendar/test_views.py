"""The holiday pages, driven as the Bureau's administrator and a department's user use them."""

from __future__ import annotations

import re
from pathlib import Path

from govshare.workdays import Calendar, Source
from tests.ui import browser, hidden, text, texts

SCHEDULE = (Path(__file__).parent / "schedule_2027.csv").read_bytes()  # test data, not the real notice
NOTICE = "国办发明电〔2026〕99号（测试数据）"


def _upload(person, content: bytes, year: str = "2027", source: str = NOTICE):  # type: ignore[no-untyped-def]
    return person.client.post(
        "/admin/holidays/preview",
        data={"year": year, "source": source, "csrf_token": person.csrf},
        files={"file": ("2027.csv", content, "text/csv")},
        follow_redirects=False,
    )


def test_the_bureau_uploads_a_year_confirms_the_changes_and_sees_it_loaded(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    page = admin.get("/admin/holidays")
    assert page.status_code == 200
    assert 'href="/admin/holidays"' in page.text  # in the navigation
    assert any("2027 年的国务院节假日安排尚未加载" in a for a in texts(page.text, "provisional-alert"))
    assert texts(page.text, "year-source")[0] == "暂定"  # 2027, the newest year, first

    preview = _upload(admin, SCHEDULE)

    assert preview.status_code == 200, preview.text
    assert text(preview.text, "preview-source") == NOTICE
    changes = texts(preview.text, "change-row")
    # 1-01, 5-01, 5-02 and 10-01…10-03 are holidays under the provisional rule already; the rest changes.
    assert "2027-01-31（周日）周末休息上班（春节）" in changes
    assert "2027-02-08（周一）正常工作日放假（春节）" in changes
    assert not any(c.startswith("2027-01-01") for c in changes)
    assert len(changes) == 34 - 6
    assert Calendar.load(db).source(2027) is Source.provisional  # nothing loaded before confirming

    done = admin.post("/admin/holidays/2027", {"source": NOTICE, "days": hidden(preview.text, "days")})

    assert done.status_code == 303 and done.headers["location"] == "/admin/holidays/2027?done=loaded"
    year = admin.get(done.headers["location"])
    assert text(year.text, "notice").startswith("节假日安排已加载")
    assert NOTICE in text(year.text, "year-source")
    assert 'data-testid="provisional-label"' not in year.text
    assert len(texts(year.text, "month")) == 12
    assert re.search(r'class="day workday"[^>]*data-testid="day-2027-01-31"', year.text)
    assert re.search(r'class="day holiday"[^>]*data-testid="day-2027-02-08"', year.text)
    assert len(texts(year.text, "special-day")) == 34
    assert Calendar.load(db).source(2027) is Source.bureau


def test_an_upload_with_mistakes_comes_back_with_every_problem(app, city, db) -> None:
    admin = browser(app, "bureau_admin")
    wrong = SCHEDULE + "2027-03-03,上班,春节\n2027-06-31,放假,端午节\n".encode()
    response = _upload(admin, wrong)
    assert response.status_code == 422
    assert "第 37 行的日期“2027-06-31”应写成 2027-01-01 的形式" in texts(response.text, "problem")
    response = _upload(admin, SCHEDULE + "2027-03-03,上班,春节\n".encode())
    assert response.status_code == 422
    assert texts(response.text, "problem") == ["2027-03-03 是星期三，本来就上班：调休上班日只能是周六或周日"]
    assert 'value="国办发明电〔2026〕99号（测试数据）"' in response.text  # the form keeps what was typed
    assert _upload(admin, SCHEDULE, year="二〇二七").status_code == 422
    gbk = _upload(admin, SCHEDULE.decode().encode("gb18030"))
    assert gbk.status_code == 200  # Excel's CSV on Chinese Windows
    # A tampered confirmation gets the same checks.
    tampered = admin.post("/admin/holidays/2027", {"source": NOTICE, "days": "2027-03-03,上班,春节\n"})
    assert tampered.status_code == 422 and Calendar.load(db).source(2027) is Source.provisional


def test_people_read_the_calendar_but_only_the_bureau_admin_loads_it(app, city, db) -> None:
    user = browser(app, "civil_user")
    page = user.get("/admin/holidays/2027")
    assert page.status_code == 200
    assert text(page.text, "provisional-label") == "暂定"
    assert "请联系市数据资源管理局加载" in text(page.text, "year-source")
    assert re.search(r'class="day holiday provisional"[^>]*data-testid="day-2027-10-01"', page.text)
    listing = user.get("/admin/holidays")
    assert listing.status_code == 200 and 'data-testid="upload-form"' not in listing.text
    assert 'href="/admin/holidays"' not in listing.text.split('class="sidebar"')[1].split("</nav>")[0]
    assert _upload(user, SCHEDULE).status_code == 403
    assert user.post("/admin/holidays/2027", {"source": NOTICE, "days": SCHEDULE.decode()}).status_code == 403
    assert Calendar.load(db).source(2027) is Source.provisional
    known = user.get("/admin/holidays/2026")
    assert re.search(r'class="day workday"[^>]*data-testid="day-2026-10-10"', known.text)

"""The policy pages driven through their forms: list with filters and the overdue mark, detail with
version history, adopting, revising (stale edits), reviewing and retiring; text is escaped."""

from __future__ import annotations

from datetime import timedelta

from govshare.workdays import today
from tests.helpers import org
from tests.ui import browser, hidden, text, texts

SCRIPT = '<script>alert("x")</script>'


def _new(**overrides: str) -> dict[str, str]:
    return {
        "kind": "emergency_plan",
        "title": "市公安局数据安全应急预案",
        "body": f"第一段{SCRIPT}\n第二段",
        "effective_on": str(today()),
        "review_months": "12",
        **overrides,
    }


def test_every_person_sees_the_register_with_the_overdue_review_marked(app, city, db) -> None:
    user = browser(app, "police_user")
    page = user.get("/policies").text
    rows = texts(page, "policy-row")
    assert len(rows) == 3 and "发布制度" not in page
    assert [r for r in rows if "逾期未审核" in r] == [
        next(r for r in rows if "市公安局数据资产安全管理制度" in r)
    ]
    bureau_only = texts(user.get("/policies", params={"org": org(db, "bureau").id}).text, "policy-row")
    assert len(bureau_only) == 2 and all("市数据资源管理局" in r or "市数据局" in r for r in bureau_only)
    by_kind = texts(user.get("/policies", params={"kind": "strategy"}).text, "policy-row")
    assert len(by_kind) == 1 and "安全方针" in by_kind[0]
    health = texts(browser(app, "health_user").get("/policies").text, "policy-row")
    assert len(health) == 2 and not any("市公安局" in r for r in health)


def test_an_admin_adopts_revises_reviews_and_retires_through_the_forms(app, city, db) -> None:
    admin = browser(app, "police_admin")
    form = admin.get("/policies/new").text
    assert 'value="strategy"' not in form and 'value="asset_rules"' in form  # the Bureau's kinds stay off

    refused = admin.post("/policies", _new(review_months="40"))
    assert refused.status_code == 422 and "审核周期" in text(refused.text, "form-error")
    created = admin.post("/policies", _new())
    assert created.status_code == 303
    location = created.headers["location"].split("?")[0]
    detail = admin.get(created.headers["location"]).text
    assert text(detail, "notice") == "制度已发布。"
    # The body is shown as text: the markup arrives escaped (the two lines are two paragraphs).
    assert "第一段&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in detail.replace("&quot;", "&#34;")
    assert text(detail, "policy-body") == f"第一段{SCRIPT}第二段"
    assert "<script>alert" not in detail

    edit = admin.get(f"{location}/revise").text
    version = hidden(edit, "version")
    fields = {
        "title": "市公安局数据安全应急预案（2026年修订）",
        "body": "修订后的正文",
        "effective_on": str(today()),
        "review_months": "6",
        "change_note": "按演练结果修订",
    }
    assert admin.post(f"{location}/revise", {**fields, "version": version}).status_code == 303
    stale = admin.post(f"{location}/revise", {**fields, "version": version, "body": "迟到"})
    assert stale.status_code == 409 and texts(stale.text, "reload")
    detail = admin.get(location).text
    assert text(detail, "policy-version") == "第 2 版" and text(detail, "policy-body") == "修订后的正文"
    assert len(texts(detail, "policy-version-row")) == 2
    old = admin.get(f"{location}/versions/1").text
    assert "第一段" in text(old, "version-body") and texts(old, "version-superseded")
    assert "<script>alert" not in old

    stale_review = admin.post(f"{location}/review", {"version": "1"})
    assert stale_review.status_code == 409 and "第 2 版" in text(stale_review.text, "form-error")
    reviewed = admin.post(f"{location}/review", {"version": "2", "note": "无需修改"})
    assert (
        reviewed.status_code == 303 and "下次审核日期已顺延" in admin.get(reviewed.headers["location"]).text
    )

    assert 'data-confirm="确定废止该制度吗' in detail
    no_reason = admin.post(f"{location}/retire", {"version": "2", "reason": ""})
    assert no_reason.status_code == 422 and "废止理由" in text(no_reason.text, "form-error")
    retired = admin.post(f"{location}/retire", {"version": "2", "reason": "并入新预案"})
    assert retired.status_code == 303
    detail = admin.get(location).text
    assert "并入新预案" in text(detail, "policy-retire-reason") and "policy-review-form" not in detail


def test_readers_get_no_forms_and_other_departments_get_404(app, city, db) -> None:
    admin = browser(app, "police_admin")
    location = admin.post("/policies", _new(effective_on=str(today() - timedelta(days=500)))).headers[
        "location"
    ]
    location = location.split("?")[0]
    reader = browser(app, "police_user")
    page = reader.get(location)
    assert (
        page.status_code == 200
        and "policy-review-form" not in page.text
        and texts(page.text, "policy-overdue")
    )
    assert reader.get("/policies/new").status_code == 403
    assert reader.post(f"{location}/retire", {"version": "1", "reason": "x"}).status_code == 403
    assert browser(app, "bureau_admin").get(location).status_code == 200  # the Bureau supervises
    for outsider in ("health_admin",):
        other = browser(app, outsider)
        assert other.get(location).status_code == 404
        assert other.get(f"{location}/versions/1").status_code == 404
        assert other.post(f"{location}/review", {"version": "1"}).status_code == 404

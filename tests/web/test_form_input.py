"""Bad input through the HTML forms and pages that once gave a server error, cut what was typed or
changed something: each test asserts what the standard asks for (a 4xx with a Chinese message that
names the field where there is one, and nothing changed)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.destruction.models import DestructionRequest
from govshare.policies.models import SecurityPolicy
from tests.catalog.conftest import entry
from tests.catalog.test_views import _form
from tests.helpers import actor, login, user_id
from tests.ui import Browser, login_csrf


def _browser(app: FastAPI, username: str | None = None) -> Browser:
    """A browser whose server errors come back as the 500 page a person would see, not as exceptions."""
    person = Browser(app)
    person.client = TestClient(app, client=("127.0.0.1", 50000), raise_server_exceptions=False)
    if username is not None:
        person.login(username)
    return person


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


# --- the catalog compile form caps long fields at 100 characters ----------------------------------


def test_compile_form_takes_a_summary_as_long_as_the_schema_allows(app, db, city) -> None:
    """EntryForm types summary, legal_basis, sharing_condition, related… as FilterText (a query
    parameter capped at 100): a 150-character summary (the schema allows 2000) is refused on the
    generic error page as "summary：太长" and everything typed is lost."""
    compiler = _browser(app, "civil_admin")
    before = _count(db, Resource)
    summary = "社区工作人员走访困难群众的记录，" * 10  # 160 characters
    response = compiler.post("/catalog", _form(db, summary=summary))
    assert response.status_code == 303, response.text[:2000]
    assert _count(db, Resource) == before + 1
    created = db.scalar(select(Resource).where(Resource.name == "困难群众走访记录"))
    assert created is not None


def test_edit_page_opens_for_an_entry_with_a_long_summary(app, db, city) -> None:
    """An entry whose summary is over 100 characters (valid: created through the API or an import)
    cannot be edited at all: building its EntryForm raises a ValidationError, a 500."""
    resource = catalog.create_resource(
        db, actor=actor(db, "civil_admin"), data=entry(db, summary="社区工作人员走访困难群众的记录。" * 8)
    )
    compiler = _browser(app, "civil_admin")
    response = compiler.get(f"/catalog/{resource.id}/edit")
    assert response.status_code == 200, response.status_code
    assert "社区工作人员走访困难群众的记录。" * 8 in response.text


# --- forged tokens that are not ASCII ---------------------------------------------------------------


def test_login_with_a_forged_non_ascii_csrf_token_is_refused_clearly(app, db, city) -> None:
    """secrets.compare_digest raises TypeError for non-ASCII str: a forged login_csrf is a 500."""
    person = _browser(app)
    login_csrf(person.client.get("/login").text)  # the page sets the double-submit cookie
    response = person.client.post(
        "/login",
        data={"username": "civil_admin", "password": "x", "login_csrf": "伪造的令牌", "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 400, response.status_code
    assert "登录页面已过期" in response.text


def test_open_data_lookup_with_a_forged_non_ascii_form_token_is_refused(app, db, city) -> None:
    """The public portal's `_check_form` compares with secrets.compare_digest too: a 500."""
    visitor = _browser(app)
    visitor.client.get("/open/applications/lookup")  # sets the form cookie
    response = visitor.client.post(
        "/open/applications/lookup",
        data={"number": "OD20260001", "code": "123456", "form_token": "１２３"},
        follow_redirects=False,
    )
    assert response.status_code == 403, response.status_code
    assert "页面已过期" in response.text


def test_a_cursor_sealed_under_a_key_id_that_is_not_ascii_is_refused(client, city, db) -> None:
    """The cursor's key id is compared in constant time; any text a caller puts there is refused."""
    from base64 import urlsafe_b64encode

    from tests.sharing.test_rows import granted, loaded, rows

    population = loaded(client, db)
    granted(client, population)
    forged = urlsafe_b64encode("sm4gcm1:密钥:AAAA".encode()).decode().rstrip("=")
    response = rows(client, population, login(client, "civil_user"), cursor=forged)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"field": "cursor"}


# --- a NUL character in a search term (SQLite FTS5) ----------------------------------------------


def test_search_term_with_a_nul_character_is_not_a_server_error(app, db, city) -> None:
    """A term of three or more characters goes to FTS5 MATCH as a phrase; with a NUL in it SQLite
    raises "unterminated string", a 500 on the public portal and on the catalog list."""
    visitor = _browser(app)
    public = visitor.client.get("/open/resources", params={"q": "人口\x00信息"})
    assert public.status_code in (200, 422), public.status_code
    assert _chinese(public.text)
    reader = _browser(app, "civil_user")
    listed = reader.get("/catalog", params={"q": "人口\x00信息"})
    assert listed.status_code in (200, 422), listed.status_code


# --- dates at the ends of the calendar --------------------------------------------------------------


def test_audit_search_up_to_the_last_representable_day(app, db, city) -> None:
    """`until + timedelta(days=1)` overflows for 9999-12-31: OverflowError, a 500."""
    auditor = _browser(app, "bureau_auditor")
    response = auditor.get("/audit", params={"date_to": "9999-12-31"})
    assert response.status_code in (200, 422), response.status_code
    if response.status_code == 422:
        assert "结束日期" in response.text


def test_policy_with_an_effective_date_near_year_9999_is_refused_naming_the_field(app, db, city) -> None:
    """add_months(9999-12-01, 12) builds date(10000, …): ValueError, a 500."""
    officer = _browser(app, "police_admin")
    before = _count(db, SecurityPolicy)
    response = officer.post(
        "/policies",
        {
            "kind": "asset_rules",
            "title": "数据资产安全管理办法",
            "body": "第一条 为规范本单位数据资产管理，制定本办法。",
            "effective_on": "9999-12-01",
            "review_months": "12",
        },
    )
    assert response.status_code == 422, response.status_code
    assert "生效日期" in response.text
    assert _count(db, SecurityPolicy) == before


def test_destruction_time_range_from_year_one_is_refused_naming_the_field(app, db, city) -> None:
    """0001-01-01T00:00 Beijing time has no UTC equivalent: astimezone raises OverflowError, a 500."""
    population = db.scalar(select(Resource).where(Resource.name == "人口基础信息"))
    assert population is not None
    admin = _browser(app, "police_admin")
    before = _count(db, DestructionRequest)
    response = admin.post(
        "/destructions/new",
        {
            "resource_id": str(population.id),
            "scope": "time_range",
            "method": "delete",
            "supervisor_id": str(user_id(db, "police_supervisor")),
            "reason": "数据超过保存期限，按规定销毁。",
            "received_from": "0001-01-01T00:00",
            "received_until": "2026-01-01T00:00",
        },
    )
    assert response.status_code == 422, response.status_code
    assert "时间" in response.text and _chinese(response.text)
    assert _count(db, DestructionRequest) == before

"""The masking page: the Bureau edits profiles with selects and tries them; others read them (S23)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.masking.models import MaskingProfile
from govshare.masking.profiles import KINDS, LEVELS
from tests.ui import ui_login


def _form(page: str) -> dict[str, str]:
    """The editor's fields as the page fills them (inputs, selected options, the textarea)."""
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    form |= dict(re.findall(r'<input name="(name|code)" value="([^"]*)"', page))
    form["description"] = re.search(r'<textarea name="description"[^>]*>([^<]*)<', page).group(1)  # type: ignore[union-attr]
    form["elements"] = re.search(r'<textarea name="elements"[^>]*>([^<]*)<', page).group(1)  # type: ignore[union-attr]
    for name, options in re.findall(r'<select name="(rule_\w+)"[^>]*>(.*?)</select>', page, re.S):
        form[name] = re.search(r'<option value="([^"]*)" selected>', options).group(1)  # type: ignore[union-attr]
    return form


def test_others_see_what_each_profile_does_read_only(client: TestClient, city) -> None:
    ui_login(client, "police_user")
    page = client.get("/admin/masking")
    assert page.status_code == 200
    assert page.text.count('data-testid="profile"') == 4
    for text in (
        "标准脱敏",
        "严格脱敏",
        "关联分析",
        "公民身份号码（保留前 6 位和后 4 位）",
        "日期（只保留年份）",
        "不提供",
    ):
        assert text in page.text
    assert 'href="/admin/masking"' in page.text  # in the navigation
    assert 'data-testid="profile-form"' not in page.text and 'data-testid="preview-form"' not in page.text
    assert "edit-standard" not in page.text
    # Asking for the editor shows nothing more; posting it is refused.
    assert 'data-testid="profile-form"' not in client.get("/admin/masking?edit=standard").text
    csrf = ui_login(client, "police_admin")
    refused = client.post("/admin/masking/save", data={"csrf_token": csrf, "code": "standard", "name": "x"})
    assert refused.status_code == 403
    preview = client.post("/admin/masking/preview", data={"csrf_token": csrf, "profile": "standard"})
    assert preview.status_code == 403


def test_the_bureau_edits_a_profile_with_selects(client: TestClient, city, db: Session) -> None:
    csrf = ui_login(client, "bureau_admin")
    page = client.get("/admin/masking?edit=standard")
    assert page.status_code == 200 and 'data-testid="profile-form"' in page.text
    form = _form(page.text)
    assert {f"rule_{level}_{kind}" for level in LEVELS for kind in KINDS} <= set(form)
    assert form["rule_L3_region"] == "region(4)" and form["code"] == "standard"

    form |= {"csrf_token": csrf, "rule_L2_other": "keep(1,1)", "elements": "DE0006 = pseudonym"}
    saved = client.post("/admin/masking/save", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    profile = db.scalar(select(MaskingProfile).where(MaskingProfile.code == "standard"))
    assert profile is not None
    assert profile.levels["L2"]["other"] == "keep(1,1)" and profile.elements == {"DE0006": "pseudonym"}
    assert "脱敏方案已保存" in client.get(saved.headers["location"]).text

    # A wrong cell comes back on the form with a Chinese message; a stale form offers a reload.
    wrong = client.post("/admin/masking/save", data=form | {"rule_L1_date": "date_week"})
    assert wrong.status_code == 422 and "L1 级“日期”：不认识的脱敏规则“date_week”" in wrong.text
    assert 'data-testid="profile-form"' in wrong.text
    bad_line = client.post("/admin/masking/save", data=form | {"elements": "DE0001 pseudonym"})
    assert bad_line.status_code == 422 and "数据元规则第 1 行" in bad_line.text
    stale = client.post("/admin/masking/save", data=form)  # the version the form carried is gone
    assert stale.status_code == 409 and 'data-testid="reload"' in stale.text


def test_the_bureau_creates_a_profile_and_tries_it(client: TestClient, city, db: Session) -> None:
    csrf = ui_login(client, "bureau_admin")
    page = client.get("/admin/masking?edit=new")
    form = _form(page.text) | {
        "csrf_token": csrf,
        "code": "research",
        "name": "科研分析",
        "rule_L2_name": "pseudonym",
    }
    created = client.post("/admin/masking/save", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    assert "脱敏方案已新建" in client.get(created.headers["location"]).text
    again = client.post("/admin/masking/save", data=form | {"name": "另一个名字"})
    assert again.status_code == 409 and "方案编码“research”已被使用" in again.text

    home = client.get("/admin/masking")
    assert 'data-testid="preview-form"' in home.text and "试用脱敏方案" in home.text
    values = dict(re.findall(r'<input name="(value_\w+)" value="([^"]*)"', home.text))
    assert values["value_id_number"] == "130102198503177718"
    tried = client.post(
        "/admin/masking/preview",
        data={"csrf_token": csrf, "profile": "standard", **values},
        headers={"HX-Request": "true"},
    )
    assert tried.status_code == 200
    masked = dict(re.findall(r'data-testid="masked-(\w+)">(?:<code>)?([^<]*)', tried.text))
    assert masked["id_number"] == "130102********7718"
    assert masked["mobile"] == "139****5678" and masked["name"] == "欧阳**"
    assert masked["birth_date"] == "1985-03" and masked["bank_card"] == "622202*********0123"
    assert "不提供" in tried.text.split('data-testid="masked-diagnosis">')[1][:40]
    research = client.post(
        "/admin/masking/preview",
        data={"csrf_token": csrf, "profile": "research", **values},
        headers={"HX-Request": "true"},
    )
    assert re.search(r'data-testid="masked-name"><code>[a-p]{32}<', research.text)

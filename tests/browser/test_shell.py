"""The shell every page lives in: login, the workbench, navigation by role, logout, fonts, assets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.ui import PageWatch, fill_login, login, nav_labels

pytestmark = pytest.mark.browser

ALL_ENTRIES = [
    "工作台",
    "数据目录",
    "目录监督",
    "数据及时性",
    "数据共享",
    "共享监督",
    "分析审计",
    "单位管理",
    "人员与角色",
    "人员备案",
    "业务系统",
    "数据资产登记",
    "分类分级",
    "脱敏方案",
    "备份与恢复",
    "数据销毁",
    "安全制度",
    "审计日志",
    "安全告警",
    "安全事件",
    "违规与整改",
    "开放申请",
]
BUREAU_ADMIN_NAV = [
    "工作台",
    "数据目录",
    "目录监督",
    "数据及时性",
    "数据共享",
    "共享监督",
    "分析审计",
    "单位管理",
    "人员与角色",
    "人员备案",
    "业务系统",
    "数据资产登记",
    "分类分级",
    "脱敏方案",
    "备份与恢复",
    "数据销毁",
    "安全制度",
    "安全告警",
    "安全事件",
    "节假日安排",
    "违规与整改",
    "开放申请",
]
DEPARTMENT_ADMIN_NAV = [
    "工作台",
    "数据目录",
    "数据及时性",
    "数据共享",
    "共享监督",
    "数据分析",
    "单位管理",
    "人员与角色",
    "人员备案",
    "业务系统",
    "数据资产登记",
    "分类分级",
    "脱敏方案",
    "数据销毁",
    "安全制度",
    "违规与整改",
]
# Every person reads the security policies that bind them (安全制度).
_ORG_VIEW_ONLY = ["工作台", "数据目录", "单位管理", "分类分级", "脱敏方案"]
_SHARING = ["工作台", "数据目录", "数据共享", "单位管理", "分类分级", "脱敏方案"]
ORG_VIEW_ONLY_NAV = [*_ORG_VIEW_ONLY, "安全制度"]
SHARING_NAV = ["工作台", "数据目录", "数据共享", "数据分析", "单位管理", "分类分级", "脱敏方案", "安全制度"]
APPROVER_NAV = [*_SHARING, "数据销毁", "安全制度"]
SUPERVISOR_NAV = [*_ORG_VIEW_ONLY, "数据销毁", "安全制度"]

# (demo username, Chinese role label, sidebar entries), derived from authz.PERMISSIONS and
# templating.NAV by hand so that a change to either shows up here.
PEOPLE = [
    ("bureau_admin", "市数据资源管理局管理员", BUREAU_ADMIN_NAV),
    (
        "bureau_reviewer",
        "市数据资源管理局审核员",
        [
            "工作台",
            "数据目录",
            "目录审核",
            "目录监督",
            "数据及时性",
            "数据共享",
            "共享监督",
            "单位管理",
            "人员备案",
            "数据资产登记",
            "分类分级",
            "脱敏方案",
            "安全制度",
            "违规与整改",
            "开放申请",
        ],
    ),
    ("bureau_auditor", "审计员", ALL_ENTRIES),
    ("police_admin", "数据资源管理员", DEPARTMENT_ADMIN_NAV),
    ("police_approver", "审批人", APPROVER_NAV),
    ("civil_admin", "数据资源管理员", DEPARTMENT_ADMIN_NAV),
    ("civil_user", "业务人员", SHARING_NAV),
    ("police_compiler", "目录编制员", ORG_VIEW_ONLY_NAV),
    (
        "police_security",
        "安全管理员",
        [
            "工作台",
            "数据目录",
            "数据及时性",
            "数据共享",
            "单位管理",
            "人员与角色",
            "业务系统",
            "数据资产登记",
            "分类分级",
            "脱敏方案",
            "数据销毁",
            "安全制度",
            "审计日志",
            "安全告警",
        ],
    ),
    ("police_supervisor", "销毁监督员", SUPERVISOR_NAV),
]


@pytest.mark.parametrize(("username", "role_label", "nav"), PEOPLE, ids=[p[0] for p in PEOPLE])
def test_each_demo_person_logs_in_to_a_workbench_fitting_their_role(
    page: Page, live_server: str, username: str, role_label: str, nav: list[str]
) -> None:
    login(page, username)

    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("工作台")
    expect(page.get_by_test_id("current-user")).to_have_text(username)
    expect(page.get_by_test_id("role")).to_have_text([role_label])
    # Exactly these entries: a business user must not even see 审计日志 or 人员与角色, nor find
    # them among the workbench's shortcuts.
    assert nav_labels(page) == nav
    expect(page.locator("nav.sidebar a[aria-current=page]")).to_have_text("工作台")
    expect(page.locator("ul.shortcuts a")).to_have_text(nav[1:])


def test_the_auditor_finds_the_audit_log_in_the_sidebar(page: Page) -> None:
    login(page, "bureau_auditor")

    link = page.get_by_role("navigation", name="主导航").get_by_role("link", name="审计日志")
    expect(link).to_have_attribute("href", "/audit")


def test_a_wrong_password_shows_a_chinese_error_and_stays_on_the_login_page(
    page: Page, live_server: str
) -> None:
    # A person no other browser test logs in as: the failure counts towards a lockout.
    page.goto("/login")
    with page.expect_navigation():
        fill_login(page, "hrss_user", "not-the-password")

    expect(page.get_by_test_id("login-error")).to_contain_text("用户名或密码错误")
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server)}/login(\?.*)?$"))
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    expect(page.get_by_label("用户名", exact=True)).to_have_value("hrss_user")
    expect(page.get_by_label("密码", exact=True)).to_have_value("")


def test_logging_out_returns_to_login_and_closes_the_session(page: Page, live_server: str) -> None:
    login(page, "police_approver")
    expect(page.get_by_test_id("current-user")).to_have_text("police_approver")

    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_test_id("current-user")).to_have_count(0)

    page.goto("/")
    expect(page).to_have_url(f"{live_server}/login?next=/")
    expect(page.get_by_role("button", name="登录")).to_be_visible()


def test_a_protected_page_sends_a_stranger_to_login_and_back_afterwards(page: Page, live_server: str) -> None:
    page.goto("/password")
    expect(page).to_have_url(f"{live_server}/login?next=/password")

    with page.expect_navigation():
        fill_login(page, "civil_admin")

    expect(page).to_have_url(f"{live_server}/password")
    expect(page.get_by_role("heading", level=1)).to_have_text("修改密码")
    expect(page.get_by_test_id("current-user")).to_have_text("civil_admin")


def test_the_bureau_admin_finds_the_pending_registration_among_their_tasks(page: Page) -> None:
    login(page, "bureau_admin")

    # The registration, and the demo's escalated rectification notice (its report to the city government),
    # among whatever other browser tests of this worker left for the Bureau (an open-data application…).
    tasks = page.get_by_test_id("task")
    expect(page.get_by_test_id("task-count")).to_have_text(str(tasks.count()))
    assert tasks.count() >= 2
    expect(page.get_by_role("link", name="已生成上报市政府的报告", exact=False)).to_be_visible()
    task = page.get_by_role("link", name="审批长安区政府安全管理员备案", exact=False)
    with page.expect_navigation():
        task.click()
    expect(page).to_have_url(re.compile(r"/registrations/\d+$"))
    expect(page.get_by_text("待审批").first).to_be_visible()


def test_a_business_user_has_no_tasks(page: Page) -> None:
    login(page, "civil_user")

    expect(page.get_by_test_id("task-count")).to_have_text("0")
    expect(page.get_by_test_id("no-tasks")).to_have_text("暂无待办事项。")


def test_chinese_is_drawn_with_a_cjk_font_not_tofu(page: Page, tmp_path: Path) -> None:
    page.goto("/login")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("登录")
    page.evaluate("document.fonts.ready")

    # Ask Chromium which installed font actually drew the glyphs: without fonts-noto-cjk it falls
    # back to another family or draws .notdef boxes, and this list changes.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "section.login h1"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    families = {f["familyName"] for f in fonts if f["glyphCount"] > 0}
    assert any(name.startswith("Noto Sans CJK") for name in families), (
        f"Chinese is drawn with {fonts}, not Noto Sans CJK: run `scripts/ensure-system-packages browser`"
    )

    # Distinct characters must be distinct glyphs: tofu draws every missing character the same.
    glyphs = page.evaluate(
        """() => {
            const font = getComputedStyle(document.body).fontFamily;
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = `32px ${font}`;
            const draw = (ch) => {
                ctx.clearRect(0, 0, 64, 64);
                ctx.fillText(ch, 0, 40);
                return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
            };
            return {font, same: draw('政') === draw('务'), width: ctx.measureText('政务数据共享').width};
        }"""
    )
    assert not glyphs["same"], glyphs
    assert glyphs["width"] >= 6 * 28, glyphs  # full-width ideographs, about one em each

    shot = tmp_path / "login.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_pages_use_only_the_platforms_own_assets_and_log_no_errors(
    page: Page, live_server: str, watch: PageWatch
) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # net::ERR_ABORTED is a request the browser itself gave up, as when a navigation leaves the page
    # while its favicon still loads: not a failure of the platform (those show as status or refusal).
    page.on(
        "requestfailed",
        lambda r: (
            failed.append(f"failed {r.url}: {r.failure}") if "ERR_ABORTED" not in (r.failure or "") else None
        ),
    )

    login(page, "bureau_admin")
    page.goto("/password")
    expect(page.get_by_role("heading", level=1)).to_have_text("修改密码")
    page.wait_for_load_state("load")

    # The vendored htmx ran: the CSP let it in and /static/vendor/htmx.min.js exists.
    assert page.evaluate("typeof window.htmx") == "object"
    assert any(url.startswith(f"{live_server}/static/vendor/htmx.min.js") for url in watch.requests)
    assert any(url.startswith(f"{live_server}/static/app.css") for url in watch.requests)
    assert watch.foreign_requests(live_server) == []
    assert failed == []
    assert watch.unexpected_console_errors() == []
    assert watch.page_errors == []

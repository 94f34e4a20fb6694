"""Demo security policies (S5, S6, S8): the Bureau's security strategy and management system and the
police department's data-asset rules, the latter past its periodic review so the register shows one."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.auth.service import actor_for
from govshare.policies import service
from govshare.policies.models import PolicyKind
from govshare.users.models import User
from govshare.workdays import today

STRATEGY = """\
一、安全方针：统一领导、分级负责，谁主管谁负责、谁提供谁负责、谁使用谁负责，以安全保共享，以共享促发展。
二、安全目标：全市政务数据共享全过程可管、可控、可追溯；重要数据和敏感数据在传输和存储中全部加密；数据泄露、篡改和滥用事件及时发现、及时处置；每年至少开展一次安全检查和应急演练。
三、安全原则：最小授权，按需共享，不得超出授权范围使用数据；全程留痕，所有访问和操作记入审计日志；分类分级，按数据的敏感程度采取相应的保护措施；责任到人，各部门明确数据资源管理员和安全管理员。"""

MANAGEMENT = """\
第一条　为规范全市政务数据资源共享的安全管理，依据《石家庄市政务数据共享安全管理规定》，制定本制度。
第二条　市数据资源管理局统筹协调和监督检查全市政务数据共享安全；各部门负责本单位政务数据的安全。
第三条　各部门应当在共享平台上登记本单位的数据资源管理员和安全管理员，人员变动的，应当在变动后及时办理备案。
第四条　共享数据的申请、审批、使用、导出和销毁，均应当通过共享平台办理，全程记录并接受审计。
第五条　发生或者可能发生数据安全事件的，有关部门应当立即采取处置措施，并按照安全应急预案报告。
第六条　本制度每年审核一次，由市数据资源管理局根据法律法规和工作需要修订。"""

POLICE_ASSETS = """\
一、目标：保障本单位人口、户籍等政务数据资产的保密性、完整性和可用性，确保共享数据依法依规使用。
二、原则：数据资产统一登记、分类分级、标识管理；谁经办谁负责，操作全程留痕。
三、生命周期管理：数据的采集、存储、提供、共享、归档和销毁，按照本单位审批流程办理；销毁须经本单位和市数据资源管理局批准，并由销毁监督员确认。
四、登记和标识：新增数据资源应当在编目时登记数据资产，并按照分类分级方案标识安全级别；涉及个人信息的字段须登记脱敏要求。
五、本制度由本单位数据资源管理员每年审核，必要时修订。"""


def load(db: Session) -> int:
    """Adopt the three demo policies through the service, as their owners would; returns how many."""
    people = {
        u.username: u
        for u in db.scalars(select(User).where(User.username.in_(["bureau_admin", "police_admin"])))
    }
    bureau = actor_for(db, people["bureau_admin"])
    police = actor_for(db, people["police_admin"])
    year = today().year
    adopted = [
        (
            bureau,
            PolicyKind.strategy,
            "石家庄市政务数据共享安全方针、目标和原则",
            STRATEGY,
            date(year, 1, 1),
            12,
        ),
        (
            bureau,
            PolicyKind.management,
            "石家庄市政务数据资源共享安全管理制度",
            MANAGEMENT,
            date(year, 3, 1),
            12,
        ),
        # Adopted two years ago with a yearly review that never happened: overdue.
        (
            police,
            PolicyKind.asset_rules,
            "市公安局数据资产安全管理制度",
            POLICE_ASSETS,
            date(year - 2, 6, 1),
            12,
        ),
    ]
    for actor, kind, title, body, effective_on, months in adopted:
        service.create_policy(
            db,
            actor=actor,
            data=service.PolicyText(
                kind=kind, title=title, body=body, effective_on=effective_on, review_months=months
            ),
        )
    return len(adopted)

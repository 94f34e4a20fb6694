"""Demo open-data applications (M8): an enterprise's application for the conditionally open
特种设备登记信息, approved by the Bureau's reviewer, and a research institute's, still waiting, so the
Bureau's 开放申请 inbox shows real work. Filed and decided through the services, as people would."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.auth.service import actor_for
from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.identifiers import credit_code_check_char
from govshare.opendata import applications
from govshare.opendata.models import ApplicantType
from govshare.opendata.schemas import ApplicationIn
from govshare.users.models import User
from govshare.workdays import today

EQUIPMENT = "特种设备登记信息"


def _code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


def load(db: Session) -> int:
    """File the demo applications (none when the entry is not conditionally open); returns how many."""
    resource = db.scalar(select(Resource).where(Resource.name == EQUIPMENT, Resource.status == "published"))
    reviewer = db.scalar(select(User).where(User.username == "bureau_reviewer"))
    if resource is None or resource.open_type != "conditional" or reviewer is None:
        return 0
    public = Actor.anonymous("203.0.113.10")
    approved = applications.submit(
        db,
        actor=public,
        resource_id=resource.id,
        data=ApplicationIn(
            applicant_type=ApplicantType.enterprise,
            applicant_name="周立新",
            org_name="石家庄恒安特种设备检测有限公司",
            credit_code=_code("91130100MA0DEM301"),
            phone="0311-86081234",
            email="service@hengan-jc.example.cn",
            purpose="编制本公司承接的锅炉、电梯定期检验计划，向使用单位发送检验到期提醒。",
            items=["licence_no", "credit_code", "title", "issued_on"],
            wanted_until=today() + timedelta(days=180),
        ),
    )
    applications.decide(
        db,
        actor=actor_for(db, reviewer),
        application_id=approved.application.id,
        approve=True,
        items=["licence_no", "credit_code", "issued_on"],
        valid_until=today() + timedelta(days=90),
        reason="同意开放许可证编号、统一社会信用代码和发证日期，用于检验计划编制；设备名称不予开放。",
    )
    applications.submit(
        db,
        actor=Actor.anonymous("198.51.100.24"),
        resource_id=resource.id,
        data=ApplicationIn(
            applicant_type=ApplicantType.unit,
            applicant_name="孙敏",
            org_name="河北省特种设备安全研究中心",
            phone="13703110022",
            purpose="开展全市电梯、压力容器分布与检验周期的统计研究。",
            items=["licence_no", "title", "issued_on"],
            wanted_until=today() + timedelta(days=365),
        ),
    )
    return 2

"""Build the demo city through the platform's own services."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.auth.service import actor_for
from govshare.authz import REGISTERED_ROLES, Actor, Role
from govshare.demo import activity, analysis, catalog, opendata, policies, provision, rectification
from govshare.demo.city import BUREAU_PEOPLE, DEMO_PASSWORD, DEPARTMENT_POSTS, ORGS, credit_code, person_name
from govshare.demo.data import DEMO_ROWS, POPULATION
from govshare.errors import Conflict
from govshare.orgs import service as orgs
from govshare.orgs.schemas import OrgCreate
from govshare.systems import service as systems
from govshare.systems.schemas import SystemCreate
from govshare.users import registrations
from govshare.users import service as users
from govshare.users.models import User
from govshare.users.passwords import hash_password
from govshare.users.schemas import UserCreate

POPULATION_ROWS = DEMO_ROWS[POPULATION]
DEMO_CIDRS = ["127.0.0.0/8", "::1/128", "10.130.0.0/16"]


@dataclass
class DemoResult:
    orgs: int = 0
    people: int = 0
    systems: int = 0
    resources: int = 0
    rows: int = 0
    tokens: dict[str, str] = field(default_factory=dict)


def already_loaded(db: Session) -> bool:
    return db.scalar(select(User.id).where(User.is_demo.is_(True)).limit(1)) is not None


def load(
    db: Session, *, progress: Callable[[str], None] = lambda _msg: None, population: int = POPULATION_ROWS
) -> DemoResult:
    """Create the demo organisations, people (with approved registrations) and business systems.

    Raises Conflict when demo data is already there. Returns plaintext system tokens (shown once).
    `population` sizes 人口基础信息 (and, in proportion, the entries about people); 0 loads no rows.
    """
    if already_loaded(db):
        raise Conflict("演示数据已存在。", "Demo data is already loaded.")
    operator = Actor.operator("demo-loader")
    # One argon2 hash for every demo account: they share the published demo password anyway.
    shared_hash = hash_password(DEMO_PASSWORD)
    result = DemoResult()
    bureau_admin: Actor | None = None
    person_index = 0
    for demo_org in ORGS:
        progress(demo_org.name)
        org = orgs.create_org(
            db,
            actor=operator,
            data=OrgCreate(
                code=demo_org.code,
                name=demo_org.name,
                short_name=demo_org.short_name,
                kind=demo_org.kind,
                credit_code=credit_code(demo_org),
                contact_phone="0311-8" + str(6000000 + person_index * 137)[:7],
            ),
        )
        result.orgs += 1
        if demo_org.code == "bureau":
            people = [(u, n, roles) for u, n, roles in BUREAU_PEOPLE]
        else:
            people = [
                (f"{demo_org.code}_{suffix}", person_name(person_index + i), [role])
                for i, (suffix, role) in enumerate(DEPARTMENT_POSTS)
            ]
        created: list[tuple[User, list[Role]]] = []
        for username, display_name, roles in people:
            user = users.create_user(
                db,
                actor=operator,
                is_demo=True,
                enforce_policy=False,
                password_hash=shared_hash,
                data=UserCreate(
                    username=username,
                    display_name=display_name,
                    org_id=org.id,
                    password=DEMO_PASSWORD,
                    roles=[r for r in roles if r not in REGISTERED_ROLES],
                ),
            )
            created.append((user, roles))
            result.people += 1
            person_index += 1
        if demo_org.code == "bureau":
            admin = next(u for u, _ in created if u.username == "bureau_admin")
            bureau_admin = Actor(
                kind="user",
                name=admin.username,
                user_id=admin.id,
                org_id=org.id,
                roles=frozenset(r for r in BUREAU_PEOPLE[0][2]),
            )
        # Key staff reach their posts through the registration the Bureau approves (M21, S7).
        for user, roles in created:
            for role in roles:
                if role in REGISTERED_ROLES:
                    assert bureau_admin is not None
                    reg = registrations.submit(
                        db, actor=bureau_admin, user_id=user.id, role=role, note="演示数据：单位报送备案"
                    )
                    registrations.decide(
                        db,
                        actor=bureau_admin,
                        registration_id=reg.id,
                        approve=True,
                        comment="演示数据：审核通过",
                    )
        contact = next(
            (u for u, roles in created if any(r in REGISTERED_ROLES for r in roles)), created[0][0]
        )
        _system, token, _row = systems.create_system(
            db,
            actor=operator,
            data=SystemCreate(
                org_id=org.id,
                code=demo_org.system_code,
                name=demo_org.system_name,
                description=f"{demo_org.short_name}接入共享平台的业务信息系统（演示）",
                contact_user_id=contact.id,
                allowed_cidrs=DEMO_CIDRS,
            ),
        )
        result.systems += 1
        result.tokens[demo_org.system_code] = token
    progress("政务数据资源目录")
    assert bureau_admin is not None
    result.resources = catalog.load(db, bureau_admin=bureau_admin)
    progress("安全管理制度")
    policies.load(db)
    progress("开放数据申请")
    opendata.load(db)
    if population:
        result.rows = provision.load_data(db, population=population, progress=progress)
        # Six months of simulated sharing and the reports published on it (supervision, M22–M23).
        activity.load(db, progress=progress)
        activity.publish_reports(db, progress=progress)
        analysis.load(db, progress=progress)
    # One change of person waits for the Bureau, so the Bureau's workbench shows real work.
    district_admin = db.scalar(select(User).where(User.username == "changan_admin"))
    successor = db.scalar(select(User).where(User.username == "changan_supervisor"))
    assert district_admin is not None and successor is not None
    registrations.submit(
        db,
        actor=actor_for(db, district_admin),
        user_id=successor.id,
        role=Role.security_officer,
        note="演示数据：安全管理员岗位调整，待市数据资源管理局审批",
    )
    progress("违规与整改")
    rectification.load(db)
    audit.record(
        db,
        EventType.demo_loaded,
        actor=operator,
        details={
            "orgs": result.orgs,
            "people": result.people,
            "systems": result.systems,
            "resources": result.resources,
            "rows": result.rows,
        },
    )
    return result


def write_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Keep the demo systems' tokens where a developer can find them (mode 0600, demo only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(tokens, indent=2, ensure_ascii=False))
    tmp.chmod(0o600)
    tmp.replace(path)

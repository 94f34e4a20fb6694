"""Who may call an API service: the one decision every call goes through (S25, S26, M16, M17).

Until sharing grants (共享授权) exist, only the providing department calls its own service, to test
it: its data administrators, and its business systems with their tokens. Everyone else needs a grant
from the sharing process; the sharing module extends `authorize_call` with them (the purpose is
passed for that: a grant will name the purposes it covers).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed
from govshare.catalog.models import Resource
from govshare.errors import Forbidden


def authorize_call(db: Session, *, actor: Actor, resource: Resource, purpose: str) -> None:
    """Return when `actor` may call `resource`'s service for `purpose`; raise Forbidden otherwise."""
    if actor.org_id is not None and actor.org_id == resource.org_id:
        if actor.kind == "system" or allowed(actor, Action.service_manage, resource):
            return
        raise Forbidden(
            "本部门只有数据资源管理员和本部门业务系统（凭系统令牌）可以试调用本部门的接口服务；"
            "业务人员使用数据请通过本部门业务系统调用。",
            "Only the provider's data administrators and business systems may call its own service.",
            details={"reason": "provider_role", "resource_id": resource.id},
        )
    raise Forbidden(
        "调用其他部门的接口服务需要共享授权：请通过平台的共享流程向提供部门提出申请并写明用途，"
        "获得共享授权后再调用。",
        "Calling another department's service needs a sharing grant.",
        details={"reason": "grant_required", "resource_id": resource.id},
    )

"""Who may call an API service: the one decision every call goes through (S25, S26, M16, M17).

The providing department calls its own service to test it: its data administrators, and its
business systems with their tokens. Everyone else needs an active sharing grant (共享授权) of their
department on the resource for the call's purpose (a grant bound to one business system serves that
system's calls only), with `data.consume`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed
from govshare.catalog.models import Resource
from govshare.errors import Forbidden, Invalid
from govshare.sharing.service import active_grants, check_levels


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
    if actor.org_id is not None and allowed(actor, Action.data_consume):
        grants = active_grants(
            db, org_id=actor.org_id, resource_id=resource.id, purpose=purpose, system_id=actor.system_id
        )
        usable = [g for g in grants if g.system_id is None or actor.kind == "system"]
        if usable:
            # As every delivery: the items' levels may have changed since the grant was given.
            try:
                check_levels(
                    db,
                    resource,
                    items=usable[0].items,
                    masking_profile=usable[0].masking_profile,
                    days=None,
                    route=None,
                )
            except (Forbidden, Invalid) as exc:
                raise Forbidden(
                    exc.message,
                    "The classification scheme no longer allows this grant.",
                    details={"reason": "level_controls", "resource_id": resource.id},
                ) from None
            return
        if active_grants(db, org_id=actor.org_id, resource_id=resource.id):
            raise Forbidden(
                "本单位对该接口服务的有效授权不包含这一用途（或不属于本业务系统）：请按授权时申报的用途调用，"
                "新的用途需另行提出共享申请。",
                "No grant covers this purpose.",
                details={"reason": "purpose_mismatch", "resource_id": resource.id},
            )
    raise Forbidden(
        "调用其他部门的接口服务需要共享授权：请通过平台的共享流程向提供部门提出申请并写明用途，"
        "获得共享授权后再调用。",
        "Calling another department's service needs a sharing grant.",
        details={"reason": "grant_required", "resource_id": resource.id},
    )

"""File resources (文件): the provider uploads new versions of the file; each is kept with its SM3.

Files are stored by content under `<data dir>/files/<resource id>/`, written to a temporary name and
moved into place, so a reader never sees half a file. The providing department and the Bureau read
them; another department reads them under an active sharing grant for the purpose it states. Every
download is audited.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, allowed
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.db import lock_row
from govshare.errors import Invalid, NotFound
from govshare.exchange.access import provision_resource
from govshare.exchange.body import Spooled
from govshare.exchange.models import ResourceFile
from govshare.settings import get_settings
from govshare.sharing.models import Grant
from govshare.sharing.service import grant_for_use, record_use

_SAFE = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def _file_resource(db: Session, actor: Actor, resource_id: int, action: Action) -> Resource:
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=action)
    if resource.provision_method != "file":
        raise Invalid("该资源不是文件类资源。", "Not a file resource.")
    return resource


def storage_dir(resource_id: int) -> Path:
    return get_settings().data_dir / "files" / str(resource_id)


def upload(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    body: Spooled,
    filename: str,
    media_type: str,
    declared_sm3: str | None = None,
    note: str | None = None,
) -> ResourceFile:
    """Store a new version of the resource's file."""
    resource = _file_resource(db, actor, resource_id, Action.data_provide)
    if resource.published_version_id is None or resource.status == "retired":
        raise Invalid("只能为已发布的目录条目上传文件。", "The resource is not published.")
    if body.size == 0:
        raise Invalid("文件是空的。", "Empty file.", details={"field": "file"})
    if declared_sm3 and declared_sm3.strip().lower() != body.sm3:
        raise Invalid(
            "X-Content-SM3 与收到的文件不一致，文件可能在传输中损坏，请重新上传。",
            "X-Content-SM3 does not match.",
            details={"field": "X-Content-SM3"},
        )
    name = _SAFE.sub("_", Path(filename).name).strip("._")[:150] or "file"
    # Uploads of one resource take turns from here: each takes the next number, and two copies of
    # one file never write the same temporary file at once.
    lock_row(db, Resource, resource.id, key_share=True)
    number = (
        db.scalar(select(func.max(ResourceFile.number)).where(ResourceFile.resource_id == resource.id)) or 0
    ) + 1
    folder = storage_dir(resource.id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{body.sm3}{Path(name).suffix.lower()[:10]}"
    if not target.exists():
        temporary = folder / f".{body.sm3}.part"
        with temporary.open("wb") as out:
            body.file.seek(0)
            shutil.copyfileobj(body.file, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(target)
    record = ResourceFile(
        resource_id=resource.id,
        number=number,
        filename=name,
        media_type=media_type[:100] or "application/octet-stream",
        size_bytes=body.size,
        sm3=body.sm3,
        path=str(target.relative_to(get_settings().data_dir)),
        note=note,
        system_id=actor.system_id,
        user_id=actor.user_id,
    )
    db.add(record)
    db.flush()
    audit.record(
        db,
        EventType.file_uploaded,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={"version": number, "filename": name, "size": body.size, "sm3": body.sm3},
    )
    return record


def _readable(
    db: Session, actor: Actor, resource_id: int, purpose: str | None
) -> tuple[Resource, Grant | None]:
    """The file resource, for its provider and the Bureau, or under the grant `actor` holds for
    `purpose` (None for the former)."""
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    if resource.provision_method != "file":
        raise Invalid("该资源不是文件类资源。", "Not a file resource.")
    if allowed(actor, Action.provision_view, resource):
        return resource, None
    purpose = " ".join((purpose or "").split())
    if not purpose:
        raise Invalid(
            "使用其他部门的文件请用参数 purpose 说明用途（与共享授权申报的用途一致）。",
            "purpose is required.",
            details={"field": "purpose"},
        )
    return resource, grant_for_use(db, actor=actor, resource=resource, purpose=purpose, channel="file")


def list_files(
    db: Session, *, actor: Actor, resource_id: int, purpose: str | None = None
) -> list[ResourceFile]:
    resource, _grant = _readable(db, actor, resource_id, purpose)
    return list(
        db.scalars(
            select(ResourceFile)
            .where(ResourceFile.resource_id == resource.id)
            .order_by(ResourceFile.number.desc())
        )
    )


def open_file(
    db: Session, *, actor: Actor, resource_id: int, number: int, purpose: str | None = None
) -> tuple[ResourceFile, Path]:
    """A version's record and path for download by the provider, the Bureau or a grant holder (for
    the grant's purpose), audited."""
    resource, grant = _readable(db, actor, resource_id, purpose)
    record = db.scalar(
        select(ResourceFile).where(ResourceFile.resource_id == resource.id, ResourceFile.number == number)
    )
    if record is None:
        raise NotFound("找不到该文件版本。", f"File version {number} not found.")
    path = get_settings().data_dir / record.path
    if not path.is_file():
        raise NotFound("文件内容已不在存储中，请联系平台运维。", "Stored file missing.")
    audit.record(
        db,
        EventType.file_downloaded,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={
            "version": number,
            "sm3": record.sm3,
            **({"grant_id": grant.id, "purpose": grant.purpose} if grant is not None else {}),
        },
    )
    if grant is not None:
        record_use(
            db, actor=actor, resource_id=resource.id, purpose=grant.purpose, channel="file", grant=grant
        )
    return record, path

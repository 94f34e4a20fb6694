"""The key vault: one random secret per resource, kept in files outside the database.

A resource's data keys are wrapped under a key derived from the master key *and* its vault secret.
The vault is never part of a backup (the backup holds only wrapped keys), so destroying a secret
here makes that resource's encrypted cells unreadable in the database and in every backup ever made
(crypto-shredding). Production keeps `GOVSHARE_KEY_DIR` on storage apart from the database and its
backups, shared by every server of the platform, and replicates it rather than snapshotting it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from govshare.settings import Settings, get_settings


def directory(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.key_dir or settings.data_dir / ".keys"


def _path(resource_id: int, settings: Settings | None = None) -> Path:
    return directory(settings) / f"resource-{int(resource_id)}.key"


def secret(resource_id: int, *, create: bool = False) -> bytes | None:
    """The resource's vault secret; with `create`, made (atomically) when it has none yet."""
    path = _path(resource_id)
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_bytes(32)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(value.hex())
    tmp.chmod(0o600)
    try:
        # Never replace a secret another process made meanwhile: its keys are already in use.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def destroy(resource_id: int) -> bool:
    """Overwrite and remove the resource's secret; True when there was one."""
    path = _path(resource_id)
    if not path.exists():
        return False
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.write(secrets.token_bytes(size))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
    return True

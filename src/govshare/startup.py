"""What production mode checks before the platform serves anyone."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from govshare.db import unit_of_work
from govshare.settings import Settings


class RefusedToStart(RuntimeError):
    pass


def production_problems(settings: Settings, engine: Engine) -> list[str]:
    """Everything that makes this configuration unsafe for production (empty when fine)."""
    from govshare.users.models import User

    problems = settings.production_problems()
    try:
        with unit_of_work(engine) as db:
            demo = db.scalar(
                select(func.count()).select_from(User).where(User.is_demo.is_(True), User.is_active.is_(True))
            )
    except Exception as exc:  # no schema yet, unreachable database, …
        problems.append(f"database not ready: {type(exc).__name__}")
    else:
        if demo:
            problems.append(f"the database holds {demo} active demo accounts (password govshare-demo)")
    return problems


def check_production(settings: Settings, engine: Engine) -> None:
    """Raise RefusedToStart in production mode when anything in `production_problems` is found."""
    if not settings.is_production:
        return
    problems = production_problems(settings, engine)
    if problems:
        raise RefusedToStart("GovShare refuses to start in production mode:\n  - " + "\n  - ".join(problems))

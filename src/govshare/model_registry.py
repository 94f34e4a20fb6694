"""Import every domain's models so that `Base.metadata` knows all tables (Alembic, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData


def load_models() -> MetaData:
    from govshare import jobs  # noqa: F401
    from govshare.audit import models as _audit  # noqa: F401
    from govshare.db import Base
    from govshare.orgs import models as _orgs  # noqa: F401
    from govshare.systems import models as _systems  # noqa: F401
    from govshare.tasks import models as _tasks  # noqa: F401
    from govshare.users import models as _users  # noqa: F401

    return Base.metadata

"""Import every domain's models so that `Base.metadata` knows all tables (Alembic, tests)."""

from __future__ import annotations

from sqlalchemy import MetaData


def load_models() -> MetaData:
    from govshare import jobs  # noqa: F401
    from govshare.analysis import models as _analysis  # noqa: F401
    from govshare.audit import models as _audit  # noqa: F401
    from govshare.backup import models as _backup  # noqa: F401
    from govshare.calendar import models as _calendar  # noqa: F401
    from govshare.catalog import models as _catalog  # noqa: F401
    from govshare.classification import models as _classification  # noqa: F401
    from govshare.db import Base
    from govshare.destruction import models as _destruction  # noqa: F401
    from govshare.encryption import models as _encryption  # noqa: F401
    from govshare.exchange import models as _exchange  # noqa: F401
    from govshare.exchange import service_models as _exchange_services  # noqa: F401
    from govshare.masking import models as _masking  # noqa: F401
    from govshare.opendata import models as _opendata  # noqa: F401
    from govshare.orgs import models as _orgs  # noqa: F401
    from govshare.policies import models as _policies  # noqa: F401
    from govshare.protection import models as _protection  # noqa: F401
    from govshare.rectification import models as _rectification  # noqa: F401
    from govshare.sharing import models as _sharing  # noqa: F401
    from govshare.supervision import models as _supervision  # noqa: F401
    from govshare.systems import models as _systems  # noqa: F401
    from govshare.tasks import models as _tasks  # noqa: F401
    from govshare.users import models as _users  # noqa: F401

    return Base.metadata


# Objects the models do not describe but migrations create: the SQLite full-text table (and its
# shadow tables), the PostgreSQL trigram index of catalog search, and the exchange store's tables
# (`xres_<id>` on SQLite; on PostgreSQL they live in the schema `exchange`, which is not compared),
# and the generation value of the tables that decide a data call (govshare.generation): not
# platform data, so neither compared nor backed up.
UNMODELLED = ("resource_fts", "ix_resources_search_trgm", "xres_", "cache_generation")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic filter: leave the unmodelled search objects out of autogenerate comparisons."""
    return not (reflected and name is not None and name.startswith(UNMODELLED))

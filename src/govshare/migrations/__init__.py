"""Alembic migrations, named `YYYYMMDD_slug`; `govshare db upgrade` applies them."""

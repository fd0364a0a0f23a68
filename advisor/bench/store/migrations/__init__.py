"""Alembic migrations of the results store (the tables of ``advisor.bench.store.models``); run by
``Store`` (``advisor.bench.store.engine``) on open."""

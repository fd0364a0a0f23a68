"""Alembic migrations of the results store (``advisor.bench.store.engine``); run by ``Store`` on open."""

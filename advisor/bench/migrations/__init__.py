"""Alembic migrations of the results store (``advisor.bench.store``); run by ``Store`` on open."""

"""The results store: SQLAlchemy tables, the session, migrations (Alembic) and queries."""

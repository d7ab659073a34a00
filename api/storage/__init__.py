"""Storage: SQLAlchemy models, Alembic-managed schema, repository functions, raw-sample codec."""

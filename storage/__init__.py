"""The database: typed SQLAlchemy models, repositories, Alembic migrations."""

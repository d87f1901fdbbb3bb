"""Storage: SQLAlchemy engine, tables, queries and migrations, for SQLite and PostgreSQL alike."""

"""Search: keyword (SQLite FTS5 / PostgreSQL full text), embeddings, vectors, hybrid fusion."""

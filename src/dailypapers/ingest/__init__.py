"""Ingest: read papers from files (and, later, remote sources) and upsert them into the store."""

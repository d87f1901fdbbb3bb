"""What the web pages, the JSON API and the CLI call: one entry point per use, each taking the
database and settings and owning its transaction (docs/architecture.md)."""

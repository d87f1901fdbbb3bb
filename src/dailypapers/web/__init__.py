"""The web UI and JSON API: server-rendered pages, each also answering as JSON."""

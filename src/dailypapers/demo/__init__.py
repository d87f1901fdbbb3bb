"""The bundled demo corpus: real arXiv papers over consecutive feed days, with real Hub upvotes."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dailypapers.core.settings import Settings
from dailypapers.search.embed import MINILM_NAME
from dailypapers.services.accounts import ensure_account
from dailypapers.services.imports import ImportSummary, import_paths, import_vectors
from dailypapers.services.runtime import Database

CORPUS = Path(__file__).with_name("corpus.jsonl.gz")
# The corpus's vectors under the default embedding model (scripts/build_demo_vectors.py).
VECTORS = Path(__file__).with_name("vectors.npz")
# The demo's accounts: (username, address, role).
DEMO_ACCOUNTS = [("admin", "admin@example.org", "admin"), ("member", "member@example.org", "member")]


def build_demo_db(db: Database, settings: Settings | None = None) -> ImportSummary:
    """Create or refresh the demo database: migrate, import the corpus, load its vectors (idempotent).
    `settings`: the running command's (default: the defaults, whatever the environment says)."""
    db.migrate()
    summary = import_paths(db, settings or Settings.model_construct(), [CORPUS])
    load_demo_vectors(db)
    return summary


def load_demo_vectors(db: Database) -> int:
    """Store the bundled vectors of the corpus's papers that have none yet; returns how many.

    They are the default model's (search.embed.MINILM_NAME), saved as float16: stored back as
    float32, renormalised. Each carries the hash of the text it was made from, so `dailypapers embed`
    redoes only papers whose text has changed since."""
    if not VECTORS.is_file():
        return 0
    with np.load(VECTORS) as data:
        if str(data["model"]) != MINILM_NAME:
            return 0
        ids, hashes = [str(i) for i in data["ids"]], [str(h) for h in data["hashes"]]
        vectors = data["vectors"].astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return import_vectors(db, MINILM_NAME, list(zip(ids, hashes, vectors, strict=True)))


def demo_accounts(db: Database, settings: Settings) -> list[tuple[str, str, str]]:
    """Make (or update) the demo's admin and member accounts with new random passwords; returns
    (username, role, password) for the command to print. Random, not fixed: `dailypapers demo
    --host` may serve beyond this machine, where a known admin password would be anyone's; new at
    every start, so the pair printed last always works (older sessions end)."""
    now = datetime.now(UTC)
    made = []
    for username, email, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        ensure_account(db, settings, username, email, role, password, now)
        made.append((username, role, password))
    return made

"""The Hugging Face Hub's paper API, same paths, parameters and JSON shapes (`/api/daily_papers`,
`/api/papers/...`, `/papers/{id}.md`), so that huggingface_hub's HfApi(endpoint=<this site>) works
unchanged; see docs/api.md for the mapping."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["Hub-compatible"])

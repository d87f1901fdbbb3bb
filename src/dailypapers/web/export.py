"""Citation exports: BibTeX (.bib) and RIS (.ris) for a paper and for any list (a feed period, a
search, a member's upvotes)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["Export"])

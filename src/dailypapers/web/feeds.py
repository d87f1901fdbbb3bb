"""RSS 2.0 and Atom feeds: the daily list, each day/week/month, each arXiv category, any search, each
member's submissions and each paper's comments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["Feeds"])

"""The parameters every page and API route shares, each validated by its declared type: a bad value is a
400 that names the parameter and says what is wrong (the app's RequestValidationError handler), never a
500; and the two dependencies every route takes (the app's Database and Settings)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from pydantic import BeforeValidator, Field

from dailypapers.core.settings import Settings
from dailypapers.services import search as search_service
from dailypapers.services.feed import SortOrder
from dailypapers.services.runtime import Database


def app_db(request: Request) -> Database:
    """The app's database."""
    return request.app.state.db


def app_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def blank_is_absent(value: object) -> object:
    """An empty field (`?page=`, a form's empty input) means "the default", as browsers send it."""
    return None if value == "" else value


DbDep = Annotated[Database, Depends(app_db)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
SortParam = Annotated[
    SortOrder | None,
    BeforeValidator(blank_is_absent),
    Query(description="trending (default), upvotes or newest"),
]
PageParam = Annotated[
    Annotated[int, Field(ge=1, le=100_000)] | None,
    BeforeValidator(blank_is_absent),
    Query(description="page number, from 1"),
]
QueryParam = Annotated[
    str,
    Query(
        max_length=search_service.MAX_QUERY_CHARS,
        description='the search query (words, "phrases", prefix*, -exclude, '
        "title:/abstract:/author: fields, cat:, after:/before:)",
    ),
]
ModeParam = Annotated[
    Literal["hybrid", "keyword", "vector"] | None,
    BeforeValidator(blank_is_absent),
    Query(description="hybrid (default setting), keyword or vector"),
]
# YYYY-MM-DD is 10 characters; the bound only stops absurd input before the date is parsed.
DayParam = Annotated[str, Query(max_length=32, description="a day, YYYY-MM-DD")]

"""The parameters every page and API route shares, each validated by its declared type: a bad value is a
400 that names the parameter and says what is wrong (the app's RequestValidationError handler), never a
500; and the two dependencies every route takes (the app's Database and Settings)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator, Field
from starlette.convertors import Convertor, register_url_convertor

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

# The API routes' arXiv ids, as the schema states them (a fuzzer holds the server to it): a new-style id
# with an optional version and `arXiv:` prefix; old-style ids (hep-th/9901001) have their own routes with
# the two parts below.
ARXIV_ID_PATTERN = r"^(?:[aA][rR][xX][iI][vV]:)?[0-9]{4}\.[0-9]{4,5}(?:v[1-9][0-9]{0,3})?$"
ArxivIdPath = Annotated[
    str,
    Path(
        pattern=ARXIV_ID_PATTERN,
        max_length=40,
        description="an arXiv id (2606.00001, with a version 2606.00001v2, or arXiv:2606.00001)",
        examples=["2606.00001"],
    ),
]
ArchivePath = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z-]{0,15}(?:\.[A-Z]{2})?$",
        max_length=20,
        description="an old-style arXiv id's archive (hep-th, math.AG)",
        examples=["hep-th"],
    ),
]
NumberPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9]{7}(?:v[1-9][0-9]{0,3})?$",
        max_length=12,
        description="an old-style arXiv id's number (9901001, with a version 9901001v2)",
        examples=["9901001"],
    ),
]


class ArxivSegment(Convertor[str]):
    """`{arxiv_id:arxiv}`: a path segment that may be an arXiv id, i.e. one with a digit in it, so that
    the words beside ids (/api/papers/search, /api/papers/submit) never match an id route (which would
    add its methods to their 405's Allow header)."""

    regex = "[^/]*[0-9][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("arxiv", ArxivSegment())


class OldStyleNumber(Convertor[str]):
    """The number of an old-style arXiv id (9901001, 9901001v2) as a path segment: only such a segment
    matches an old-style route, so that `/api/v1/papers/2606.00001/vote` is never taken for the paper
    `2606.00001/vote` (whose GET would then be advertised in that address's Allow header)."""

    regex = "[0-9]{7}(?:v[0-9]+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("arxiv_number", OldStyleNumber())

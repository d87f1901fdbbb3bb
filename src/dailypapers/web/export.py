"""Citation exports: BibTeX (.bib) and RIS (.ris) for a paper and for any list (a feed period, a
search, a member's upvotes). Every route is public and cacheable (ETag, 304); the answers are shown
inline by a browser and imported by reference managers (Zotero, JabRef, EndNote, Mendeley)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from dailypapers.core.settings import Settings
from dailypapers.services import export as export_service
from dailypapers.services.export import FORMAT_NAMES, FORMATS, MEDIA_TYPES, CitationFile, ExportFormat
from dailypapers.services.feed import SortOrder
from dailypapers.services.search import MAX_QUERY_CHARS
from dailypapers.web.conditional import cached_response
from dailypapers.web.params import DbDep, SettingsDep

router = APIRouter(tags=["Export"])

PaperIdPath = Annotated[
    str,
    Path(
        max_length=64,
        description="an arXiv id as the paper page takes it (2606.00001, 2606.00001v2, arXiv:2606.00001)",
        examples=["2606.00001"],
    ),
]
KindPath = Annotated[
    str,
    Path(
        max_length=32,
        description="`date`, `week` or `month` for a feed period; else an old-style id's archive (hep-th)",
        examples=["date"],
    ),
]
KeyPath = Annotated[
    str,
    Path(
        max_length=32,
        description="the period (2026-06-30, 2026-W27, 2026-06), or an old-style id's number (9901001)",
        examples=["2026-06-30"],
    ),
]
SearchQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        pattern=r"\S",
        description='the search, required (words, "phrases", prefix*, -exclude, title:/abstract:/author: '
        "fields, cat:, after:/before:)",
        examples=["contrastive -medical"],
    ),
]
# Not the pages' SortParam and ModeParam, which read an empty `sort=` or `mode=` (a form's) as absent:
# an export address is a link, and what it names must be a value.
ExportSort = Annotated[SortOrder | None, Query(description="trending (default), upvotes or newest")]
SearchMode = Annotated[
    Literal["hybrid", "keyword", "vector"] | None,
    Query(description="hybrid, keyword or vector (default: the site's search mode)"),
]
UsernamePath = Annotated[str, Path(max_length=40, description="a member's username", examples=["alice"])]

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
EXAMPLES: dict[ExportFormat, str] = {
    "bib": "@misc{vaswani2017attention,\n\ttitle = {Attention Is All You Need},\n\tauthor = {Ashish Vaswani and "
    "Noam Shazeer},\n\tyear = {2017},\n\tmonth = jun,\n\teprint = {1706.03762},\n\tarchivePrefix = {arXiv},\n"
    "\tprimaryClass = {cs.CL},\n\turl = {https://arxiv.org/abs/1706.03762}\n}\n",
    "ris": "TY  - GEN\nID  - vaswani2017attention\nTI  - Attention Is All You Need\nAU  - Ashish Vaswani\n"
    "AU  - Noam Shazeer\nPY  - 2017\nDA  - 2017/06/12\nUR  - https://arxiv.org/abs/1706.03762\n"
    "DB  - arXiv\nAN  - arXiv:1706.03762\nKW  - cs.CL\nER  - \n",
}


def _responses(fmt: ExportFormat, missing: str | None = None) -> dict[int | str, dict[str, Any]]:
    """What the OpenAPI document says an export route answers (`missing`: when it is a 404)."""
    media_type = MEDIA_TYPES[fmt].split(";")[0]
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": f"{FORMAT_NAMES[fmt]} records (UTF-8), shown inline; Content-Disposition names a file",
            "content": {media_type: {"schema": {"type": "string"}, "example": EXAMPLES[fmt]}},
        },
        304: {"description": "Not Modified: the client's copy (If-None-Match, If-Modified-Since) is current"},
    }
    if missing:
        responses[404] = {"description": missing, "content": PROBLEM}
    return responses


def _answer(request: Request, settings: Settings, export: CitationFile) -> Response:
    """The export with ETag, Cache-Control and an inline Content-Disposition (or a 304)."""
    return cached_response(
        request,
        export.content.encode("utf-8"),
        export.media_type,
        max_age=settings.api_cache_seconds,
        last_modified=export.last_modified,
        headers={"Content-Disposition": f'inline; filename="{export.filename}"'},
    )


def _add_routes(fmt: ExportFormat) -> None:
    """The four export routes of one format (`/papers/2606.00001.bib`, ...)."""
    name = FORMAT_NAMES[fmt]

    @router.get(
        f"/papers/{{arxiv_id}}.{fmt}",
        summary=f"A paper as {name}",
        response_class=Response,
        responses=_responses(fmt, "No such paper here (or not an arXiv id, or a newer version)"),
        operation_id=f"export_paper_{fmt}",
    )
    def paper(request: Request, arxiv_id: PaperIdPath, db: DbDep, settings: SettingsDep) -> Response:
        """One paper's citation: arXiv's fields (eprint, primary class, URL), the DOI and journal
        reference when known, the abstract, categories as keywords and the comment. A version
        (`2606.00001v2`) or `arXiv:` prefix names the same paper."""
        return _answer(request, settings, export_service.paper_citation(db, settings, arxiv_id, fmt))

    @router.get(
        f"/papers/{{kind}}/{{key}}.{fmt}",
        summary=f"A feed day, week or month as {name} (or an old-style paper id)",
        response_class=Response,
        responses=_responses(fmt, "No papers in this period, a key that names no period, or no such paper"),
        operation_id=f"export_period_{fmt}",
    )
    def period(
        request: Request,
        kind: KindPath,
        key: KeyPath,
        db: DbDep,
        settings: SettingsDep,
        sort: ExportSort = None,
    ) -> Response:
        """`/papers/date/2026-06-30`, `/papers/week/2026-W27`, `/papers/month/2026-06`: every paper of
        the period in the `sort` order (the first 2,000). Any other first part is an old-style paper id
        (`/papers/hep-th/9901001`), which has the same two segments."""
        if kind not in ("date", "week", "month"):
            export = export_service.paper_citation(db, settings, f"{kind}/{key}", fmt)
        else:
            found = export_service.period_of(kind, key)
            export = export_service.period_citations(db, settings, found, sort or "trending", fmt)
        return _answer(request, settings, export)

    @router.get(
        f"/search.{fmt}",
        summary=f"Search results as {name}",
        response_class=Response,
        responses=_responses(fmt),
        operation_id=f"export_search_{fmt}",
    )
    def search(
        request: Request, q: SearchQuery, db: DbDep, settings: SettingsDep, mode: SearchMode = None
    ) -> Response:
        """The best 200 results of `q` (the search page's query language), ranked as the search page
        ranks them; a 400 without a query, an empty file when nothing matches."""
        return _answer(request, settings, export_service.search_citations(db, settings, q, fmt, mode))

    @router.get(
        f"/users/{{username}}/upvotes.{fmt}",
        summary=f"A member's upvoted papers as {name}",
        response_class=Response,
        responses=_responses(fmt, "No such member, or the member's upvotes are not public"),
        operation_id=f"export_upvotes_{fmt}",
    )
    def upvotes(request: Request, username: UsernamePath, db: DbDep, settings: SettingsDep) -> Response:
        """The papers the member upvoted, newest vote first (the latest 2,000), only when the member
        makes their upvotes public (a 404 says so otherwise)."""
        return _answer(request, settings, export_service.upvote_citations(db, settings, username, fmt))


for _fmt in FORMATS:
    _add_routes(_fmt)

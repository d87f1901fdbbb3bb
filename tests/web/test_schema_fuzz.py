"""Schema fuzzing: schemathesis generates requests for every operation of /openapi.json and checks each
answer: no server error, and every response matching what the schema says of it (status, content type,
body schema, headers), on SQLite and PostgreSQL.

The examples per operation are bounded (EXAMPLES) so that the suite stays fast; the operations the
schema declares are all run. Requests carry a member's write token, so the token-gated operations are
fuzzed past their 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from dailypapers.core.settings import Settings
from dailypapers.services import accounts, api_tokens
from dailypapers.store.db import Database
from dailypapers.testing.replay import ReplayServer, harvest_routes
from dailypapers.web.app import create_app

EXAMPLES = 12
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
PASSWORD = "correct horse battery staple 42"
HARVEST = Path(__file__).parents[1] / "data" / "harvest"


@pytest.fixture(scope="module")
def fuzz_app(demo_db: Database) -> Iterator[FastAPI]:
    """The app over the demo corpus, arXiv played by the replay server, rate limits and caps out of
    the way."""
    with ReplayServer(harvest_routes(HARVEST)) as arxiv:
        settings = Settings(
            database_url=demo_db.url,
            page_size=30,
            arxiv_api_url=f"{arxiv.url}/api/query",
            arxiv_request_interval=0,
            http_retries=0,
            api_rate_limit_address="1000000/minute",
            api_rate_limit_token="1000000/minute",
            comment_rate_limit=1_000_000,
            submit_daily_cap=1_000_000,
            submit_max_age_days=0,
        )
        app = create_app(settings, demo_db)
        app.state.clock = lambda: NOW
        member = accounts.create_user(
            demo_db, settings, "fuzzer", "fuzzer@example.org", PASSWORD, "member", NOW - timedelta(days=30)
        )
        app.state.fuzz_token = api_tokens.create_token(demo_db, settings, member, "fuzz", "write", NOW).secret
        yield app


# The schema is the app's own /openapi.json, read at collection time from an app whose database is never
# opened (the schema does not depend on the data); each case then runs against the fixture's app.
# (schemathesis.pytest.from_fixture would load it lazily, but it does not run under pytest 9.)
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "checks": {
            # A body over the site's 64 KiB limit is refused with 413 before it is read: a rejection too.
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            },
        },
        "operations": [
            {
                # A cursor, a day (2026-02-30), a time zone or an address the schema's types allow but
                # that names nothing (a random cursor, an unknown zone, a reserved domain) is a 400
                # that says so: no schema can list the valid ones.
                "include-path-regex": (
                    "^/api/v1/(feeds/|search$|members/[^/]+/submissions$|moderation/log$"
                    "|subscriptions$|me/subscription$)"
                ),
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                # "an arXiv id or URL" in any of the forms people paste: text the schema allows may be
                # neither, and the 400 says why.
                "include-path-regex": "^/api/(papers/submit|v1/submissions)$",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                # date, week and month are each valid, but two at once are refused with a 400 that says
                # so: OpenAPI 3.0 cannot state "at most one of" for query parameters.
                "include-path": "/api/daily_papers",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
        ],
    }
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(), Database("sqlite:////nonexistent/never-opened.db")), config=CONFIG
)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    case.call_and_validate(app=fuzz_app, headers={"Authorization": f"Bearer {fuzz_app.state.fuzz_token}"})

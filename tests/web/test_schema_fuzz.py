"""Schema fuzzing: schemathesis generates requests for every operation of /openapi.json and checks each
answer: no server error, and every response matching what the schema says of it (status, content type,
body schema, headers), on SQLite and PostgreSQL.

The examples per operation are bounded (EXAMPLES) so that the suite stays fast; the operations the
schema declares are all run. Requests carry a member's write token, so the token-gated operations are
fuzzed past their 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from dailypapers.core.settings import Settings
from dailypapers.store.db import Database
from dailypapers.web.app import create_app

EXAMPLES = 12
NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def fuzz_app(demo_db: Database) -> Iterator[FastAPI]:
    """The app over the demo corpus, with rate limits out of the way."""
    app = create_app(
        Settings(
            database_url=demo_db.url,
            page_size=30,
            api_rate_limit_address="1000000/minute",
            api_rate_limit_token="1000000/minute",
        ),
        demo_db,
    )
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
                # date, week and month are each valid, but two at once are refused with a 400 that says
                # so: OpenAPI 3.0 cannot state "at most one of" for query parameters.
                "include-path": "/api/daily_papers",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            }
        ],
    }
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(), Database("sqlite:////nonexistent/never-opened.db")), config=CONFIG
)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    case.call_and_validate(app=fuzz_app)

"""One Settings class: every knob with its default and help text, read from DAILYPAPERS_* variables."""

from __future__ import annotations

from functools import lru_cache

import limits
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All configuration of dailypapers; each field documents itself in `description`."""

    model_config = SettingsConfigDict(env_prefix="DAILYPAPERS_", extra="ignore")

    database_url: str = Field(
        "sqlite:///dailypapers.db",
        description="Where papers are stored: a SQLite URL (sqlite:///path.db, the default, one file) "
        "or a PostgreSQL URL (postgresql://user:pass@host/db) shared by several processes.",
    )
    host: str = Field("127.0.0.1", description="Address `serve` and `demo` listen on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` and `demo` listen on.")
    site_name: str = Field("Daily Papers", description="Name shown in the page header and titles.")
    page_size: int = Field(30, ge=1, le=500, description="Papers per feed page.")
    import_batch_size: int = Field(
        2000, ge=1, le=50000, description="Records written per transaction by `import`."
    )
    sqlite_busy_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a SQLite writer waits for another process's write lock before failing.",
    )
    demo_database: str = Field(
        "dailypapers-demo.db",
        description="SQLite file `dailypapers demo` builds from the bundled corpus and serves.",
    )

    # --- ingest: remote sources, politeness, schedules ---------------------------------------
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="arXiv search API endpoint (`ingest arxiv-api`)."
    )
    arxiv_oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint (`ingest arxiv-oai`)."
    )
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org/rss",
        description="arXiv announcement feeds; the categories are appended (`/cs.LG+cs.CV`). "
        "An `/atom` address works too.",
    )
    hub_api_url: str = Field(
        "https://huggingface.co/api", description="Hugging Face Hub API root (`ingest hf-daily`)."
    )
    arxiv_categories: str = Field(
        "cs.LG,cs.CV,cs.CL,cs.AI",
        description="Comma-separated arXiv categories the arXiv API and RSS sources follow.",
    )
    arxiv_oai_set: str = Field(
        "cs", description="OAI-PMH set harvested by `arxiv-oai` (an archive: `cs`, `math`, `physics:hep-th`)."
    )
    contact_email: str = Field(
        "",
        description="Contact address sent in the User-Agent of every request, as arXiv asks of harvesters.",
    )
    arxiv_request_interval: float = Field(
        3.0, ge=0, description="Seconds between two requests to an arXiv host (arXiv asks for at least 3)."
    )
    hub_request_interval: float = Field(1.0, ge=0, description="Seconds between two requests to the Hub.")
    http_timeout: float = Field(60.0, gt=0, description="Seconds to wait for a response before retrying.")
    http_retries: int = Field(
        6, ge=0, le=20, description="Retries of a request after 429, 5xx, timeouts and network errors."
    )
    http_backoff: float = Field(
        2.0,
        gt=0,
        description="Base of the retry backoff in seconds: the n-th retry waits base·2ⁿ·U(0.5, 1.5), "
        "or longer when Retry-After asks.",
    )
    http_max_wait: float = Field(
        900.0,
        gt=0,
        description="Longest single wait before a retry, in seconds; a longer Retry-After is an error.",
    )
    feature_policy: str = Field(
        "all",
        pattern="^(all|arxiv-new|community)$",
        description="Which ingested papers appear on a day's feed: `arxiv-new` (every paper arXiv "
        "announces as new or cross-listed in the feature categories, on its announcement day), "
        "`community` (only days of a mirrored community feed such as the Hub's), or `all` (both).",
    )
    feature_categories: str = Field(
        "",
        description="Comma-separated categories whose new papers `arxiv-new` features; empty: "
        "the setting arxiv_categories.",
    )
    worker_sources: str = Field(
        "arxiv-rss,hf-daily",
        description="Comma-separated sources `dailypapers worker` runs: arxiv-rss, arxiv-api, "
        "arxiv-oai, hf-daily.",
    )
    worker_interval: float = Field(
        3600.0, ge=1, description="Seconds between two runs of the same source by the worker."
    )
    worker_retry_interval: float = Field(
        600.0, ge=1, description="Seconds before the worker retries a source whose last run failed."
    )
    hub_refresh_days: int = Field(
        3, ge=0, le=60, description="Recent Hub days fetched again on each run, to refresh upvotes."
    )
    ingest_start_days: int = Field(
        7, ge=0, le=3650, description="How many days back a source's first run starts (without --since)."
    )

    # --- search ---------------------------------------------------------------------------------
    embedding_model: str = Field(
        "default",
        description="Embedding model: `default` (all-MiniLM-L6-v2 shipped by a Python package, runs "
        "offline on CPU) or any sentence-transformers model name (needs the `st` extra and a model hub).",
    )
    search_mode: str = Field(
        "hybrid",
        pattern="^(hybrid|keyword|vector)$",
        description="Default search: `hybrid` (keyword and vector lists fused), `keyword` or `vector`.",
    )
    search_rrf_k: float = Field(
        60.0, gt=0, description="k of reciprocal-rank fusion: score = Σ weight / (k + rank)."
    )
    search_keyword_weight: float = Field(
        1.0, ge=0, description="Weight of the keyword list in hybrid search."
    )
    search_vector_weight: float = Field(1.0, ge=0, description="Weight of the vector list in hybrid search.")
    search_similarity_floor: float = Field(
        0.35,
        ge=-1,
        le=1,
        description="When no paper has any of a query's words, vector and hybrid search show only papers at least "
        "this close in meaning (cosine similarity). With the default model on the demo corpus the nearest paper to "
        "a nonsense word scores 0.18-0.31, to a real topic 0.33-0.63.",
    )
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Papers embedded per batch by `embed`.")
    worker_embed: bool = Field(
        True,
        description="Whether `dailypapers worker` also embeds new and changed papers after its sources run.",
    )
    vector_index: str = Field(
        "auto",
        pattern="^(auto|exact|hnsw|pgvector)$",
        description="Vector index: `auto` (pgvector on PostgreSQL when the server has it; else exact search up "
        "to vector_exact_max vectors and an HNSW index above), `exact`, `hnsw` or `pgvector`.",
    )
    vector_exact_max: int = Field(
        100_000, ge=0, description="Largest number of vectors `auto` searches exactly; above it, HNSW."
    )
    hnsw_m: int = Field(32, ge=4, le=100, description="HNSW graph degree (M; pgvector's m).")
    hnsw_ef_construction: int = Field(
        200,
        ge=8,
        le=2000,
        description="HNSW build-time candidate list (efConstruction; pgvector's ef_construction).",
    )
    hnsw_ef_search: int = Field(
        256,
        ge=8,
        le=5000,
        description="HNSW search-time candidate list (efSearch; pgvector's hnsw.ef_search too).",
    )
    vector_index_dir: str | None = Field(
        None,
        description="Folder for saved HNSW indexes (default: `<database file>.vectors/` beside a SQLite file).",
    )

    # --- email digests ---------------------------------------------------------------------------
    site_url: str = Field(
        "http://127.0.0.1:8000",
        description="The site's public base URL, for links in mails (confirmation, preferences, papers).",
    )
    secret_key: str | None = Field(
        None,
        description="Key that signs the links in mails and the CSRF tokens of forms; when unset, one is made "
        "at random and kept in the database (table app_secrets), shared by every process.",
    )
    smtp_host: str = Field("localhost", description="SMTP server that sends the mails.")
    smtp_port: int = Field(25, ge=1, le=65535, description="Its port (587 for STARTTLS, 465 for TLS).")
    smtp_security: str = Field(
        "none",
        pattern="^(none|starttls|tls)$",
        description="`none`, `starttls` (upgrade a plain connection) or `tls` (TLS from the start).",
    )
    smtp_username: str | None = Field(None, description="SMTP login, when the server wants one.")
    smtp_password: str | None = Field(None, description="SMTP password.")
    smtp_timeout: float = Field(30.0, gt=0, description="Seconds to wait for the SMTP server.")
    mail_from: str = Field("Daily Papers <digest@localhost>", description="From: of every mail.")
    mail_unsubscribe_mailto: str = Field(
        "unsubscribe@localhost",
        description="Address of the mailto: List-Unsubscribe link; mails to it are handled by "
        "`dailypapers digest inbound` (pipe them from the mail server).",
    )
    digest_confirm_hours: int = Field(48, ge=1, description="Hours a confirmation link stays valid.")
    digest_max_attempts: int = Field(
        8,
        ge=1,
        description="Sending attempts of a mail on temporary SMTP failures (4xx, timeouts) before it is failed.",
    )
    digest_retry_base: float = Field(
        60.0, ge=0, description="Seconds before the first retry of a mail; each next one waits twice as long."
    )
    digest_max_bounces: int = Field(
        3, ge=1, description="Hard bounces (5xx for the recipient) after which a subscription is paused."
    )
    digest_interval: float = Field(
        300.0, gt=0, description="Seconds between two looks of `dailypapers worker` for due digests."
    )
    outbox_interval: float = Field(
        10.0,
        gt=0,
        description="Seconds between two deliveries of the outbox (confirmation mails) by `dailypapers worker` "
        "and the demo.",
    )

    # --- accounts --------------------------------------------------------------------------------
    password_min_length: int = Field(10, ge=8, le=128, description="Fewest characters of a new password.")
    session_days: int = Field(
        30, ge=1, description="Days a session lasts without use; each use extends it (sliding expiry)."
    )
    account_confirm_hours: int = Field(
        48, ge=1, description="Hours the link that confirms an account's address stays valid."
    )
    password_reset_minutes: int = Field(
        60, ge=5, description="Minutes a password-reset link stays valid (it works once)."
    )
    signin_free_attempts: int = Field(
        5,
        ge=1,
        description="Failed sign-ins allowed per account and per client address before backoff starts.",
    )
    signin_backoff_seconds: float = Field(
        2.0, gt=0, description="Wait after the first failure past the free ones; each next one doubles it."
    )
    signin_backoff_max_seconds: float = Field(
        900.0, gt=0, description="Longest wait the sign-in backoff imposes."
    )
    signin_window_seconds: float = Field(
        3600.0,
        gt=0,
        description="Seconds after which the failed sign-ins of an account or address are forgotten.",
    )

    # --- community: submissions, votes, comments, OpenID Connect ----------------------------------
    submit_max_age_days: int = Field(
        7,
        ge=0,
        description="Oldest a submitted paper may be: days since its first arXiv version (0: no limit).",
    )
    submit_daily_cap: int = Field(
        5, ge=0, description="Papers a member may submit per day (UTC); moderators and admins have no cap."
    )
    submit_min_account_days: int = Field(
        0,
        ge=0,
        description="Days a confirmed account must exist before it may submit papers (0: any confirmed member).",
    )
    comment_max_chars: int = Field(10_000, ge=100, le=100_000, description="Longest comment, in characters.")
    comment_max_depth: int = Field(
        5,
        ge=0,
        le=20,
        description="Deepest reply: 0 allows no replies, 1 replies to top-level comments only.",
    )
    comment_edit_minutes: int = Field(
        60,
        ge=0,
        description="Minutes after posting during which a member may edit a comment (shown as edited).",
    )
    comment_rate_limit: int = Field(
        10, ge=1, description="Comments a member may post within comment_rate_window_seconds."
    )
    comment_rate_window_seconds: float = Field(
        600.0, gt=0, description="The window of comment_rate_limit, in seconds."
    )
    oidc_name: str = Field(
        "",
        description="The button's name for OpenID Connect sign-in (e.g. 'Keycloak'); empty: the issuer's host.",
    )
    oidc_issuer: str = Field(
        "",
        description="OpenID Connect issuer URL (its /.well-known/openid-configuration is read); empty: no OIDC sign-in.",
    )
    oidc_client_id: str = Field("", description="OpenID Connect client id registered with the provider.")
    oidc_client_secret: str = Field("", description="OpenID Connect client secret.")
    oidc_scopes: str = Field(
        "openid email profile", description="Scopes asked of the OpenID Connect provider."
    )

    # --- open interfaces: the APIs, tokens, feeds ----------------------------------------------------
    api_rate_limit_token: str = Field(
        "600/minute",
        description="Requests one API token may make (a `limits` string such as 600/minute or 10000/day).",
    )
    api_rate_limit_address: str = Field(
        "120/minute",
        description="Requests to /api/ one client address may make without a token (a `limits` string).",
    )
    api_tokens_per_member: int = Field(20, ge=1, description="Active API tokens a member may hold.")
    api_max_limit: int = Field(
        100,
        ge=1,
        le=1000,
        description="Most items one API page returns (`limit=`); the Hub API's default is 50.",
    )
    feed_items: int = Field(50, ge=1, le=500, description="Entries in one RSS/Atom feed.")
    api_cache_seconds: int = Field(
        60, ge=0, description="Cache-Control max-age of API reads and feeds, in seconds."
    )

    @field_validator("api_rate_limit_token", "api_rate_limit_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        """A rate limit the `limits` library reads (600/minute, 10/second, 10000 per day), checked at start."""
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r} (write it as 600/minute or 10000/day)") from None
        return value

    def category_list(self) -> list[str]:
        """arxiv_categories as a list."""
        return [c.strip() for c in self.arxiv_categories.split(",") if c.strip()]

    def feature_category_list(self) -> list[str]:
        """The categories `arxiv-new` features."""
        own = [c.strip() for c in self.feature_categories.split(",") if c.strip()]
        return own or self.category_list()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

"""One Settings class: every knob with its default and help text, read from DAILYPAPERS_* variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

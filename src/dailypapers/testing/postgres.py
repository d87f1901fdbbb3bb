"""Start a private, throwaway PostgreSQL cluster from the Debian server binaries, on a free port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dailypapers.store.db import Database
from dailypapers.store.embeddings import has_column
from dailypapers.testing.server import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries were found (install the Debian package postgresql)."""


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/N/bin that has initdb, or the one on PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found: apt-get install postgresql "
        "(or set DAILYPAPERS_TEST_POSTGRES_URL)"
    )


@contextmanager
def throwaway_cluster(fsync: bool = False) -> Iterator[str]:
    """Run initdb + pg_ctl in a temporary folder; yield a postgresql:// URL; stop and delete it.

    The server refuses to run as root, so as root the cluster belongs to the `postgres` user.
    fsync is off by default: the data is thrown away, and tests should not wait on the disk.
    """
    bin_dir = find_bin_dir()
    workdir = Path(tempfile.mkdtemp(prefix="dailypapers-pg-"))
    data, sock = workdir / "data", workdir / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        os.chown(sock, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = workdir / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd="/")

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1"
        if not fsync:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                cwd="/",
            )
        shutil.rmtree(workdir, ignore_errors=True)


def skip_without_pgvector(db: Database) -> None:
    """In a test: skip on a PostgreSQL server without pgvector (scripts/test.sh installs it and warns
    when it could not)."""
    import pytest  # here: the benchmarks use this module without the test tools installed

    with db.read() as conn:
        if not has_column(conn):
            pytest.skip("this PostgreSQL server has no pgvector (run scripts/install-pgvector.sh)")

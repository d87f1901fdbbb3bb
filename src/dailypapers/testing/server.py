"""Starting the app as users do, for tests: a free port, and waiting until a started server answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Poll `base`/ until it answers; if the process exits or `timeout` passes first, kill it and
    raise with its log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.2)


@contextmanager
def running_demo(
    workdir: Path, env: dict[str, str] | None = None, port: int | None = None, timeout: float = 120.0
) -> Iterator[str]:
    """`dailypapers demo` started as users start it (its database in `workdir`, on `port` or a free
    one, with `env` as its environment); yields its base URL and stops it afterwards."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    with open(workdir / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dailypapers.cli",
                "demo",
                "--port",
                str(port),
                "--database",
                str(workdir / "demo.db"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
        )
        try:
            wait_until_serving(base, proc, workdir / "server.log", timeout=timeout)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)

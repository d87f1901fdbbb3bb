"""The CLI starts light: help and light commands do not import the heavy modules of other commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Loaded only by the commands that need them: embedding, vector search, the web server, the database.
HEAVY = (
    "onnxruntime",
    "faiss",
    "numpy",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "sqlalchemy",
    "alembic",
)

# Runs the CLI in this process as the console script does, then prints the heavy modules it loaded.
_PROBE = f"""
import json, sys
sys.argv = ["dailypapers", *json.loads(sys.argv[1])]
from dailypapers.cli import app
try:
    app()
except SystemExit as exit:
    code = exit.code or 0
print(json.dumps({{"code": code, "loaded": sorted({{m.split(".")[0] for m in sys.modules}} & set({repr(list(HEAVY))}))}}))
"""


def _loaded(args: list[str], tmp_path: Path) -> tuple[int, list[str]]:
    env = {**os.environ, "DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    return last["code"], last["loaded"]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["sources", "--help"],
        ["import", "--help"],
        ["search", "--help"],
        ["serve", "--help"],
        ["digest", "--help"],
        ["digest", "preview", "--help"],
        ["subscribers", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_heavy_module(args: list[str], tmp_path: Path) -> None:
    code, loaded = _loaded(args, tmp_path)
    assert code == 0
    assert loaded == [], f"`dailypapers {' '.join(args)}` imported {loaded}"
    assert not (tmp_path / "cli.db").exists()  # help touches no database


def test_the_probe_sees_a_command_that_loads_them(tmp_path: Path) -> None:
    # `migrate` needs the database stack: the probe must report it (else the test above proves nothing).
    code, loaded = _loaded(["migrate"], tmp_path)
    assert code == 0
    assert {"sqlalchemy", "alembic"} <= set(loaded)


def test_sources_loads_no_search_or_web_module(tmp_path: Path) -> None:
    code, loaded = _loaded(["sources"], tmp_path)
    assert code == 0
    assert (
        set(loaded) & {"onnxruntime", "faiss", "numpy", "fastapi", "starlette", "uvicorn", "jinja2"} == set()
    )

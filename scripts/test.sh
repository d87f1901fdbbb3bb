#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine with Python 3.11, then run the whole suite.
# Extra arguments go to pytest. This is exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "Installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# pgvector (Debian 12 has no package): built from Debian's source package when missing.
ls /usr/share/postgresql/*/extension/vector.control >/dev/null 2>&1 || ./scripts/install-pgvector.sh \
  || echo "WARNING: pgvector could not be built: its PostgreSQL tests will be skipped" >&2

[ -x .venv/bin/python ] || python3 -m venv .venv
# The locked versions, each checked against its hash (requirements/test.lock, from ./scripts/lock.sh),
# then the project itself with the locked build backend.
pip=(.venv/bin/pip install -q --disable-pip-version-check)
"${pip[@]}" --require-hashes -r requirements/test.lock
"${pip[@]}" --no-deps --no-build-isolation -e .

# The static gates (configured in pyproject.toml), each stopping the run when it fails.
gate() { echo "== $*"; "$@" || { echo "== FAILED: $*" >&2; exit 1; }; }
gate .venv/bin/ruff check src tests bench scripts
gate .venv/bin/ruff format --check src tests bench scripts
gate .venv/bin/lint-imports
gate .venv/bin/mypy
# Every core runs tests (pytest-xdist): a test file's tests on one database stay together on one worker
# (tests/conftest.py names the groups). Later arguments win: `./scripts/test.sh -n 0` runs in one process.
echo "== pytest -n auto --dist loadgroup $*"
exec .venv/bin/pytest -n auto --dist loadgroup "$@"

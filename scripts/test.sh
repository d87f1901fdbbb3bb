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
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/pytest "$@"

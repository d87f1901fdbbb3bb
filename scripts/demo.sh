#!/usr/bin/env bash
# Set up dailypapers on a fresh Debian machine with Python 3.11 and serve the demo on http://127.0.0.1:8000.
# Extra arguments go to `dailypapers demo` (e.g. --host 0.0.0.0 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import ensurepip" 2>/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# The locked versions, each checked against its hash (requirements/demo.lock, from ./scripts/lock.sh),
# then the project itself with the locked build backend.
pip=(.venv/bin/pip install -q --disable-pip-version-check)
"${pip[@]}" --require-hashes -r requirements/demo.lock
"${pip[@]}" --no-deps --no-build-isolation -e .
exec .venv/bin/dailypapers demo "$@"

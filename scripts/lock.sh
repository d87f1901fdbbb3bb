#!/usr/bin/env bash
# Refresh the locks in requirements/ from pyproject.toml: every package ./scripts/demo.sh and
# ./scripts/test.sh install, at an exact version with its sha256 hashes, for Python 3.11 on Linux x86_64.
# Run it after changing a dependency or an extra in pyproject.toml; versions already locked are kept unless
# asked: `./scripts/lock.sh --upgrade` takes the newest releases, `--upgrade-package NAME` one package's.
# Extra arguments go to `uv pip compile`.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/pip install -q --disable-pip-version-check 'uv>=0.5'

# The build backend of pyproject.toml's [build-system] is locked too: the scripts install the project
# without build isolation, so that nothing unhashed is downloaded to build it.
build_requires=$(.venv/bin/python -c \
  'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')

lock() {
  local out=$1; shift
  .venv/bin/uv pip compile --quiet pyproject.toml - "$@" \
    --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
    --custom-compile-command ./scripts/lock.sh --output-file "$out" <<<"$build_requires"
  echo "$out: $(grep -c '^[a-z0-9]' "$out") packages"
}

mkdir -p requirements
lock requirements/test.lock --extra test --extra postgres --extra demo "$@"
# The demo gets the tested versions: its lock is the test lock's subset that the demo needs.
lock requirements/demo.lock --extra demo --constraint requirements/test.lock "$@"

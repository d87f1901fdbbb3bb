#!/usr/bin/env bash
# Build and install pgvector 0.8 for the Debian PostgreSQL server (Debian 12 packages no pgvector):
# from Debian trixie's source package, against postgresql-server-dev-<major>. Run as root (or with
# sudo available); takes ~15 s plus the build tools' download. Skipped when pgvector is installed.
set -euo pipefail
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
major=$(basename "$(dirname "$pg_bin")")
if [ -f "/usr/share/postgresql/$major/extension/vector.control" ]; then
  exit 0
fi
echo "Building pgvector for PostgreSQL $major"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq "postgresql-server-dev-$major" build-essential dpkg-dev >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/sources" "$work/src"
printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  > "$work/apt/sources/trixie-src.sources"
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt/sources"
          -o "Dir::State::Lists=$work/apt/lists" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
cd "$work/src"
apt-get "${apt_opts[@]}" source -qq pgvector >/dev/null
cd pgvector-*/
make -s OPTFLAGS="" PG_CONFIG="$pg_bin/pg_config" >/dev/null
$sudo make -s install PG_CONFIG="$pg_bin/pg_config" >/dev/null
echo "pgvector installed for PostgreSQL $major"

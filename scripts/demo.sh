#!/usr/bin/env bash
# Sets up everything (Debian packages included), builds and installs tenant_backup, then runs
# scripts/demo.sql in a throwaway PostgreSQL cluster (pg_virtualenv) that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
make -s -j"$(nproc)"
$SUDO make -s install
demo=$(mktemp /tmp/tenant_backup_demo.XXXXXX.sql)
cp scripts/demo.sql "$demo"
chmod 644 "$demo"
pg_virtualenv psql -X -q -f "$demo"
rm -f "$demo"

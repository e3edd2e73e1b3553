#!/usr/bin/env bash
# The demo: installs what it needs (Debian packages: a compiler, PostgreSQL 15 and its headers,
# three libraries; not the test tools), builds and installs tenant_backup, then runs
# scripts/demo.sql in a throwaway PostgreSQL cluster (pg_virtualenv) with tenant_backup preloaded,
# which is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n### %s\n' "$*"; }

say "Installing the packages the demo needs (scripts/install-deps.sh --demo; nothing if they are there)"
bash scripts/install-deps.sh --demo
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The compile takes a minute or more on a small machine: say what it does meanwhile.
sources=$(find src -name '*.cpp' | wc -l)
jobs=$(nproc)
say "Compiling tenant_backup: $sources C++ files on $jobs core(s), one to several minutes depending on the machine"
started=$(mktemp)
make -s -j"$jobs" >"$started.log" 2>&1 &
build=$!
while kill -0 "$build" 2>/dev/null; do
	sleep 10
	if kill -0 "$build" 2>/dev/null; then
		printf '    ... %s of %s files compiled so far (src/core: archive format, crypto, S3; src/pg: the extension)\n' \
			"$(find src -name '*.o' -newer "$started" | wc -l)" "$sources"
	fi
done
if ! wait "$build"; then
	cat "$started.log"
	echo "the build failed (log above)" >&2
	exit 1
fi
rm -f "$started" "$started.log"
say "Installing the extension into PostgreSQL (make install)"
$SUDO make -s install

work=$(mktemp -d /tmp/tenant_backup_demo.XXXXXX)
chmod 777 "$work"
sed "s|@DEMO_DIR@|$work|g" scripts/demo.sql >"$work/demo.sql"
chmod 644 "$work/demo.sql"
# A fixed demo key, server-wide so that the scheduler's backups are encrypted too. In production the
# master key comes from a file outside the data directory (tenant_backup.encryption_key_file, mode
# 0600) or a KMS command.
key_command="echo 6d656d6f206b6579206f6e6c792e2e2e6d656d6f206b6579206f6e6c792e2e2e"
say "Starting a throwaway PostgreSQL cluster with tenant_backup preloaded, and running scripts/demo.sql"
pg_virtualenv -o shared_preload_libraries=tenant_backup -o "tenant_backup.encryption_key_command=$key_command" \
	psql -X -q -v ON_ERROR_STOP=1 -f "$work/demo.sql"
rm -rf "$work"
say "Done: the cluster is gone."

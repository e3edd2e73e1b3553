#!/usr/bin/env bash
# Sets up everything (Debian packages included) and runs every test of tenant_backup:
#   1. unit tests of the pure C++ core (GoogleTest via ctest),
#   2. pg_regress tests of the SQL API (sql/, expected/) in a throwaway cluster (pg_virtualenv),
#   3. TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster) for concurrency and crashes,
#   4. a bounded libFuzzer run of the archive reader (test/fuzz; FUZZ_SECONDS, default 30).
# Works as root (clusters then run as the unprivileged user postgres) or as a sudo-capable user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh
PG_BIN=$(pg_config --bindir)
PGXS_DIR=$(cd "$(dirname "$(pg_config --pgxs)")/../.." && pwd) # .../lib/pgxs
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

passed=0
failed=0
suite() { # name, command...
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "=== $name FAILED"
	fi
}

unit_tests() {
	cmake -S . -B build/unit -DTB_BUILD_PG_MODULE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
		cmake --build build/unit -j"$(nproc)" &&
		(cd build/unit && ctest --output-on-failure)
}

fuzz_archive_reader() {
	# A bounded libFuzzer run of the archive reader, seeded with valid archives (test/fuzz/corpus).
	local src corpus
	src=$(ls src/core/*.cpp src/core/*/*.cpp)
	mkdir -p build/fuzz
	# shellcheck disable=SC2086
	clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -Isrc test/fuzz/archive_reader_fuzz.cpp $src \
		-lzstd -lcrypto -o build/fuzz/archive_reader_fuzz || return 1
	corpus=$(mktemp -d /tmp/tenant_backup_corpus.XXXXXX)
	cp test/fuzz/corpus/* "$corpus/"
	build/fuzz/archive_reader_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -print_final_stats=1 \
		"$corpus" 2>&1 | tail -n 15
	local rc=${PIPESTATUS[0]}
	rm -rf "$corpus"
	return "$rc"
}

build_extension() {
	make -j"$(nproc)" && $SUDO make install
}

regress_tests() {
	# pg_virtualenv makes a throwaway cluster, run by postgres when we are root.
	if ! pg_virtualenv -v "$(pg_config --version | sed 's/[^0-9]*\([0-9]*\).*/\1/')" make installcheck; then
		cat regression.diffs 2>/dev/null | head -200
		return 1
	fi
}

tap_tests() {
	# PostgreSQL refuses to run as root: the TAP tests run as postgres from a copy it can read.
	local dir
	dir=$(mktemp -d /tmp/tenant_backup_tap.XXXXXX)
	cp -r test/t "$dir/"
	local run=()
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres "$dir"
		run=(runuser -u postgres --)
	fi
	(cd "$dir" && "${run[@]}" env PATH="$PG_BIN:$PATH" PERL5LIB="$PGXS_DIR/src/test/perl" \
		PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" TESTDIR="$dir" \
		prove -v --timer t/*.pl)
}

suite "unit tests (ctest)" unit_tests
suite "fuzz (archive reader)" fuzz_archive_reader
suite "build and install" build_extension
suite "pg_regress" regress_tests
suite "TAP" tap_tests

echo "test suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Sets up everything (Debian packages included) and runs every test of tenant_backup:
#   0. the boundary invariants of docs/ARCHITECTURE.md on the source (scripts/check-boundaries.sh),
#      and the docs links, SQL objects and settings against the code (scripts/check-docs.py),
#   1. unit tests of the pure C++ core (GoogleTest via ctest; the live S3 tests skip themselves),
#   1b. the live S3 unit tests (S3Live*) against a throwaway OpenStack Swift with its S3 API,
#   2. pg_regress tests of the SQL API (sql/, expected/) in a throwaway cluster (pg_virtualenv),
#   3. TAP tests (test/t/*.pl, PostgreSQL::Test::Cluster) for concurrency and crashes, with the
#      released 0.1.0 module built from git for the upgrade test and Citus built from
#      ../shared/citus (TB_CITUS_SOURCE) for the Citus test (each skips with a clear line without),
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
	src=$(ls src/core/*.cpp src/core/*/*.cpp src/core/*/*/*.cpp)
	mkdir -p build/fuzz
	# shellcheck disable=SC2086
	clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -Isrc test/fuzz/archive_reader_fuzz.cpp $src \
		-lzstd -lcrypto -lcurl -o build/fuzz/archive_reader_fuzz || return 1
	corpus=$(mktemp -d /tmp/tenant_backup_corpus.XXXXXX)
	cp test/fuzz/corpus/* "$corpus/"
	build/fuzz/archive_reader_fuzz -max_total_time="${FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -print_final_stats=1 \
		"$corpus" 2>&1 | tail -n 15
	local rc=${PIPESTATUS[0]}
	rm -rf "$corpus"
	return "$rc"
}

s3_tests() {
	# A throwaway Swift (test/s3/swift-server.sh) and its fault proxy, run by postgres when we are
	# root, as the TAP tests will run them; the live unit tests talk to both.
	local dir rc=0 run=()
	dir=$(mktemp -d /tmp/tenant_backup_s3.XXXXXX)
	cp -r test/s3 "$dir/"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres "$dir"
		run=(runuser -u postgres --)
	fi
	# shellcheck disable=SC2064 # expanded now: dir and run are local
	trap "${run[*]} bash '$dir/s3/swift-server.sh' stop '$dir/swift'; rm -rf '$dir'" EXIT
	if "${run[@]}" bash "$dir/s3/swift-server.sh" start "$dir/swift" "${TB_S3_PORT:-18080}"; then
		(. "$dir/swift/env.sh" && build/unit/unit_tests --gtest_filter='S3Live*') || rc=$?
	else
		rc=1
	fi
	"${run[@]}" bash "$dir/s3/swift-server.sh" stop "$dir/swift"
	rm -rf "$dir"
	trap - EXIT
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

release_0_1_0() {
	# The released 0.1.0 module, built from its release commit, in a copy of PostgreSQL's
	# installation (PostgreSQL finds its share and lib directories relative to its binaries), for
	# t/013_upgrade.pl. Skipped with a clear line when the clone has no such history.
	local release=4cf4a8c dir=build/release-0.1.0
	if ! git cat-file -e "$release^{commit}" 2>/dev/null; then
		echo "release 0.1.0 ($release) is not in this clone's history: the upgrade test will skip"
		return 0
	fi
	rm -rf "$dir" && mkdir -p "$dir/src"
	git archive "$release" | tar -x -C "$dir/src"
	make -s -C "$dir/src" -j"$(nproc)" >/dev/null || return 1
	local bindir libdir sharedir tree
	bindir=$(pg_config --bindir)
	libdir=$(pg_config --pkglibdir)
	sharedir=$(pg_config --sharedir)
	tree="$ROOT/$dir/pg"
	mkdir -p "$tree$bindir" "$tree$libdir" "$tree$(dirname "$sharedir")"
	cp -a "$bindir/." "$tree$bindir/"
	cp -a "$libdir"/*.so "$tree$libdir/"
	cp -a "$sharedir" "$tree$(dirname "$sharedir")/"
	rm -f "$tree$sharedir"/extension/tenant_backup*
	cp "$dir/src/tenant_backup.so" "$tree$libdir/"
	cp "$dir/src/tenant_backup.control" "$dir/src/tenant_backup--0.1.0.sql" "$tree$sharedir/extension/"
	TB_OLD_INSTALL="$tree$(dirname "$bindir")"
	export TB_OLD_INSTALL
	chmod -R a+rX "$ROOT/build"
}

citus_build() {
	# Citus (not in Debian) from its source beside the checkout, for t/016_citus_refusal.pl,
	# t/021_citus_restore.pl, t/032-034 (atomicity, scheduler, features) and t/050-051 (2PC, undo), which skip with a clear line when Citus is not installed.
	local src=${TB_CITUS_SOURCE:-$ROOT/../shared/citus}
	if [ ! -f "$src/build.sh" ]; then
		echo "no Citus source at $src (set TB_CITUS_SOURCE): the Citus TAP test will skip"
		return 0
	fi
	$SUDO bash "$src/build.sh" "$ROOT/build/citus"
}

tap_tests() {
	# PostgreSQL refuses to run as root: the TAP tests run as postgres from a copy it can read.
	local dir
	dir=$(mktemp -d /tmp/tenant_backup_tap.XXXXXX)
	cp -r test/t "$dir/"
	cp -r test/s3 "$dir/" # the Swift harness, which t/011_s3.pl starts itself (TB_S3_HARNESS)
	cp -r monitoring "$dir/" # the Prometheus query file and alert rules, which t/036_prometheus.pl serves
	cp README.md "$dir/"  # t/049_readme_tour.pl runs its SQL
	mkdir -p "$dir/sql" && cp -r sql/include "$dir/sql/" # helpers the regression tests share with t/057
	local run=()
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres "$dir"
		run=(runuser -u postgres --)
	fi
	local rc=0
	(cd "$dir" && "${run[@]}" env PATH="$PG_BIN:$PATH" PERL5LIB="$PGXS_DIR/src/test/perl" \
		PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" TESTDIR="$dir" TB_S3_HARNESS="$dir/s3" TB_OLD_INSTALL="${TB_OLD_INSTALL:-}" \
		prove -v --timer t/*.pl) 2>&1 | tee "$dir/prove.out" || rc=$?
	[ "$rc" -eq 0 ] || tap_failure_logs "$dir"
	return "$rc"
}

# After a failed TAP run, what its servers logged, at the end of the output (where a CI's
# shortened log still shows it): each failed test's errors and the last lines of its own log.
tap_failure_logs() {
	local dir=$1 name
	for name in $(sed -n 's#^t/\([0-9A-Za-z_]*\)\.pl  *(Wstat.*#\1#p' "$dir/prove.out"); do
		echo "=== $name: server errors (last 40)"
		grep -hE "ERROR|FATAL|PANIC|TRAP|DETAIL|terminated by signal" "$dir"/tmp_check/log/"${name}"_*.log 2>/dev/null | tail -40
		echo "=== $name: its log (last 30 lines)"
		tail -30 "$dir/tmp_check/log/regress_log_$name" 2>/dev/null
	done
}

suite "boundaries (scripts/check-boundaries.sh)" bash scripts/check-boundaries.sh
suite "docs (scripts/check-docs.py)" python3 scripts/check-docs.py
suite "unit tests (ctest)" unit_tests
suite "S3 (Swift)" s3_tests
suite "fuzz (archive reader)" fuzz_archive_reader
suite "build and install" build_extension
suite "pg_regress" regress_tests
suite "demo (scripts/demo.sh, as the README runs it)" bash scripts/demo.sh
suite "release 0.1.0 (for the upgrade test)" release_0_1_0
suite "Citus (for the Citus test)" citus_build
suite "TAP" tap_tests

echo "test suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# A private PostgreSQL installation for development, so that several checkouts can build, install
# and test at once without sharing the system's extension directory:
#   scripts/dev-pg.sh install DIR            copy PostgreSQL into DIR/pg (once) and install this build there
#   scripts/dev-pg.sh regress DIR [FILES..]  pg_regress (all of sql/, or FILES) in a throwaway cluster of DIR/pg
#   scripts/dev-pg.sh tap DIR t/0NN_x.pl..   TAP tests against DIR/pg
# PostgreSQL finds its share and lib directories relative to its binaries, so a copy works
# (scripts/test.sh builds the 0.1.0 tree for the upgrade test the same way). Run as root: the
# clusters run as postgres. CI does not use this; it tests the system installation.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
cmd=${1:?usage: dev-pg.sh install|regress|tap DIR ...}
DIR=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
shift 2
TREE=$DIR/pg
BIN=$TREE$(pg_config --bindir)
PGXS_DIR=$(cd "$(dirname "$(pg_config --pgxs)")/../.." && pwd)

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
install)
	# (again when the system's PostgreSQL was upgraded since)
	if ! cmp -s "$BIN/postgres" "$(pg_config --bindir)/postgres"; then
		rm -rf "$TREE"
		libdir=$(pg_config --pkglibdir)
		sharedir=$(pg_config --sharedir)
		mkdir -p "$BIN" "$TREE$libdir" "$TREE$(dirname "$sharedir")"
		cp -a "$(pg_config --bindir)/." "$BIN/"
		cp -a "$libdir/." "$TREE$libdir/"
		cp -a "$sharedir" "$TREE$(dirname "$sharedir")/"
	fi
	make -s -j"$(nproc)" >/dev/null
	make -s install DESTDIR="$TREE" >/dev/null
	chmod -R a+rX "$DIR"
	echo "installed into $TREE"
	;;
regress)
	run=$(mktemp -d "$DIR/regress.XXXXXX")
	chown postgres "$run" 2>/dev/null || true
	port=$((20000 + RANDOM % 20000))
	as_postgres "$BIN/initdb" -D "$run/data" -A trust >/dev/null
	as_postgres "$BIN/pg_ctl" -D "$run/data" -l "$run/log" -w -o "-p $port -k $run -c listen_addresses=''" start >/dev/null
	rc=0
	tests=("$@")
	[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(cd sql && ls ./*.sql | sed 's|^\./||; s/\.sql$//')
	cp -r sql expected "$run/" && chmod -R a+rwX "$run"
	as_postgres env PGHOST="$run" PGPORT="$port" "$PGXS_DIR/src/test/regress/pg_regress" --inputdir="$run" \
		--outputdir="$run" --dbname=contrib_regression --bindir="$BIN" "${tests[@]}" || rc=$?
	as_postgres "$BIN/pg_ctl" -D "$run/data" -m fast stop >/dev/null
	if [ "$rc" -ne 0 ]; then
		head -200 "$run/regression.diffs" 2>/dev/null
		echo "diffs kept in $run"
	else
		rm -rf "$run"
	fi
	exit "$rc"
	;;
tap)
	run=$(mktemp -d "$DIR/tap.XXXXXX")
	cp -r test/t test/s3 monitoring README.md "$run/"
	mkdir -p "$run/sql" && cp -r sql/include "$run/sql/"
	chown -R postgres "$run" 2>/dev/null || true
	(cd "$run" && as_postgres env PATH="$BIN:$PATH" PERL5LIB="$PGXS_DIR/src/test/perl" \
		PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" TESTDIR="$run" TB_S3_HARNESS="$run/s3" \
		TB_OLD_INSTALL="${TB_OLD_INSTALL:-$ROOT/build/release-0.1.0/pg$(dirname "$(pg_config --bindir)")}" \
		prove --timer "$@")
	;;
*)
	echo "usage: dev-pg.sh install|regress|tap DIR ..." >&2
	exit 2
	;;
esac

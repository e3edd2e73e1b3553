#!/usr/bin/env bash
# Benchmark of tenant_backup against its floors and against what a DBA would do instead.
#
#   bash bench/run.sh [--scale N] [--runs N] [--port N] [--no-install] [--time-limit SECONDS]
#                     [--variant direct|path] [--pg-bindir DIR] [--out DIR]
#
# Installs what it needs (scripts/install-deps.sh, gnuplot-nox, zstd), builds and installs the
# extension, starts a throwaway cluster as the postgres user under /tmp, generates a reproducible
# multi-tenant database (~10.2M rows at --scale 1), measures (medians over --runs) and writes
# results.md, results.png, raw.tsv and info.tsv to --out (default bench/results, for --variant path
# bench/results/path). The cluster is removed on exit. Needs root (or sudo).
# --no-install skips packages and the build (uses the installed extension). --variant path: order_lines
# has no tenant_id and is found through orders (a path table; its floors read it through the join).
# --pg-bindir: the PostgreSQL binaries (and, next to them, the extension) of a private tree such
# as scripts/dev-pg.sh install makes (DIR/pg/usr/lib/postgresql/15/bin); nothing is installed
# into the system then: install the build there first.
set -euo pipefail

SCALE=1
RUNS=3
PORT=54329
INSTALL=1
TIME_LIMIT=3600
VARIANT=direct
PG_BINDIR=""
OUT=""
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
BENCH=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib/cluster.sh
. "$BENCH/lib/cluster.sh"
while [ $# -gt 0 ]; do
	if bench_option "$@"; then shift 2; continue; fi
	case $1 in
	--no-install) INSTALL=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done

bench_check_options
ROOT=$(dirname "$BENCH")
[ -n "$OUT" ] || OUT=$BENCH/results$([ "$VARIANT" = path ] && echo /path)
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
cd "$ROOT"

# ---------------------------------------------------------------- dependencies and build
if [ "$INSTALL" = 1 ]; then
	log "installing packages and building the extension"
	bash scripts/install-deps.sh
	missing=()
	for p in gnuplot-nox zstd openssl python3 bc; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	make -s -j"$(nproc)"
	# a private tree (--pg-bindir) has the build installed already: the system stays untouched
	[ -n "$PG_BINDIR" ] || $SUDO make -s install
fi
for tool in gnuplot zstd openssl python3 bc psql pg_dump pg_config; do
	command -v "$tool" >/dev/null || { echo "missing $tool (run without --no-install)" >&2; exit 1; }
done
bench_cluster tb_bench
mkdir -p "$WORK/dba" "$WORK/dump"

TABLES=(tenants customers products orders order_lines events)

# ---------------------------------------------------------------- data
log "generating data (scale $SCALE)"
t0=$(now)
sql -v scale="$SCALE" -v variant="$VARIANT" -f "$BENCH/sql/schema.sql"
sql -f "$BENCH/sql/functions.sql"
sql -f "$BENCH/sql/generate_events.sql" &
events_pid=$!
sql -f "$BENCH/sql/generate_main.sql"
wait $events_pid
log "  rows inserted ($(elapsed "$t0") s); indexes, foreign keys, VACUUM ANALYZE, CHECKPOINT"
sql -f "$BENCH/sql/finish.sql"
info gen_seconds "$(elapsed "$t0")"
log "  data ready ($(elapsed "$t0") s)"

# Encryption on for every backup: a fixed 64-hex master key from a command.
KEY=$(printf 'tenant_backup benchmark key!!!!!' | od -An -tx1 | tr -d ' \n')
sql -c "LOAD 'tenant_backup'" -c "ALTER SYSTEM SET tenant_backup.encryption_key_command = 'echo $KEY'" -c "SELECT pg_reload_conf()" >/dev/null

LARGE=1
# the small tenant: the median one of the small tenants (~1,000 rows expected)
SMALL=$(sql -c "SELECT tid FROM bench.tenant_share WHERE kind = 'small' ORDER BY tid
                OFFSET (SELECT count(*) / 2 FROM bench.tenant_share WHERE kind = 'small') LIMIT 1")
WARM=$((SMALL + 1)) # warms up each session (library load, caches); never measured
info large_tid $LARGE
info small_tid "$SMALL"
info large_rows "$(sql -c "SELECT bench.tenant_rows($LARGE)")"
info small_rows "$(sql -c "SELECT bench.tenant_rows($SMALL)")"
for t in "${TABLES[@]}"; do info "rows_$t" "$(sql -c "SELECT count(*) FROM $t")"; done
info total_rows "$(sql -c "SELECT sum(n) FROM (SELECT count(*) n FROM customers UNION ALL SELECT count(*) FROM products
  UNION ALL SELECT count(*) FROM orders UNION ALL SELECT count(*) FROM order_lines UNION ALL SELECT count(*) FROM events
  UNION ALL SELECT count(*) FROM tenants) s")"
info tenants "$(sql -c "SELECT count(*) FROM tenants")"
info tenants_by_kind "$(sql -c "SELECT string_agg(n || ' ' || kind, ', ' ORDER BY min) FROM (SELECT kind, count(*) n, min(tid) FROM bench.tenant_share GROUP BY kind) s")"
info db_bytes "$(sql -c "SELECT pg_database_size('bench')")"
# interleaving: share of order_lines' heap pages holding rows of the tenant
for who in LARGE SMALL; do
	tid=${!who}
	info "pages_${who,,}" "$(sql -c "SELECT count(DISTINCT (r.ctid::text::point)[0]) || ' of ' || pg_relation_size('order_lines') / 8192
	                                $(sql -c "SELECT bench.rows_from('order_lines', $tid)")")"
done
# how the floor reads order_lines (in the path variant: through the join), on one line
for who in LARGE SMALL; do
	tid=${!who}
	info "plan_${who,,}" "$(sql -c "EXPLAIN (COSTS OFF) $(sql -c "SELECT bench.rows_sql('order_lines', $tid)")" |
		sed 's/^ *//; s/^-> *//' | paste -sd'|' | sed 's/|/ · /g')"
done
# Binary row data of each tenant, written once as files for the restore floor (3).
mkdir -p "$WORK/copy/large" "$WORK/copy/small"
chown postgres: "$WORK/copy/large" "$WORK/copy/small"
info large_bytes "$(sql -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT bench.copy_out_files($LARGE, '$WORK/copy/large')" -c "COMMIT")"
info small_bytes "$(sql -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT bench.copy_out_files($SMALL, '$WORK/copy/small')" -c "COMMIT")"
log "  large tenant $LARGE, small tenant $SMALL"

VACUUM_SQL="VACUUM ${TABLES[*]};"
VACUUM_SQL=${VACUUM_SQL// /, }
VACUUM_SQL=${VACUUM_SQL/VACUUM, /VACUUM }

# ---------------------------------------------------------------- (1) and (2): floor and backup_create
log "(1) floor and (2) backup_create, $RUNS runs"
{
	echo "\\set large $LARGE"
	echo "\\set small $SMALL"
	# warm-up, not measured: reads every tenant's rows once, loads the library
	echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out(:large) AS s \\gset"
	echo "COMMIT;"
	echo "CALL bench.timed_backup('$WARM', 'warmup') \\gset"
	for r in $(seq 1 "$RUNS"); do
		for who in large small; do
			floor="BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out(:$who) AS s \\gset
COMMIT;
\\echo floor_out	$who	$r	:s"
			backup="CALL bench.timed_backup(:'$who', 'bench') \\gset
\\echo backup	$who	$r	:secs
\\echo backup_id	$who	$r	:backup_id"
			# alternate the order so that neither always runs first
			if [ $((r % 2)) = 1 ]; then echo "$floor"; echo "$backup"; else echo "$backup"; echo "$floor"; fi
		done
	done
} >"$WORK/phase_backup.sql"
sql -f "$WORK/phase_backup.sql" >>"$RESULTS"
sql -c "SELECT 'archive_bytes', CASE tenant WHEN '$LARGE' THEN 'large' ELSE 'small' END, row_number() OVER (PARTITION BY tenant ORDER BY id), size_bytes
        FROM tenant_backup.backups WHERE label = 'bench' ORDER BY id" -F $'\t' >>"$RESULTS"
info backup_settings "$(sql -c "LOAD 'tenant_backup'" -c "SELECT string_agg(DISTINCT format('compression=%s encrypted=%s level=%s', compression, encrypted, current_setting('tenant_backup.compression_level')), '; ')
                                FROM tenant_backup.backups WHERE label = 'bench'")"
info archive_rows_large "$(sql -c "SELECT max(row_count) FROM tenant_backup.backups WHERE label = 'bench' AND tenant = '$LARGE'")"

# ---------------------------------------------------------------- (4) what a DBA would script
DBA_PASS="benchmark passphrase"
declare -A DBA_QUERY # "table tenant" -> the query of the tenant's rows (bench.rows_sql), not timed
for t in "${TABLES[@]}"; do
	for tid in $LARGE $SMALL; do DBA_QUERY["$t $tid"]=$(sql -c "SELECT bench.rows_sql('$t', $tid)"); done
done
dba_pipeline() { # tenant id, output dir
	local t
	for t in "${TABLES[@]}"; do
		"${PSQL[@]}" -d bench -c "\\copy (${DBA_QUERY["$t $1"]}) TO STDOUT" |
			zstd -3 -q -c |
			openssl enc -aes-256-ctr -pbkdf2 -pass "pass:$DBA_PASS" |
			tee "$2/$t.copy.zst.enc" | sha256sum >"$2/$t.copy.zst.enc.sha256"
	done
}
log "(4) psql \\copy | zstd -3 | openssl enc | sha256sum, $RUNS runs"
for r in $(seq 1 "$RUNS"); do
	for who in large small; do
		tid=$([ $who = large ] && echo $LARGE || echo "$SMALL")
		rm -rf "$WORK/dba/$who" && mkdir -p "$WORK/dba/$who"
		t0=$(now)
		dba_pipeline "$tid" "$WORK/dba/$who"
		printf 'dba\t%s\t%s\t%s\n' $who "$r" "$(elapsed "$t0")" >>"$RESULTS"
		printf 'dba_bytes\t%s\t%s\t%s\n' $who "$r" "$(cat "$WORK/dba/$who"/*.enc | wc -c)" >>"$RESULTS"
	done
done

# ---------------------------------------------------------------- (3) backup_restore and its floor
log "(3) backup_restore and its floor (each inside BEGIN ... ROLLBACK), $RUNS runs"
ID_LARGE=$(sql -c "SELECT max(id) FROM tenant_backup.backups WHERE label = 'bench' AND tenant = '$LARGE'")
ID_SMALL=$(sql -c "SELECT max(id) FROM tenant_backup.backups WHERE label = 'bench' AND tenant = '$SMALL'")
# Untimed steps around each measured restore, echoing how long they took:
# - CHECKPOINT before: every measured restore starts right after a checkpoint, so the first change of
#   each page writes a full-page image into the WAL in every run (full_page_writes on), not only in
#   the first run after the load;
# - VACUUM after a large restore: the rolled-back rows are dead tuples and index entries, removed
#   so that the next run sees the same tables.
untimed() { # metric, who, run, sql
	printf 'SELECT clock_timestamp() AS u0 \\gset\n%s\nSELECT extract(epoch FROM clock_timestamp() - :'"'"'u0'"'"') AS u \\gset\n\\echo %s\t%s\t%s\t:u\n' "$4" "$1" "$2" "$3"
}
{
	echo "\\set large $LARGE"
	echo "\\set small $SMALL"
	# warm-up, not measured
	echo "BEGIN; SELECT bench.timed_restore(max(id)) AS s FROM tenant_backup.backups WHERE label = 'warmup' \\gset"
	echo "ROLLBACK;"
	echo "BEGIN; SELECT bench.floor_restore(:small, '$WORK/copy/small') AS s \\gset"
	echo "ROLLBACK;"
	# and one of the large tenant: the first load into the indexes splits pages, which the rollback
	# and VACUUM keep; without it the first measured run would pay those splits alone
	echo "BEGIN; SELECT bench.floor_restore(:large, '$WORK/copy/large') AS s \\gset"
	echo "ROLLBACK;"
	echo "$VACUUM_SQL"
	for r in $(seq 1 "$RUNS"); do
		for who in large small; do
			id=$([ $who = large ] && echo "$ID_LARGE" || echo "$ID_SMALL")
			floor="BEGIN; SELECT bench.floor_restore(:$who, '$WORK/copy/$who') AS s \\gset
ROLLBACK;
\\echo floor_restore	$who	$r	:s"
			restore="BEGIN; SELECT bench.timed_restore($id) AS s \\gset
ROLLBACK;
\\echo restore	$who	$r	:s"
			# alternate the order so that neither always runs first
			if [ $((r % 2)) = 1 ]; then ops=("$floor" "$restore"); else ops=("$restore" "$floor"); fi
			for op in "${ops[@]}"; do
				untimed checkpoint "$who" "$r" "CHECKPOINT;"
				echo "$op"
				[ $who = large ] && untimed vacuum "$who" "$r" "$VACUUM_SQL"
			done
		done
	done
} >"$WORK/phase_restore.sql"
sql -f "$WORK/phase_restore.sql" >>"$RESULTS"

# ---------------------------------------------------------------- (6) backend memory
# Each measurement in a fresh session (freed memory is not always returned to the OS, so a second
# measurement in the same backend would start from a higher baseline): a warm-up on a small
# tenant, then RssAnon of the backend sampled every 20 ms around the measured call.
mem_measure() { # name, warm-up SQL, measured SQL, SQL after
	{
		echo "SELECT pg_backend_pid() AS pid \\gset"
		echo "\\setenv TB_PID :pid"
		echo "$2"
		echo "\\! python3 '$BENCH/lib/sample_mem.py' \"\$TB_PID\" '$WORK/mem_$1.txt' '$WORK/mem_$1.stop' &"
		echo "SELECT pg_sleep(0.5);"
		echo "$3"
		echo "SELECT pg_sleep(0.1);"
		echo "\\! touch '$WORK/mem_$1.stop'"
		echo "$4"
	} >"$WORK/mem_$1.sql"
	sql -f "$WORK/mem_$1.sql" >/dev/null
	for _ in $(seq 1 100); do [ -f "$WORK/mem_$1.txt" ] && break; sleep 0.1; done
	read -r base peak samples <"$WORK/mem_$1.txt"
	printf 'mem_%s_base\tlarge\t1\t%s\nmem_%s_peak\tlarge\t1\t%s\nmem_%s_samples\tlarge\t1\t%s\n' \
		"$1" "$base" "$1" "$peak" "$1" "$samples" >>"$RESULTS"
}
log "(6) backend memory during backup and restore of the large tenant, and during the floors"
mem_measure backup "CALL bench.timed_backup('$WARM', 'warmup') \\gset" \
	"CALL bench.timed_backup('$LARGE', 'memory') \\gset" ""
mem_measure restore "BEGIN; SELECT bench.timed_restore(max(id)) FROM tenant_backup.backups WHERE label = 'warmup'; ROLLBACK;" \
	"BEGIN; SELECT bench.timed_restore($ID_LARGE); ROLLBACK;" "$VACUUM_SQL"
# the same restore with PostgreSQL's default work_mem (4MB) instead of the cluster's 64MB
mem_measure restore_wm4 "SET work_mem = '4MB'; BEGIN; SELECT bench.timed_restore(max(id)) FROM tenant_backup.backups WHERE label = 'warmup'; ROLLBACK;" \
	"BEGIN; SELECT bench.timed_restore($ID_LARGE); ROLLBACK;" "$VACUUM_SQL"
mem_measure floor_out "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out($WARM); COMMIT;" \
	"BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out($LARGE); COMMIT;" ""
mem_measure floor_restore "BEGIN; SELECT bench.floor_restore($SMALL, '$WORK/copy/small'); ROLLBACK;" \
	"BEGIN; SELECT bench.floor_restore($LARGE, '$WORK/copy/large'); ROLLBACK;" "$VACUUM_SQL"

# ---------------------------------------------------------------- (5) whole database
NT=$(sql -c "SELECT count(*) FROM tenants")
NPAR=$(nproc)
info parallel_sessions "$NPAR"
log "(5) pg_dump -Fc of the database and backup_create of all $NT tenants (one statement; $NPAR sessions), $RUNS runs"
for r in $(seq 1 "$RUNS"); do
	# one statement, one transaction: the time includes the commit that publishes the archives
	t0=$(now)
	sql -c "SELECT count(tenant_backup.backup_create(tenant_id::text, 'all')) FROM tenants" >/dev/null
	printf 'all_backups\tall\t%s\t%s\n' "$r" "$(elapsed "$t0")" >>"$RESULTS"
	printf 'all_backups_bytes\tall\t%s\t%s\n' "$r" "$(sql -c "SELECT sum(size_bytes) FROM tenant_backup.backups WHERE label = 'all'")" >>"$RESULTS"
	sql -c "DO \$\$ BEGIN PERFORM tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE label = 'all'; END \$\$"
	# Parallel workers, as the target allows: one session per core, each one statement over its
	# share of the tenants (tenant_id modulo the number of sessions).
	t0=$(now)
	pids=()
	for k in $(seq 0 $((NPAR - 1))); do
		sql -c "SELECT count(tenant_backup.backup_create(tenant_id::text, 'all')) FROM tenants WHERE tenant_id % $NPAR = $k" >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	printf 'all_backups_parallel\tall\t%s\t%s\n' "$r" "$(elapsed "$t0")" >>"$RESULTS"
	sql -c "DO \$\$ BEGIN PERFORM tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE label = 'all'; END \$\$"
	t0=$(now)
	pg_dump -h /tmp -p "$PORT" -U postgres -Fc -f "$WORK/dump/bench.dump" bench
	printf 'pg_dump\tall\t%s\t%s\n' "$r" "$(elapsed "$t0")" >>"$RESULTS"
	printf 'pg_dump_bytes\tall\t%s\t%s\n' "$r" "$(stat -c %s "$WORK/dump/bench.dump")" >>"$RESULTS"
	rm -f "$WORK/dump/bench.dump"
done
# For reference, once: what a nightly job with one transaction per tenant costs.
log "(5) backup_create of all $NT tenants, one transaction each (psql script), once"
sql -c "SELECT format('SELECT tenant_backup.backup_create(%L, %L);', tenant_id, 'all') FROM tenants ORDER BY tenant_id" >"$WORK/all_tenants.sql"
t0=$(now)
"${PSQL[@]}" -d bench -f "$WORK/all_tenants.sql" >/dev/null
printf 'all_backups_txn\tall\t1\t%s\n' "$(elapsed "$t0")" >>"$RESULTS"
sql -c "DO \$\$ BEGIN PERFORM tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE label = 'all'; END \$\$"

# ---------------------------------------------------------------- report
info date "$(date -u '+%Y-%m-%d %H:%M UTC')"
info machine "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(. /etc/os-release && echo "$PRETTY_NAME")"
info postgres "$(sql -c "SELECT version()" | sed 's/ on .*//')"
info commit "$COMMIT_INFO"
info scale "$SCALE"
info variant "$VARIANT"
info pg_bindir "$PG_BINDIR"
info runs "$RUNS"
info loadavg "$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
if [ -n "$PG_BINDIR" ]; then
	BUILD="the build installed in the private tree of --pg-bindir"
elif [ "$INSTALL" = 1 ]; then
	BUILD="built and installed from this work tree"
else
	BUILD="the installed build (--no-install)"
fi
info build "$BUILD, $(pg_config --pkglibdir)/tenant_backup.so of $(date -u -r "$(pg_config --pkglibdir)/tenant_backup.so" '+%Y-%m-%d %H:%M UTC')"
info total_seconds "$(elapsed "$T_START")"
python3 "$BENCH/lib/report.py" "$RESULTS" "$INFO" "$OUT"
cp "$RESULTS" "$OUT/raw.tsv"
cp "$INFO" "$OUT/info.tsv" # report.py raw.tsv info.tsv DIR redoes the report
cat "$OUT/results.md"
log "done: $OUT/results.md, $OUT/results.png"

#!/usr/bin/env bash
# Benchmark of restores that apply only the differences (issue 21), against their floors.
#
#   bash bench/diff.sh [--scale N] [--runs N] [--port N] [--time-limit SECONDS]
#                      [--variant direct|path] [--pg-bindir DIR] [--out DIR]
#
# The database of bench/run.sh (bench/sql: the large tenant has ~1.2M rows at --scale 1), in a
# throwaway cluster as the postgres user under /tmp, with the build already installed (the system's
# PostgreSQL, or the private tree of --pg-bindir, see bench/run.sh). Measures, each a median of
# --runs, every restore inside BEGIN ... ROLLBACK right after a CHECKPOINT, and VACUUM after it:
#  - backup_create and backup_diff of the large tenant against the backup's floor (binary COPY of
#    its rows to /dev/null);
#  - after 1% of its rows changed since the backup (bench/sql/diff.sql: updates, deletes and
#    inserts): backup_restore without and with its pre_restore backup, against the floor of
#    today's restore (per table DELETE of the tenant's rows and binary COPY FROM of the backup's):
#    time and WAL inserted (pg_current_wal_insert_lsn before and after);
#  - after every row changed: the same;
#  - then after order_lines.quantity became bigint (the archive has int): the same restore,
#    against the one before (issue 20: a converted column must not slow down the others).
# Writes diff.md and diff_raw.tsv, diff_info.tsv to --out (default bench/results). Needs root (or sudo).
set -euo pipefail

SCALE=1
RUNS=3
PORT=54331
TIME_LIMIT=3600
VARIANT=direct
PG_BINDIR=""
OUT=""
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
BENCH=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib/cluster.sh
. "$BENCH/lib/cluster.sh"
while [ $# -gt 0 ]; do
	if bench_option "$@"; then shift 2; continue; fi
	case $1 in
	-h | --help) usage; exit 0 ;;
	*) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done
bench_check_options
ROOT=$(dirname "$BENCH")
[ -n "$OUT" ] || OUT=$BENCH/results
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
cd "$ROOT"
for tool in python3 bc psql pg_config; do
	command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
bench_cluster tb_diff

TABLES=(tenants customers products orders order_lines events)

log "generating data (scale $SCALE)"
t0=$(now)
sql -v scale="$SCALE" -v variant="$VARIANT" -f "$BENCH/sql/schema.sql"
sql -f "$BENCH/sql/functions.sql"
sql -f "$BENCH/sql/diff.sql"
sql -f "$BENCH/sql/generate_events.sql" &
events_pid=$!
sql -f "$BENCH/sql/generate_main.sql"
wait $events_pid
sql -f "$BENCH/sql/finish.sql"
info gen_seconds "$(elapsed "$t0")"
KEY=$(printf 'tenant_backup benchmark key!!!!!' | od -An -tx1 | tr -d ' \n')
sql -c "LOAD 'tenant_backup'" -c "ALTER SYSTEM SET tenant_backup.encryption_key_command = 'echo $KEY'" -c "SELECT pg_reload_conf()" >/dev/null
LARGE=1
info large_rows "$(sql -c "SELECT bench.tenant_rows($LARGE)")"
# the backup's rows as binary files, for the restore floor
mkdir -p "$WORK/copy/large" && chown postgres: "$WORK/copy/large"
info large_bytes "$(sql -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT bench.copy_out_files($LARGE, '$WORK/copy/large')" -c "COMMIT")"
VACUUM_SQL="VACUUM ${TABLES[*]};"
VACUUM_SQL=${VACUUM_SQL// /, }
VACUUM_SQL=${VACUUM_SQL/VACUUM, /VACUUM }

log "backup_create, its floor and backup_diff (no change), $RUNS runs"
{
	echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out($LARGE) AS s \\gset"
	echo "COMMIT;"
	for r in $(seq 1 "$RUNS"); do
		echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out($LARGE) AS s \\gset"
		echo "COMMIT;"
		echo "\\echo floor_out	large	$r	:s"
		echo "CALL bench.timed_backup('$LARGE', 'bench') \\gset"
		echo "\\echo backup	large	$r	:secs"
	done
} >"$WORK/phase_backup.sql"
sql -f "$WORK/phase_backup.sql" >>"$RESULTS"
ID=$(sql -c "SELECT max(id) FROM tenant_backup.backups WHERE label = 'bench'")
info backup_id "$ID"
measured() { # metric, run, statement: "metric_s" and "metric_wal" lines
	printf "SELECT split_part(m, ' ', 1) AS s, split_part(m, ' ', 2) AS w FROM bench.measure(%s) m \\\\gset\n" "$(printf "%s" "$3" | sed "s/'/''/g; s/^/'/; s/\$/'/")"
	printf '\\echo %s_s\tlarge\t%s\t:s\n\\echo %s_wal\tlarge\t%s\t:w\n' "$1" "$2" "$1" "$2"
}
diff_phase() { # label
	{
		for r in $(seq 1 "$RUNS"); do
			measured "diff_$1" "$r" "SELECT count(*) FROM tenant_backup.backup_diff($ID)"
		done
	} >"$WORK/phase_diff_$1.sql"
	sql -f "$WORK/phase_diff_$1.sql" >>"$RESULTS"
}
restore_phase() { # label
	{
		for r in $(seq 1 "$RUNS"); do
			ops=("floor_$1|SELECT bench.floor_restore($LARGE, '$WORK/copy/large')"
				"restore_$1|SELECT count(*) FROM tenant_backup.backup_restore($ID, dry_run => false, pre_restore_backup => false)"
				"undo_$1|SELECT count(*) FROM tenant_backup.backup_restore($ID, dry_run => false, pre_restore_backup => true)")
			# rotate the order so that none always runs first
			for k in 0 1 2; do
				op=${ops[$(((k + r) % 3))]}
				echo "CHECKPOINT;"
				echo "BEGIN;"
				measured "${op%%|*}" "$r" "${op#*|}"
				echo "ROLLBACK;"
				echo "$VACUUM_SQL"
			done
		done
	} >"$WORK/phase_restore_$1.sql"
	sql -f "$WORK/phase_restore_$1.sql" >>"$RESULTS"
}
diff_phase same
log "1% of the large tenant's rows changed"
info changed_1 "$(sql -c "SELECT bench.change_tenant($LARGE, 0.01)")"
sql -c "$VACUUM_SQL" -c "ANALYZE" -c "CHECKPOINT"
sql -F $'\t' -c "SELECT 'diff_1 ' || table_name, concat_ws(' ', only_in_backup, only_live, changed, unchanged)
                  FROM tenant_backup.backup_diff($ID)" >>"$INFO"
diff_phase 1
log "restores after 1% changed, $RUNS runs"
restore_phase 1
log "every row of the large tenant changed"
info changed_100 "$(sql -c "SELECT bench.change_tenant($LARGE, 1)")"
sql -c "$VACUUM_SQL" -c "ANALYZE" -c "CHECKPOINT"
log "restores after 100% changed, $RUNS runs"
restore_phase 100
# Issue 20: converting a column whose type changed must not slow down the others. The same
# restore (every row differs: deleted and reloaded) once order_lines.quantity is bigint, where
# the archive has int: one of its 7 columns is converted, the others go to COPY as archived.
log "order_lines.quantity int -> bigint, then the same restore, $RUNS runs"
sql -c "ALTER TABLE order_lines ALTER COLUMN quantity TYPE bigint" -c "$VACUUM_SQL" -c "ANALYZE" -c "CHECKPOINT"
{
	for r in $(seq 1 "$RUNS"); do
		echo "CHECKPOINT;"
		echo "BEGIN;"
		measured restore_migrated "$r" "SELECT count(*) FROM tenant_backup.backup_restore($ID, dry_run => false, pre_restore_backup => false)"
		echo "ROLLBACK;"
		echo "$VACUUM_SQL"
	done
} >"$WORK/phase_migrated.sql"
sql -f "$WORK/phase_migrated.sql" >>"$RESULTS"

info date "$(date -u '+%Y-%m-%d %H:%M UTC')"
info machine "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM"
info postgres "$(sql -c "SELECT version()" | sed 's/ on .*//')"
info commit "$COMMIT_INFO"
info scale "$SCALE"
info variant "$VARIANT"
info runs "$RUNS"
info loadavg "$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
info total_seconds "$(elapsed "$T_START")"
cp "$RESULTS" "$OUT/diff_raw.tsv"
cp "$INFO" "$OUT/diff_info.tsv"
python3 "$BENCH/lib/diff_report.py" "$OUT/diff_raw.tsv" "$OUT/diff_info.tsv" "$OUT/diff.md"
cat "$OUT/diff.md"
log "done: $OUT/diff.md"

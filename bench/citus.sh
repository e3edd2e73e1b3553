#!/usr/bin/env bash
# Citus mode of the benchmark (issue 15): the same dataset as bench/run.sh (bench/sql/schema.sql and
# the generators), distributed by tenant_id over two local workers, every table co-located with
# tenants; tenant_backup on the coordinator. Measures, through the coordinator:
#   - backup_create of the large tenant against its floor, COPY (SELECT ... WHERE tenant_id = X)
#     TO '/dev/null' of every table in one REPEATABLE READ transaction (bench.floor_copy_out);
#   - backup_restore of the large tenant (inside BEGIN ... ROLLBACK) against its floor: DELETE of
#     the tenant's rows (children first) and COPY FROM of the same rows, through Citus;
#   - backup_create of every tenant, in one session and in two sessions (half the tenants each).
#
#   bash bench/citus.sh [--scale N] [--runs N] [--port N] [--pg-bindir DIR] [--out DIR] [--plain]
#
# --plain (a diagnostic): archives neither encrypted nor compressed (no key, compression_level 0),
# to see what of the backup's time over its floor is zstd and AES-GCM on the coordinator.
# Needs Citus installed next to the PostgreSQL binaries (../shared/citus/build.sh, or a private
# tree made by scripts/dev-pg.sh install, given with --pg-bindir) and the extension built and
# installed there. Three throwaway clusters under /tmp (ports N, N+1, N+2), removed on exit.
# Writes results.md and raw.tsv to --out (default bench/results/citus).
set -euo pipefail

SCALE=0.1
RUNS=3
PORT=54339
PG_BINDIR=""
OUT=""
PLAIN=0
while [ $# -gt 0 ]; do
	case $1 in
	--scale) SCALE=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--pg-bindir) PG_BINDIR=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--plain) PLAIN=1; shift ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
done
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "--scale must be a positive number" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a positive integer" >&2; exit 2; }
[ -z "$PG_BINDIR" ] || export PATH="$(cd "$PG_BINDIR" && pwd):$PATH"
PGBIN=$(pg_config --bindir)
[ -f "$(pg_config --pkglibdir)/citus.so" ] || { echo "Citus is not installed in $(pg_config --pkglibdir)" >&2; exit 1; }

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
[ -n "$OUT" ] || OUT=$BENCH/results/citus
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
as_pg() { $SUDO runuser -u postgres -- "$@"; }
T_START=$(date +%s.%N)
now() { date +%s.%N; }
elapsed() { printf '%.3f' "$(echo "$(now) - $1" | bc)"; }
log() { printf '[%6.1fs] %s\n' "$(elapsed "$T_START")" "$*" >&2; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

WORK=$(mktemp -d /tmp/tb_bench_citus.XXXXXX)
chmod 755 "$WORK"
chown postgres: "$WORK"
NODES=(coordinator worker1 worker2)
cleanup() {
	local rc=$?
	for n in "${NODES[@]}"; do
		[ -f "$WORK/$n/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -m immediate -w stop >/dev/null 2>&1 || true
	done
	[ $rc -ne 0 ] && tail -n 20 "$WORK"/*.log >&2 2>/dev/null
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The same settings as bench/run.sh, with a third of its shared_buffers per node.
for i in 0 1 2; do
	n=${NODES[$i]}
	as_pg "$PGBIN/initdb" -D "$WORK/$n" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
	cat >>"$WORK/$n/postgresql.conf" <<EOF
port = $((PORT + i))
listen_addresses = ''
unix_socket_directories = '/tmp'
shared_preload_libraries = 'citus'
citus.local_hostname = '/tmp'
max_connections = 40
shared_buffers = 700MB
work_mem = 64MB
maintenance_work_mem = 512MB
random_page_cost = 1.1
max_wal_size = 8GB
checkpoint_timeout = 30min
fsync = on
synchronous_commit = on
full_page_writes = on
autovacuum = off
jit = off
log_min_messages = warning
EOF
	as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n.log" -w start >/dev/null
	psql -X -q -h /tmp -p $((PORT + i)) -U postgres -d postgres -c "CREATE DATABASE bench" -c "\\c bench" -c "CREATE EXTENSION citus"
done
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres)
sql() { "${PSQL[@]}" -At -d bench "$@"; }
sql -c "SELECT citus_set_coordinator_host('/tmp', $PORT)" \
	-c "SELECT citus_add_node('/tmp', $((PORT + 1)))" -c "SELECT citus_add_node('/tmp', $((PORT + 2)))" >/dev/null

# ---------------------------------------------------------------- data
log "generating data (scale $SCALE) on the coordinator"
t0=$(now)
sql -v scale="$SCALE" -v variant=direct -f "$BENCH/sql/schema.sql"
sql -f "$BENCH/sql/functions.sql"
sql -f "$BENCH/sql/generate_events.sql" &
events_pid=$!
sql -f "$BENCH/sql/generate_main.sql"
wait $events_pid
log "  rows inserted ($(elapsed "$t0") s); keys with tenant_id (as Citus wants them), distributing"
# bench/sql/finish.sql's keys and foreign keys, with tenant_id in each (Citus requires it).
sql <<'EOF'
SET client_min_messages = warning;
ALTER TABLE customers   ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE products    ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE orders      ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE order_lines ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE events      ADD PRIMARY KEY (tenant_id, id);
CREATE INDEX orders_tenant_idx      ON orders (tenant_id, ordered_at);
CREATE INDEX events_tenant_idx      ON events (tenant_id, occurred_at);
CREATE INDEX orders_customer_idx    ON orders (tenant_id, customer_id);
CREATE INDEX order_lines_order_idx  ON order_lines (tenant_id, order_id);
CREATE INDEX order_lines_product_idx ON order_lines (tenant_id, product_id);
SELECT create_distributed_table('tenants', 'tenant_id', shard_count => 8);
SELECT truncate_local_data_after_distributing_table('tenants');
SELECT create_distributed_table(t, 'tenant_id', colocate_with => 'tenants'), truncate_local_data_after_distributing_table(t)
FROM unnest(ARRAY['customers', 'products', 'orders', 'order_lines', 'events']) t;
ALTER TABLE customers   ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE products    ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE orders      ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE order_lines ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE events      ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE orders      ADD FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE order_lines ADD FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id);
ALTER TABLE order_lines ADD FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id);
-- the restore floor: children deleted first (the workers enforce foreign keys), parents loaded first
CREATE FUNCTION bench.citus_floor_restore(tid int, dir text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['order_lines', 'orders', 'events', 'products', 'customers', 'tenants'] LOOP
    EXECUTE format('DELETE FROM %I WHERE tenant_id = %s', t, tid);
  END LOOP;
  FOREACH t IN ARRAY bench.tables() LOOP
    EXECUTE format('COPY %I FROM %L (FORMAT binary)', t, dir || '/' || t || '.bin');
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0);
END $$;
EOF
for i in 0 1 2; do psql -X -q -h /tmp -p $((PORT + i)) -U postgres -d bench -c "VACUUM ANALYZE" -c CHECKPOINT; done
log "  data ready ($(elapsed "$t0") s)"
KEY=$(printf 'tenant_backup benchmark key!!!!!' | od -An -tx1 | tr -d ' \n')
if [ "$PLAIN" = 1 ]; then
	SETTINGS="archives neither encrypted nor compressed (--plain)"
	sql -c "LOAD 'tenant_backup'" -c "ALTER SYSTEM SET tenant_backup.unencrypted_backups = 'allow'" \
		-c "ALTER SYSTEM SET tenant_backup.compression_level = 0" -c "SELECT pg_reload_conf()" >/dev/null
else
	SETTINGS="encrypted backups"
	sql -c "LOAD 'tenant_backup'" -c "ALTER SYSTEM SET tenant_backup.encryption_key_command = 'echo $KEY'" -c "SELECT pg_reload_conf()" >/dev/null
fi

RESULTS="$WORK/raw.tsv"
: >"$RESULTS"
LARGE=1
WARM=60
LARGE_ROWS=$(sql -c "SELECT bench.tenant_rows($LARGE)")
TOTAL_ROWS=$(sql -c "SELECT sum(bench.tenant_rows(tid)) FROM bench.tenant_share")
NT=$(sql -c "SELECT count(*) FROM bench.tenant_share")
LARGE_PORT=$(sql -c "SELECT nodeport FROM pg_dist_placement JOIN pg_dist_node USING (groupid) WHERE shardid = get_shard_id_for_distribution_column('tenants', $LARGE)")
mkdir -p "$WORK/copy" && chown postgres: "$WORK/copy"
sql -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT bench.copy_out_files($LARGE, '$WORK/copy')" -c "COMMIT" >/dev/null

log "backup of the large tenant ($LARGE_ROWS rows, on the worker of port $LARGE_PORT) and its floor, $RUNS runs"
{
	echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out($LARGE) AS s \\gset"
	echo "COMMIT;"
	echo "CALL bench.timed_backup('$WARM', 'warmup') \\gset"
	for r in $(seq 1 "$RUNS"); do
		floor="BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bench.floor_copy_out($LARGE) AS s \\gset
COMMIT;
\\echo floor_out	$r	:s"
		backup="CALL bench.timed_backup('$LARGE', 'bench') \\gset
\\echo backup	$r	:secs"
		if [ $((r % 2)) = 1 ]; then echo "$floor"; echo "$backup"; else echo "$backup"; echo "$floor"; fi
	done
} >"$WORK/phase_backup.sql"
sql -f "$WORK/phase_backup.sql" >>"$RESULTS"

log "restore of the large tenant and its floor (each inside BEGIN ... ROLLBACK), $RUNS runs"
ID=$(sql -c "SELECT max(id) FROM tenant_backup.backups WHERE label = 'bench'")
VACUUM="VACUUM tenants, customers, products, orders, order_lines, events;"
{
	echo "BEGIN; SELECT bench.citus_floor_restore($LARGE, '$WORK/copy') AS s \\gset"
	echo "ROLLBACK;"
	echo "$VACUUM"
	for r in $(seq 1 "$RUNS"); do
		floor="BEGIN; SELECT bench.citus_floor_restore($LARGE, '$WORK/copy') AS s \\gset
ROLLBACK;
\\echo floor_restore	$r	:s"
		restore="BEGIN; SELECT bench.timed_restore($ID) AS s \\gset
ROLLBACK;
\\echo restore	$r	:s"
		if [ $((r % 2)) = 1 ]; then ops=("$floor" "$restore"); else ops=("$restore" "$floor"); fi
		for op in "${ops[@]}"; do echo "CHECKPOINT;"; echo "$op"; echo "$VACUUM"; done
	done
} >"$WORK/phase_restore.sql"
sql -f "$WORK/phase_restore.sql" >>"$RESULTS"

log "backup_create of all $NT tenants: one session, then two (half the tenants each), $RUNS runs"
ALL="SELECT count(tenant_backup.backup_create(tid::text, 'all')) FROM bench.tenant_share"
DROP_ALL="DO \$\$ BEGIN PERFORM tenant_backup.backup_delete(id) FROM tenant_backup.backups WHERE label = 'all'; END \$\$"
for r in $(seq 1 "$RUNS"); do
	t0=$(now)
	sql -c "$ALL" >/dev/null
	printf 'all_1\t%s\t%s\n' "$r" "$(elapsed "$t0")" >>"$RESULTS"
	sql -c "$DROP_ALL"
	t0=$(now)
	sql -c "$ALL WHERE tid % 2 = 0" >/dev/null &
	p0=$!
	sql -c "$ALL WHERE tid % 2 = 1" >/dev/null &
	p1=$!
	wait $p0 $p1
	printf 'all_2\t%s\t%s\n' "$r" "$(elapsed "$t0")" >>"$RESULTS"
	sql -c "$DROP_ALL"
done

# ---------------------------------------------------------------- report
# raw.tsv: metric, run, seconds (psql's \echo separates with spaces, printf with tabs)
median() { awk -v m="$1" '$1 == m { print $3 }' "$RESULTS" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
runs() { awk -v m="$1" '$1 == m { printf "%s%.3f", (n++ ? ", " : ""), $3 }' "$RESULTS"; }
ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }
B=$(median backup); F=$(median floor_out); R=$(median restore); FR=$(median floor_restore)
A1=$(median all_1); A2=$(median all_2)
{
	echo "# tenant_backup on Citus: benchmark (bench/citus.sh)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores;"
	echo "$(sql -c "SELECT version()" | sed 's/ on .*//'), Citus $(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'");"
	echo "commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown), scale $SCALE ($TOTAL_ROWS rows, $NT tenants), a coordinator and two workers on this machine,"
	echo "every table distributed by tenant_id (8 shards, co-located), $SETTINGS; load average $LOAD_START at the start,"
	echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end. Medians of $RUNS runs, seconds."
	echo
	echo "| measurement | median | runs | against the floor |"
	echo "|---|---:|---|---:|"
	echo "| floor: COPY (SELECT ... WHERE tenant_id = $LARGE) TO '/dev/null', every table, through the coordinator | $F | $(runs floor_out) | |"
	echo "| backup_create of the large tenant ($LARGE_ROWS rows) | $B | $(runs backup) | $(ratio "$B" "$F")x |"
	echo "| floor: DELETE + COPY FROM of the same rows through Citus (rolled back) | $FR | $(runs floor_restore) | |"
	echo "| backup_restore of the large tenant (rolled back) | $R | $(runs restore) | $(ratio "$R" "$FR")x |"
	echo "| backup_create of all $NT tenants, one session | $A1 | $(runs all_1) | |"
	echo "| backup_create of all $NT tenants, two sessions | $A2 | $(runs all_2) | $(ratio "$A2" "$A1")x of one session |"
} >"$OUT/results.md"
cp "$RESULTS" "$OUT/raw.tsv"
cat "$OUT/results.md"
log "done: $OUT/results.md"

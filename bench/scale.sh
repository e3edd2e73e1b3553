#!/usr/bin/env bash
# Scale benchmark of the scheduler (issue 23): N tenants of 5 tables, one nightly run.
#
#   bash bench/scale.sh [--tenants "1000 10000 100000"] [--bindir DIR] [--port N] [--parallel N]
#
# For each tenant count: a throwaway cluster as the postgres user under /tmp, with tenant_backup
# preloaded (max_parallel 2 by default, encrypted backups, retry_interval 2 s), N tenants x 5 tables (an index leading with tenant_id on
# each, 3 rows per tenant and table), a default schedule "0 2 * * *" keeping 14, and the
# scheduler's test clock (tenant_backup.scheduler_clock_offset) set to just before 02:00. It
# measures the nightly run (from 02:00 until every tenant has its automatic backup), backups per
# minute, the scheduler's CPU time and peak memory (VmHWM), the longest transaction any of our
# workers kept open, `pg_ctl stop -m fast` in the middle of a run, then adds 13 completed catalog
# rows per tenant (so that each has 14, as keep_last 14 retains) and times backup_status,
# backup_schedules(tenant) and backup_list for one tenant (median of 5) and backup_status for all,
# and the catalog's size. Writes bench/results/scale.md and bench/results/scale.svg (cost per
# tenant against tenants). Uses the installation of --bindir (default: pg_config --bindir).
set -euo pipefail

TENANTS="1000 10000"
BINDIR=$(pg_config --bindir)
PORT=54339
PARALLEL=2
while [ $# -gt 0 ]; do
	case $1 in
	--tenants) TENANTS=$2; shift 2 ;;
	--bindir) BINDIR=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--parallel) PARALLEL=$2; shift 2 ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
done

BENCH=$(cd "$(dirname "$0")" && pwd)
RESULTS=$BENCH/results
mkdir -p "$RESULTS"
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
RUN=$(mktemp -d /tmp/tb_scale.XXXXXX)
chown postgres "$RUN" 2>/dev/null || true
DATA=$RUN/data
cleanup() {
	as_postgres "$BINDIR/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$RUN"
}
trap cleanup EXIT
psql_() { as_postgres "$BINDIR/psql" -X -q -A -t -h "$RUN" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
log() { echo "[$(date +%T)] $*" >&2; }

# Milliseconds of one statement, the median of 5 runs (psql's \timing, after one warm-up).
median_ms() {
	local sql=$1 out
	out=$(printf '\\timing on\n%s\n%s\n%s\n%s\n%s\n%s\n' "$sql" "$sql" "$sql" "$sql" "$sql" "$sql" |
		psql_ -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -5 | sort -n | sed -n 3p)
	echo "$out"
}

scheduler_pid() { psql_ -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'tenant_backup scheduler'"; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
peak_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

start_cluster() {
	as_postgres "$BINDIR/pg_ctl" -D "$DATA" -l "$RUN/log" -w -o "-p $PORT -k $RUN -c listen_addresses=''" start >/dev/null
}

ROWS_FILE=$RUN/rows
: >"$ROWS_FILE"
for N in $TENANTS; do
	log "$N tenants: cluster and data"
	rm -rf "$DATA"
	as_postgres "$BINDIR/initdb" -D "$DATA" -A trust >/dev/null
	# Backups are encrypted, as in production (and without a key every backup logs a WARNING).
	openssl rand -hex 32 >"$RUN/master.key"
	chown postgres "$RUN/master.key" 2>/dev/null || true
	chmod 600 "$RUN/master.key"
	cat >>"$DATA/postgresql.conf" <<-EOF
		shared_preload_libraries = 'tenant_backup'
		tenant_backup.databases = 'postgres'
		tenant_backup.max_parallel = $PARALLEL
		max_worker_processes = 16
		shared_buffers = 512MB
		tenant_backup.scheduler_clock_offset = 0
		tenant_backup.retry_interval = 2
		tenant_backup.encryption_key_file = '$RUN/master.key'
	EOF
	start_cluster
	psql_ <<-EOF
		CREATE EXTENSION tenant_backup;
		DO \$\$
		BEGIN
		    FOR i IN 1..5 LOOP
		        EXECUTE format('CREATE TABLE t%s (tenant_id int NOT NULL, id int NOT NULL, note text, '
		                       'PRIMARY KEY (tenant_id, id))', i);
		        EXECUTE format('INSERT INTO t%s SELECT t, g, ''row '' || g FROM generate_series(1, $N) t, '
		                       'generate_series(1, 3) g', i);
		    END LOOP;
		END \$\$;
		VACUUM ANALYZE;
		SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *', keep_last => 14);
	EOF
	# The scheduler's clock at 01:59:50 of the next night: 02:00 comes in 10 s.
	offset=$(python3 -c "import time; t=time.time(); d=(int(t)//86400+1)*86400; print(int(d + 2*3600 - 10 - t))")
	echo "tenant_backup.scheduler_clock_offset = $offset" >>"$DATA/postgresql.conf"
	psql_ -c "SELECT pg_reload_conf()" >/dev/null
	sleep 1
	pid=$(scheduler_pid)
	cpu0=$(cpu_seconds "$pid")
	t0=$(now)
	t_due=$(echo "$t0 + 9" | bc) # 02:00 on the scheduler's clock (the reload took up to a second)
	longest=0
	done_count=0
	stop_seconds=""
	while :; do
		sleep 1
		read -r done_count xact < <(psql_ -F ' ' -c "SELECT (SELECT count(*) FROM tenant_backup.backups WHERE kind = 'auto' AND status = 'completed'), coalesce((SELECT max(extract(epoch FROM clock_timestamp() - xact_start)) FROM pg_stat_activity WHERE backend_type LIKE 'tenant_backup%'), 0)")
		longest=$(echo "if ($xact > $longest) $xact else $longest" | bc)
		# A fast shutdown in the middle of the run, once: how long it takes, then on.
		if [ -z "$stop_seconds" ] && [ "$done_count" -ge $((N / 2)) ]; then
			cpu_mid=$(cpu_seconds "$pid")
			peak_mid=$(peak_kb "$pid")
			s=$(now)
			as_postgres "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
			stop_seconds=$(echo "$(now) - $s" | bc)
			s=$(now)
			start_cluster
			paused=$(echo "$(now) - $s + $stop_seconds" | bc)
			sleep 1
			pid=$(scheduler_pid)
			cpu0=$(echo "$cpu0 - $cpu_mid" | bc) # CPU of the first scheduler, counted in
			peak_first=$peak_mid
			continue
		fi
		[ "$done_count" -ge "$N" ] && break
	done
	t1=$(now)
	cpu=$(echo "$(cpu_seconds "$pid") - $cpu0" | bc)
	peak=$(peak_kb "$pid")
	[ "${peak_first:-0}" -gt "$peak" ] && peak=$peak_first
	run_seconds=$(echo "$t1 - $t_due - ${paused:-0}" | bc)
	per_minute=$(echo "$N * 60 / $run_seconds" | bc)
	failed=$(psql_ -c "SELECT count(*) FROM tenant_backup.backups WHERE status = 'failed'")
	log "$N tenants: run $run_seconds s (without the restart), stop -m fast $stop_seconds s"

	# 14 catalog rows per tenant, as keep_last 14 keeps: 13 more completed rows each (copies of
	# its real one, older), then the reads.
	psql_ <<-EOF
		INSERT INTO tenant_backup.backups (tenant, kind, label, status, created_at, finished_at, tables, row_count,
		    size_bytes, sha256, compression, repository, object_name)
		SELECT b.tenant, 'auto', 'scheduled', 'completed', b.created_at - make_interval(days => g),
		       b.finished_at - make_interval(days => g), b.tables, b.row_count, b.size_bytes, b.sha256, b.compression,
		       b.repository, b.object_name || '.copy' || g
		FROM tenant_backup.backups b, generate_series(1, 13) g WHERE b.kind = 'auto' AND b.status = 'completed';
		VACUUM ANALYZE tenant_backup.backups;
	EOF
	one=$((N / 2 + 1))
	status_one=$(median_ms "SELECT * FROM tenant_backup.backup_status WHERE tenant = '$one';")
	schedules_one=$(median_ms "SELECT * FROM tenant_backup.backup_schedules('$one');")
	list_one=$(median_ms "SELECT * FROM tenant_backup.backup_list('$one');")
	status_all=$(median_ms "SELECT count(*), sum(retained_count) FROM tenant_backup.backup_status;")
	read -r catalog_rows catalog_bytes audit_rows audit_bytes < <(psql_ -F ' ' -c "SELECT (SELECT count(*) FROM tenant_backup.backups), (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_backup' AND c.relkind = 'r'), (SELECT count(*) FROM tenant_backup.backup_audit), pg_total_relation_size('tenant_backup.backup_audit')")
	log_lines=$(grep -c "tenant_backup" "$RUN/log" || true)
	echo "$N $run_seconds $per_minute $cpu $peak $longest $stop_seconds $status_one $schedules_one $list_one $status_all $catalog_rows $catalog_bytes $audit_rows $audit_bytes $failed $log_lines" >>"$ROWS_FILE"
	as_postgres "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
done

MACHINE="$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), $(free -g | awk '/Mem:/ { print $2 }') GB RAM, $("$BINDIR/postgres" --version)"
python3 "$BENCH/lib/scale_report.py" "$ROWS_FILE" "$RESULTS/scale.md" "$RESULTS/scale.svg" "$MACHINE" \
	"bash bench/scale.sh --tenants \"$TENANTS\" --parallel $PARALLEL"
cat "$RESULTS/scale.md"

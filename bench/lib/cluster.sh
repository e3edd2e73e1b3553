# Sourced by bench/run.sh and bench/diff.sh: their checked options, logging, and the throwaway
# cluster both measure in, so that their numbers come from the same settings.
# bench_option sets SCALE RUNS PORT TIME_LIMIT VARIANT PG_BINDIR OUT; bench_check_options checks them and sets SUDO T_START LOAD_START COMMIT_INFO,
# and after bench_cluster WORK PGDATA PGBIN PSQL RESULTS INFO.

# One of the options both benchmarks take (OPTION VALUE); false when OPTION is another.
bench_option() {
	case $1 in
	--scale) SCALE=${2:?--scale needs a value} ;;
	--runs) RUNS=${2:?--runs needs a value} ;;
	--port) PORT=${2:?--port needs a value} ;;
	--time-limit) TIME_LIMIT=${2:?--time-limit needs a value} ;;
	--variant) VARIANT=${2:?--variant needs a value} ;;
	--pg-bindir) PG_BINDIR=${2:?--pg-bindir needs a value} ;;
	--out) OUT=${2:?--out needs a value} ;;
	*) return 1 ;;
	esac
}

bench_check_options() {
	[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "--scale must be a positive number" >&2; exit 2; }
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a positive integer" >&2; exit 2; }
	[[ $VARIANT =~ ^(direct|path)$ ]] || { echo "--variant must be direct or path" >&2; exit 2; }
	if [ -n "$PG_BINDIR" ]; then
		[ -x "$PG_BINDIR/postgres" ] && [ -x "$PG_BINDIR/pg_config" ] ||
			{ echo "--pg-bindir $PG_BINDIR: no postgres and pg_config there" >&2; exit 2; }
		PG_BINDIR=$(cd "$PG_BINDIR" && pwd)
		export PATH="$PG_BINDIR:$PATH" # psql, pg_dump, pg_config (which reports the tree's own directories)
	fi
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	T_START=$(date +%s.%N)
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	COMMIT_INFO="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src sql Makefile 2>/dev/null || echo ' with uncommitted changes in src')"
}

log() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T_START" | bc)" "$*" >&2; }
as_pg() { $SUDO runuser -u postgres -- "$@"; }
info() { printf '%s\t%s\n' "$1" "$2" >>"$INFO"; }
now() { date +%s.%N; }
elapsed() { printf '%.3f' "$(echo "$(now) - $1" | bc)"; }
sql() { "${PSQL[@]}" -At -d bench "$@"; }

bench_cleanup() {
	local rc=$?
	if [ -n "$WATCHDOG" ]; then
		pkill -P "$WATCHDOG" 2>/dev/null || true # its sleep
		kill "$WATCHDOG" 2>/dev/null || true
	fi
	touch "$WORK"/mem_*.stop 2>/dev/null || true
	if [ -f "$PGDATA/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	[ -f "$WORK/timed_out" ] && echo "benchmark stopped: --time-limit $TIME_LIMIT s reached" >&2
	[ $rc -ne 0 ] && [ -f "$WORK/server.log" ] && tail -n 20 "$WORK/server.log" >&2
	rm -rf "$WORK"
	exit $rc
}

# A throwaway cluster under /tmp (prefix: its directory's name), run by postgres and removed on
# exit, with a database "bench".
bench_cluster() {
	PGBIN=$(pg_config --bindir)
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$WORK"
	mkdir -p "$WORK/copy"
	chown postgres: "$WORK" "$WORK/copy"
	PGDATA="$WORK/data"
	WATCHDOG=""
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM

	log "initdb in $PGDATA, port $PORT"
	as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
	cat >>"$PGDATA/postgresql.conf" <<EOF
# tenant_backup benchmark: 2 cores, 24 GB RAM. Durability as in production: fsync,
# synchronous_commit and full_page_writes stay on.
port = $PORT
listen_addresses = ''
unix_socket_directories = '/tmp'
max_connections = 20
shared_buffers = 2GB
work_mem = 64MB
maintenance_work_mem = 1GB
effective_cache_size = 16GB
random_page_cost = 1.1
effective_io_concurrency = 200
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 30min
checkpoint_completion_target = 0.9
wal_buffers = 64MB
fsync = on
synchronous_commit = on
full_page_writes = on
# the benchmark vacuums explicitly between runs, so no autovacuum worker runs during a measurement
autovacuum = off
jit = off
log_min_messages = warning
EOF
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w start >/dev/null
	# Bounded in time: past the limit the cluster is stopped, which fails whatever is running.
	(
		exec </dev/null >/dev/null 2>&1
		sleep "$TIME_LIMIT" && touch "$WORK/timed_out" && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop
	) &
	WATCHDOG=$!

	PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres)
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
	RESULTS="$WORK/results.tsv" # metric, subject, run, value
	INFO="$WORK/info.tsv"       # key, value
	: >"$RESULTS"
	: >"$INFO"
}

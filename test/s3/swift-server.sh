#!/usr/bin/env bash
# A throwaway single-node OpenStack Swift with the S3 API (s3api + tempauth) on 127.0.0.1, for
# the live S3 tests. Everything lives under <dir>: configuration, rings, the one "device", logs
# and pids, so that an unprivileged user (postgres in the TAP tests) can run it.
#
#   test/s3/swift-server.sh start <dir> [port]   # Swift's proxy on <port> (default 18080),
#                                                 # storage servers on port+1..port+3, the
#                                                 # fault proxy (fault_proxy.py) on port+10
#   test/s3/swift-server.sh stop <dir>
#   test/s3/swift-server.sh pause <dir>           # the S3 endpoint (Swift's proxy) goes down; the
#   test/s3/swift-server.sh resume <dir>          # stored objects stay, and come back on resume
#
# S3 endpoint http://127.0.0.1:<port>, region us-east-1, path-style addressing, access key
# "test:tester", secret "testing". start also creates the bucket "tb-test" and writes
# <dir>/env.sh, which exports the TB_S3_* variables that the live unit tests (S3Live*) read.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
port=${3:-18080}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop|pause|resume <dir> [port]" >&2
	exit 2
fi
# Swift's daemons are Debian's python3 modules: never a python3 from a virtualenv or pyenv.
PY=/usr/bin/python3

stop() {
	[ -d "$dir/run" ] || return 0
	local pidfile pid
	for pidfile in "$dir"/run/*.pid; do
		[ -e "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$pidfile"
	done
}

start_proxy_server() {
	nohup $PY "$(command -v swift-proxy-server)" "$dir/etc/proxy-server.conf" >>"$dir/log/proxy.log" 2>&1 </dev/null &
	echo $! >"$dir/run/proxy.pid"
}

if [ "$cmd" = stop ]; then
	stop
	exit 0
fi
if [ "$cmd" = pause ]; then
	pid=$(cat "$dir/run/proxy.pid")
	kill -9 "$pid" 2>/dev/null || true # as a crash would: no goodbye to open connections
	rm -f "$dir/run/proxy.pid"
	exit 0
fi
if [ "$cmd" = resume ]; then
	start_proxy_server
	url=$(sed -n 's/^export TB_S3_ENDPOINT=//p' "$dir/env.sh")
	for _ in $(seq 150); do
		curl -s -o /dev/null "$url/info" && exit 0
		sleep 0.1
	done
	echo "Swift proxy did not come back" >&2
	exit 1
fi
if [ "$cmd" != start ]; then
	echo "unknown command $cmd" >&2
	exit 2
fi
for bin in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder; do
	command -v "$bin" >/dev/null || {
		echo "$bin not found: run scripts/install-deps.sh" >&2
		exit 1
	}
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stop
rm -rf "$dir/etc" "$dir/srv" "$dir/log" "$dir/run" "$dir/env.sh"
mkdir -p "$dir/etc" "$dir/srv/d1" "$dir/log" "$dir/run"

# Swift keeps object metadata in extended attributes: refuse early where they are not supported.
probe="$dir/srv/d1/.xattr_probe"
touch "$probe"
if ! $PY -c "import os,sys; os.setxattr(sys.argv[1], 'user.tb', b'1')" "$probe" 2>/dev/null; then
	echo "$dir does not support user extended attributes; Swift needs them" >&2
	exit 1
fi
rm -f "$probe"

obj_port=$((port + 1))
cont_port=$((port + 2))
acct_port=$((port + 3))

# Warnings go to syslog (or nowhere when there is none); each daemon's stderr is kept in log/.
common() { # bind port
	cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 0
mount_check = false
devices = $dir/srv
swift_dir = $dir/etc
log_facility = LOG_LOCAL0
log_level = WARNING
EOF
}

{
	common "$obj_port"
	cat <<EOF
[pipeline:main]
pipeline = object-server
[app:object-server]
use = egg:swift#object
EOF
} >"$dir/etc/object-server.conf"
{
	common "$cont_port"
	cat <<EOF
[pipeline:main]
pipeline = container-server
[app:container-server]
use = egg:swift#container
EOF
} >"$dir/etc/container-server.conf"
{
	common "$acct_port"
	cat <<EOF
[pipeline:main]
pipeline = account-server
[app:account-server]
use = egg:swift#account
EOF
} >"$dir/etc/account-server.conf"
{
	common "$port"
	cat <<EOF
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
} >"$dir/etc/proxy-server.conf"

# One device, one replica, 2^6 partitions: the smallest ring that is still a ring.
for ring in object container account; do
	case $ring in
	object) p=$obj_port ;;
	container) p=$cont_port ;;
	account) p=$acct_port ;;
	esac
	(cd "$dir/etc" && swift-ring-builder "$ring.builder" create 6 1 1 >/dev/null &&
		swift-ring-builder "$ring.builder" add r1z1-127.0.0.1:"$p"/d1 1 >/dev/null &&
		swift-ring-builder "$ring.builder" rebalance >/dev/null) || {
		echo "could not build the $ring ring" >&2
		exit 1
	}
done

for server in object container account proxy; do
	nohup $PY "$(command -v swift-$server-server)" "$dir/etc/$server-server.conf" \
		>"$dir/log/$server.log" 2>&1 </dev/null &
	echo $! >"$dir/run/$server.pid"
done

# The proxy answers /healthcheck-less requests once it is up: wait for any HTTP answer.
for _ in $(seq 150); do
	if curl -s -o /dev/null "http://127.0.0.1:$port/info"; then
		break
	fi
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$port/info" || {
	echo "Swift proxy did not start; logs in $dir/log:" >&2
	tail -n 20 "$dir"/log/*.log >&2
	stop
	exit 1
}

# The test bucket, created through the S3 API itself (signed by curl). The access key holds a
# colon, which curl's --user would split at, so the credentials go in a netrc file.
printf 'machine 127.0.0.1 login test:tester password testing\n' >"$dir/etc/netrc"
chmod 600 "$dir/etc/netrc"
for _ in $(seq 50); do
	code=$(curl -s -o "$dir/log/create-bucket.out" -w '%{http_code}' -X PUT \
		--netrc-file "$dir/etc/netrc" --aws-sigv4 "aws:amz:us-east-1:s3" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		"http://127.0.0.1:$port/tb-test") || code=000
	[ "$code" = 200 ] && break
	sleep 0.2
done
if [ "$code" != 200 ]; then
	echo "could not create bucket tb-test (HTTP $code):" >&2
	cat "$dir/log/create-bucket.out" >&2
	stop
	exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
proxy_port=$((port + 10))
nohup $PY "$here/fault_proxy.py" --listen "$proxy_port" --upstream "127.0.0.1:$port" \
	>"$dir/log/fault_proxy.log" 2>&1 </dev/null &
echo $! >"$dir/run/fault_proxy.pid"
for _ in $(seq 50); do
	curl -sf -o /dev/null "http://127.0.0.1:$proxy_port/__fault" && break
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$proxy_port/__fault" || {
	echo "the fault proxy did not start:" >&2
	cat "$dir/log/fault_proxy.log" >&2
	stop
	exit 1
}

cat >"$dir/env.sh" <<EOF
export TB_S3_ENDPOINT=http://127.0.0.1:$port
export TB_S3_PROXY=http://127.0.0.1:$proxy_port
export TB_S3_BUCKET=tb-test
export TB_S3_REGION=us-east-1
export TB_S3_ACCESS_KEY=test:tester
export TB_S3_SECRET=testing
EOF
echo "Swift S3 endpoint http://127.0.0.1:$port (bucket tb-test), fault proxy http://127.0.0.1:$proxy_port"

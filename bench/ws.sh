#!/usr/bin/env bash
# bench/ws.sh: WebSocket echo, gowsgi against uvicorn (websockets and wsproto),
# hypercorn and daphne, one worker each, side by side in one run on 127.0.0.1.
# Each case: bench/tools/wsbench with C connections, each sending a 64-byte
# text message and waiting for its echo, for D seconds; the app is the raw
# ASGI echo bench/apps/ws_echo.py.
#
#   bench/ws.sh                        # c=1 and c=1000, 10 s each
#   WS_DURATION=3 WS_CONNS="1 100" WS_SERVERS=gowsgi,uvicorn-websockets bench/ws.sh
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
APPS=$BENCH_DIR/apps
PY=${BENCH_PYTHON:-/usr/bin/python3}
DURATION=${WS_DURATION:-10}
CONNS=${WS_CONNS:-"1 1000"}
SERVERS=${WS_SERVERS:-gowsgi,uvicorn-websockets,uvicorn-wsproto,hypercorn,daphne}
PORT=${WS_PORT:-18765}

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
mkdir -p "$BENCH_DIR/.bin"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BENCH_DIR/.bin/gowsgi" ./cmd/gowsgi && go build -o "$BENCH_DIR/.bin/wsbench" ./bench/tools/wsbench)

start_server() {
	case "$1" in
	gowsgi) exec "$BENCH_DIR/.bin/gowsgi" ws_echo:app --chdir "$APPS" --python "$PY" -b "127.0.0.1:$PORT" -w 1 --no-access-log --log-level warning ;;
	uvicorn-websockets) cd "$APPS" && exec "$PY" -m uvicorn ws_echo:app --port "$PORT" --ws websockets --log-level warning --no-access-log ;;
	uvicorn-wsproto) cd "$APPS" && exec "$PY" -m uvicorn ws_echo:app --port "$PORT" --ws wsproto --log-level warning --no-access-log ;;
	hypercorn) cd "$APPS" && exec "$PY" -m hypercorn ws_echo:app -b "127.0.0.1:$PORT" --log-level warning ;;
	daphne) cd "$APPS" && exec "$PY" -m daphne -b 127.0.0.1 -p "$PORT" ws_echo:app ;;
	*) echo "unknown server $1" >&2; return 1 ;;
	esac
}

port_free() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 0
		sleep 0.2
	done
	echo "port $PORT is still in use" >&2
	return 1
}

wait_port() {
	for _ in $(seq 1 150); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

rss_kib() { # the resident memory of a process and all its descendants
	local total c
	total=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null)
	total=${total:-0}
	for c in $(pgrep -P "$1" 2>/dev/null); do
		total=$((total + $(rss_kib "$c")))
	done
	echo "$total"
}

echo "| server | connections | echoes/s | p50 ms | p99 ms | errors | RSS after (MiB) |"
echo "|---|---|---|---|---|---|---|"
IFS=, read -ra list <<<"$SERVERS"
for s in "${list[@]}"; do
	port_free
	(start_server "$s") >/dev/null 2>&1 &
	pid=$!
	if ! wait_port; then
		echo "| $s | - | did not start | | | | |"
		kill "$pid" 2>/dev/null || true
		continue
	fi
	for c in $CONNS; do
		out=$("$BENCH_DIR/.bin/wsbench" -url "ws://127.0.0.1:$PORT/" -c "$c" -d "${DURATION}s" 2>&1 | tail -1) || true
		rss=$(( $(rss_kib "$pid") / 1024 ))
		"$PY" - "$s" "$c" "$rss" "$out" <<'PYEOF'
import json, sys
s, c, rss, out = sys.argv[1:5]
try:
    r = json.loads(out)
    print('| %s | %s | %.0f | %.2f | %.2f | %d | %s |' % (s, c, r['rate'], r['p50_ms'], r['p99_ms'], r['errors'], rss))
except Exception:
    print('| %s | %s | failed: %s | | | | |' % (s, c, out[:80]))
PYEOF
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
port_free

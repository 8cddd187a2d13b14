#!/usr/bin/env bash
# bench/ws.sh: WebSocket echo, gowsgi against uvicorn (websockets and wsproto),
# hypercorn and daphne, one worker each, side by side in one run on 127.0.0.1.
# Each echo case: bench/tools/wsbench with C connections, each sending a
# 64-byte text message and waiting for its echo, for D seconds; the app is
# the raw ASGI echo bench/apps/ws_echo.py. Rounds interleave the servers
# (the order rotates each round); each case gets a fresh server. Per case:
# echoes/s, p50/p99, the server tree's CPU per echo, the client's own CPU
# (wsbench must not be the bottleneck), the tree's RSS after, and the load.
# The flood case (WS_FLOOD_SECONDS, 0 = off): one connection sends 64 KiB
# messages as fast as the server takes them to bench/apps/ws_sink.py, which
# never receives; the tree's RSS is sampled every second.
#
#   bench/ws.sh                        # c=1 and c=1000, 10 s each, 2 rounds, flood 20 s
#   WS_DURATION=3 WS_CONNS="1 100" WS_SERVERS=gowsgi,uvicorn-websockets bench/ws.sh
#   WS_ROUNDS=1 WS_FLOOD_SECONDS=0 bench/ws.sh
#   WS_BASE=main WS_SERVERS=gowsgi-base,gowsgi,uvicorn-wsproto bench/ws.sh
#
# WS_BASE=<git revision> also builds gowsgi at that revision as the server
# "gowsgi-base" (name it in WS_SERVERS), for a before/after in the same run.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
APPS=$BENCH_DIR/apps
PY=${BENCH_PYTHON:-/usr/bin/python3}
DURATION=${WS_DURATION:-10}
CONNS=${WS_CONNS:-"1 1000"}
ROUNDS=${WS_ROUNDS:-2}
FLOOD=${WS_FLOOD_SECONDS:-20}
SERVERS=${WS_SERVERS:-gowsgi,uvicorn-websockets,uvicorn-wsproto,hypercorn,daphne}
PORT=${WS_PORT:-18765}
TREESTAT=("$PY" "$BENCH_DIR/tools/treestat.py")
RAW=$BENCH_DIR/raw/ws-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RAW"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
mkdir -p "$BENCH_DIR/.bin"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BENCH_DIR/.bin/gowsgi" ./cmd/gowsgi && go build -o "$BENCH_DIR/.bin/wsbench" ./bench/tools/wsbench)
if [[ -n ${WS_BASE:-} ]]; then
	base=$("$BENCH_DIR/tools/build_rev.sh" "$WS_BASE" "$BENCH_DIR/.bin/gowsgi-base")
	echo "gowsgi-base = $base, gowsgi = $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo '+changes')"
fi

start_server() { # server module
	case "$1" in
	gowsgi | gowsgi-base) exec "$BENCH_DIR/.bin/$1" "$2" --chdir "$APPS" --python "$PY" -b "127.0.0.1:$PORT" -w 1 --no-access-log --log-level warning ;;
	uvicorn-websockets) cd "$APPS" && exec "$PY" -m uvicorn "$2" --port "$PORT" --ws websockets --log-level warning --no-access-log ;;
	uvicorn-wsproto) cd "$APPS" && exec "$PY" -m uvicorn "$2" --port "$PORT" --ws wsproto --log-level warning --no-access-log ;;
	hypercorn) cd "$APPS" && exec "$PY" -m hypercorn "$2" -w 1 -b "127.0.0.1:$PORT" --log-level warning ;;
	daphne) cd "$APPS" && exec "$PY" -m daphne -v 0 -b 127.0.0.1 -p "$PORT" "$2" ;;
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

PID=""
stop_server() {
	[[ -n $PID ]] || return 0
	kill "$PID" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	PID=""
}
trap stop_server EXIT

# start SERVER MODULE: a fresh server, accepting
start() {
	port_free
	(start_server "$1" "$2") >"$RAW/$1.log" 2>&1 &
	PID=$!
	wait_port
}

IFS=, read -ra list <<<"$SERVERS"
echo "WebSocket echo: ${DURATION}s per case, $ROUNDS rounds, servers interleaved; raw output in $RAW"
echo
echo "| server | connections | round | echoes/s | p50 ms | p99 ms | server CPU µs/echo | client CPU µs/echo | errors | RSS after (MiB) | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for ((r = 1; r <= ROUNDS; r++)); do
	for c in $CONNS; do
		n=${#list[@]}
		for ((i = 0; i < n; i++)); do
			s=${list[$(((i + r - 1) % n))]}
			if ! start "$s" ws_echo:app; then
				echo "| $s | $c | $r | did not start | | | | | | | |"
				stop_server; continue
			fi
			ld=$(cut -d' ' -f1-3 /proc/loadavg)
			before=$("${TREESTAT[@]}" "$PID")
			out=$("$BENCH_DIR/.bin/wsbench" -url "ws://127.0.0.1:$PORT/" -c "$c" -d "${DURATION}s" 2>&1 | tail -1) || true
			after=$("${TREESTAT[@]}" "$PID")
			echo "$out" >"$RAW/echo-$s-c$c-r$r.json"
			"$PY" - "$s" "$c" "$r" "$ld" "$before" "$after" "$out" <<'PYEOF'
import json, sys
s, c, r, ld, before, after, out = sys.argv[1:8]
b, a = json.loads(before), json.loads(after)
try:
    o = json.loads(out)
    n = o['messages'] or 1
    print('| %s | %s | %s | %.0f | %.2f | %.2f | %.0f | %.0f | %d | %.1f | %s |' % (
        s, c, r, o['rate'], o['p50_ms'], o['p99_ms'], (a['cpu_s'] - b['cpu_s']) / n * 1e6,
        o['client_cpu_s'] / n * 1e6, o['errors'], a['rss_kib'] / 1024, ld))
except Exception:
    print('| %s | %s | %s | failed: %s | | | | | | | %s |' % (s, c, r, out[:80].replace('|', '/'), ld))
PYEOF
			stop_server
		done
	done
done

((FLOOD > 0)) || exit 0
echo
echo "Flood: one connection sends 64 KiB text messages for ${FLOOD}s to apps/ws_sink.py (accepts, never receives); RSS of the server tree every second."
echo
echo "| server | MiB accepted from the client | RSS before (MiB) | RSS max (MiB) | RSS at the end (MiB) | RSS samples (MiB) | load |"
echo "|---|---|---|---|---|---|---|"
for s in "${list[@]}"; do
	if ! start "$s" ws_sink:app; then
		echo "| $s | did not start | | | | | |"
		stop_server; continue
	fi
	ld=$(cut -d' ' -f1-3 /proc/loadavg)
	before=$("${TREESTAT[@]}" "$PID")
	"${TREESTAT[@]}" "$PID" --every 1 --for "$FLOOD" >"$RAW/flood-$s.rss.json" &
	sampler=$!
	out=$("$BENCH_DIR/.bin/wsbench" -url "ws://127.0.0.1:$PORT/" -c 1 -d "${FLOOD}s" -size 65536 -flood 2>&1 | tail -1) || true
	wait "$sampler" || true
	echo "$out" >"$RAW/flood-$s.json"
	"$PY" - "$s" "$ld" "$before" "$RAW/flood-$s.rss.json" "$out" <<'PYEOF'
import json, sys
s, ld, before, rssf, out = sys.argv[1:6]
b = json.loads(before)
smp = [k / 1024 for k in json.load(open(rssf))['rss_kib']]
try:
    sent = '%.0f' % (json.loads(out)['flood_bytes_sent'] / 1048576)
except Exception:
    sent = 'failed: ' + out[:60].replace('|', '/')
print('| %s | %s | %.1f | %.1f | %.1f | %s | %s |' % (
    s, sent, b['rss_kib'] / 1024, max(smp), smp[-1], ' '.join('%.0f' % x for x in smp), ld))
PYEOF
	stop_server
done

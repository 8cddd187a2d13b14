#!/usr/bin/env bash
# bench/ws_profile.sh: what one WebSocket echo costs gowsgi, side by side for
# the front and the worker: CPU µs, system calls and context switches per
# echo (perf stat on each process for WS_PROFILE_SECONDS in the middle of a
# bench/tools/wsbench run against bench/apps/ws_echo.py, one worker), and a
# Go CPU profile of the front (GOWSGI_CPUPROFILE). With WS_CPROFILE=1 the
# worker runs the app under cProfile instead (bench/tools/cprofile_app.py;
# its per-echo numbers are then inflated by the profiler).
#
#   bench/ws_profile.sh BINARY CONNECTIONS      # e.g. bench/.bin/gowsgi 1000
#   go tool pprof -top bench/raw/wsprof-*/go.pprof
set -Eeuo pipefail
(($# == 2)) || { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
BIN=$(realpath "$1")
C=$2
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
SECS=${WS_PROFILE_SECONDS:-3}
PORT=${WS_PORT:-18799}
OUT=$BENCH_DIR/raw/wsprof-$(basename "$BIN")-c$C-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" "$BENCH_DIR/.bin"
command -v perf >/dev/null || { echo "ws_profile.sh: perf is not installed" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true
(cd "$ROOT" && go build -o "$BENCH_DIR/.bin/wsbench" ./bench/tools/wsbench)

APP=ws_echo:app
if [[ -n ${WS_CPROFILE:-} ]]; then
	APP=cprofile_app:app
	export CPROFILE_APP=ws_echo:app CPROFILE_OUT=$OUT/worker.pstats PYTHONPATH=$BENCH_DIR/tools
fi
cd "$BENCH_DIR/apps"
GOWSGI_CPUPROFILE=$OUT/go.pprof "$BIN" "$APP" --chdir "$BENCH_DIR/apps" --python "$PY" -b "127.0.0.1:$PORT" -w 1 \
	--no-access-log --log-level warning >"$OUT/server.log" 2>&1 &
SP=$!
trap 'kill "$SP" 2>/dev/null || true' EXIT
for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
WP=$(pgrep -P "$SP" | head -1)
"$BENCH_DIR/.bin/wsbench" -url "ws://127.0.0.1:$PORT/" -c "$C" -d "$((SECS + 3))s" >"$OUT/bench.json" 2>&1 &
BP=$!
sleep 2 # connected and warm
EV=task-clock,context-switches,raw_syscalls:sys_enter
perf stat -e "$EV" -p "$SP" -o "$OUT/perf-front.txt" -- sleep "$SECS" &
perf stat -e "$EV" -p "$WP" -o "$OUT/perf-worker.txt" -- sleep "$SECS"
wait "$BP"
kill -INT "$SP"
wait "$SP" || true
trap - EXIT
"$PY" - "$OUT" "$SECS" <<'PYEOF'
import json, re, sys
out, secs = sys.argv[1], float(sys.argv[2])
b = json.loads(open(out + '/bench.json').read().splitlines()[-1])
rate = b['rate']
print('%d connections: %.0f echoes/s, p50 %.3f ms, p99 %.3f ms' % (b['connections'], rate, b['p50_ms'], b['p99_ms']))
for who in ('front', 'worker'):
    v = {}
    for line in open('%s/perf-%s.txt' % (out, who)):
        m = re.match(r'\s*([\d.,]+)\s+(msec task-clock|context-switches|raw_syscalls:sys_enter)', line)
        if m:
            v[m.group(2)] = float(m.group(1).replace(',', ''))
    n = rate * secs
    print('  %-6s CPU %5.1f µs/echo, %4.1f system calls/echo, %4.1f context switches/echo' % (
        who, v['msec task-clock'] * 1000 / n, v['raw_syscalls:sys_enter'] / n, v['context-switches'] / n))
print('  raw: ' + out)
PYEOF

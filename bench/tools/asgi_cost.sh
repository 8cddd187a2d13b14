#!/usr/bin/env bash
# bench/tools/asgi_cost.sh: one line of what an ASGI request costs gowsgi's
# worker and front apart, for interleaved A/B rounds of two binaries: perf
# stat (task-clock, system calls, context switches) on each process for 4 s
# in the middle of a 6 s wrk run (-t2), divided by the requests of those 4 s
# (wrk's mean rate × 4). One worker, the app from bench/apps.
#
#   for i in 1 2 3; do for b in /tmp/gowsgi-base bench/.bin/gowsgi; do
#     bench/tools/asgi_cost.sh $b asgi_hello:app / 50; done; done
#   bench/tools/asgi_cost.sh bench/.bin/gowsgi asgi_starlette:app /json 50
set -Eeuo pipefail
(($# == 4)) || { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
BIN=$(realpath "$1"); APP=$2; URLPATH=$3; C=$4
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
OUT=$(mktemp -d)
PORT=$("$PY" "$BENCH_DIR/tools/measure.py" freeport)
(cd "$BENCH_DIR/apps" && exec "$BIN" "$APP" --interface asgi --python "$PY" -b "127.0.0.1:$PORT" -w 1 --no-access-log) \
  >"$OUT/server.log" 2>&1 &
GO=$!
trap 'kill "$GO" 2>/dev/null || true; rm -rf "$OUT"' EXIT
"$PY" "$BENCH_DIR/tools/measure.py" ready --port "$PORT" --pid "$GO" --path "$URLPATH" >/dev/null
PYW=$(pgrep -P "$GO" | head -n 1)
wrk -t2 -c"$C" -d1s "http://127.0.0.1:$PORT$URLPATH" >/dev/null
wrk -t2 -c"$C" -d6s "http://127.0.0.1:$PORT$URLPATH" >"$OUT/wrk.txt" &
W=$!
sleep 1
EV=task-clock,raw_syscalls:sys_enter,context-switches
perf stat -x, -e "$EV" -p "$PYW" -o "$OUT/worker.csv" -- sleep 4 &
P=$!
perf stat -x, -e "$EV" -p "$GO" -o "$OUT/front.csv" -- sleep 4
wait "$P" "$W"
"$PY" - "$OUT" "$(basename "$BIN")" <<'PYEOF'
import re, sys
out, name = sys.argv[1:]
rate = float(re.search(r'Requests/sec:\s+([\d.]+)', open(out + '/wrk.txt').read()).group(1))
n = rate * 4
line = ['%-14s' % name]
for who in ('worker', 'front'):
    v = {}
    for row in open('%s/%s.csv' % (out, who)):
        f = row.split(',')
        if len(f) > 2 and f[0].replace('.', '').isdigit():
            v[f[2]] = float(f[0])
    line.append('%s %.2f µs/req %.3f sys/req %.3f cs/req' % (
        who, v['task-clock'] * 1000 / n, v['raw_syscalls:sys_enter'] / n, v['context-switches'] / n))
print(' | '.join(line) + ' | %.0f req/s' % rate)
PYEOF

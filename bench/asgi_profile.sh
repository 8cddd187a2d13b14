#!/usr/bin/env bash
# bench/asgi_profile.sh: where one ASGI request's CPU goes in gowsgi: the Go
# front and the Python worker apart (utime+stime from /proc and, when perf
# can count, task-clock, syscalls and context switches per request), a Go
# CPU profile of the front (GOWSGI_CPUPROFILE, `go tool pprof -top`), and a
# cProfile of the worker's event loop (PROFILE_CPROFILE=1: the app is wrapped
# by tools/cprofile_app.py, which profiles the worker process from its import
# until exit).
#
#   bench/asgi_profile.sh                         # asgi_hello:app, 50 connections, 5 s
#   PROFILE_APP=asgi_sleep:app PROFILE_CONNS=1000 bench/asgi_profile.sh
#   PROFILE_ARGS="--loop asyncio" bench/asgi_profile.sh
set -Eeuo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
APP=${PROFILE_APP:-asgi_hello:app}
URLPATH=${PROFILE_PATH:-/}
CONNS=${PROFILE_CONNS:-50}
DUR=${PROFILE_DURATION:-5}
read -ra EXTRA <<<"${PROFILE_ARGS:-}"
OUT=$BENCH_DIR/raw/asgi-profile-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ ${PROFILE_NO_BUILD:-0} == 1 ]] || (cd "$ROOT" && go build -o "$BENCH_DIR/.bin/gowsgi" ./cmd/gowsgi)
PORT=$("$PY" "$BENCH_DIR/tools/measure.py" freeport)
env=(GOWSGI_CPUPROFILE="$OUT/go-cpu.prof")
if [[ ${PROFILE_CPROFILE:-0} == 1 ]]; then
  env+=(CPROFILE_APP="$APP" CPROFILE_OUT="$OUT/py.pstats")
  APP=cprofile_app:app
fi
(cd "$BENCH_DIR/apps" && exec env "${env[@]}" PYTHONPATH="$BENCH_DIR/tools" "$BENCH_DIR/.bin/gowsgi" "$APP" --interface asgi \
  --python "$PY" -b "127.0.0.1:$PORT" -w 1 --no-access-log "${EXTRA[@]+"${EXTRA[@]}"}") >"$OUT/server.log" 2>&1 &
GO=$!
trap 'kill -TERM $GO 2>/dev/null; wait $GO 2>/dev/null || true' EXIT
"$PY" "$BENCH_DIR/tools/measure.py" ready --port "$PORT" --pid "$GO" --path "$URLPATH" >/dev/null
PYW=$(pgrep -P "$GO" | head -n 1)
wrk -t2 -c"$CONNS" -d1s "http://127.0.0.1:$PORT$URLPATH" >/dev/null   # warm-up
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # clock ticks
g0=$(cpu "$GO"); p0=$(cpu "$PYW")
perf_ok=0
if perf stat -e task-clock -p "$GO" -- true >/dev/null 2>&1; then perf_ok=1; fi
if ((perf_ok)); then
  for side in go:$GO python:$PYW; do
    perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter -p "${side#*:}" -o "$OUT/perf-${side%%:*}.csv" -- sleep $((DUR + 1)) &
  done
  sleep 0.5
fi
wrk --latency -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$PORT$URLPATH" >"$OUT/wrk.txt"
wait $(jobs -p | grep -v "^$GO$") 2>/dev/null || true
g1=$(cpu "$GO"); p1=$(cpu "$PYW")
n=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
hz=$(getconf CLK_TCK)
{
  echo "app $APP, $CONNS connections, ${DUR}s, load $(cut -d' ' -f1-3 /proc/loadavg); gowsgi ${PROFILE_ARGS:-}"
  grep -E "Requests/sec|requests in|  (50|99)%" "$OUT/wrk.txt"
  awk -v g="$((g1 - g0))" -v p="$((p1 - p0))" -v n="$n" -v hz="$hz" 'BEGIN {
    printf "CPU per request (/proc): go %.1f us, python %.1f us, total %.1f us\n", g/hz/n*1e6, p/hz/n*1e6, (g+p)/hz/n*1e6 }'
  if ((perf_ok)); then
    for side in go python; do
      awk -F, -v n="$n" -v s="$side" '$3 ~ /task-clock/ {t=$1} $3 ~ /context-switches/ {c=$1} $3 ~ /sys_enter/ {y=$1}
        END { printf "perf %s: %.1f us/req task-clock, %.2f syscalls/req, %.2f context switches/req\n", s, t*1000/n, y/n, c/n }' "$OUT/perf-$side.csv"
    done
  fi
} | tee "$OUT/summary.txt"
kill -TERM "$GO"; wait "$GO" 2>/dev/null || true
trap - EXIT
go tool pprof -top -nodecount=35 "$BENCH_DIR/.bin/gowsgi" "$OUT/go-cpu.prof" 2>/dev/null >"$OUT/go-top.txt" || true
head -45 "$OUT/go-top.txt"
if [[ -s $OUT/py.pstats ]]; then
  "$PY" -c "import pstats,sys; pstats.Stats(sys.argv[1]).sort_stats('tottime').print_stats(25)" "$OUT/py.pstats" | tee "$OUT/py-top.txt" | sed -n '1,60p'
fi
echo "files: $OUT"

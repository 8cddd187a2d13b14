#!/usr/bin/env bash
# bench/asgi.sh: gowsgi's ASGI interface against uvicorn (h11/httptools,
# uvloop/asyncio), gunicorn with uvicorn's worker, hypercorn and daphne; one
# worker each, side by side in one run on 127.0.0.1. See bench/README.md
# ("ASGI: bench/asgi.sh").
#
#   bench/asgi.sh                              # every scenario x server, 2 rounds x 5 s
#   ASGI_ONLY=hello,sleep-c1000 ASGI_SERVERS=gowsgi,uvicorn-httptools bench/asgi.sh
#
# Environment:
#   ASGI_DURATION   seconds per wrk run (5)
#   ASGI_REPEAT     rounds (2); each round runs every scenario x server once,
#                   servers interleaved, each case a fresh server
#   ASGI_ONLY       scenarios (default: all, see SCENARIOS below)
#   ASGI_SERVERS    servers (default: all; one that does not import is
#                   reported "not available")
#   ASGI_NO_BUILD=1 use bench/.bin/gowsgi as it is
#   ASGI_GOWSGI_ARGS extra gowsgi arguments (e.g. "--loop asyncio")
#   ASGI_GOWSGI_BASE another gowsgi binary, served as "gowsgi-base" (name it
#                   in ASGI_SERVERS): before/after side by side in one run
#   BENCH_WRK_THREADS (nproc), BENCH_PYTHON (/usr/bin/python3)
# Writes bench/raw/asgi-<timestamp>/ (results.jsonl, wrk outputs, server
# logs, RESULTS.md) and prints the tables.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
APPS=$BENCH_DIR/apps
TOOLS=$BENCH_DIR/tools
PY=${BENCH_PYTHON:-/usr/bin/python3}
MEASURE=("$PY" "$TOOLS/measure.py")
DURATION=${ASGI_DURATION:-5}
REPEAT=${ASGI_REPEAT:-2}
WRK_THREADS=${BENCH_WRK_THREADS:-$(nproc)}
GOWSGI_BIN=$BENCH_DIR/.bin/gowsgi
read -ra GOWSGI_EXTRA <<<"${ASGI_GOWSGI_ARGS:-}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
split_list() { tr ',' ' ' <<<"$1"; }

# name -> "module:app path connections wrk-script warm-up-POST-bytes"
declare -A SC_DEF=(
  [hello]="asgi_hello:app / 50 - 0"
  [starlette]="asgi_starlette:app /json 50 - 0"
  [fastapi]="asgi_fastapi:app /json 50 - 0"
  [stream]="asgi_starlette:app /stream 50 - 0"
  [echo64k]="asgi_echo:app / 50 $BENCH_DIR/lua/post64k.lua 65536"
  [sleep-c1000]="asgi_sleep:app / 1000 - 0"
  [idle1000]="asgi_hello:app / 1000 idle 0"
)
ALL_SCENARIOS=(hello starlette fastapi stream echo64k sleep-c1000 idle1000)
ALL_SERVERS=(gowsgi uvicorn-httptools uvicorn-h11 uvicorn-h11-asyncio gunicorn-uvicorn hypercorn daphne)
SCENARIOS=("${ALL_SCENARIOS[@]}")
[[ -n ${ASGI_GOWSGI_BASE:-} ]] && ALL_SERVERS+=(gowsgi-base)
[[ -n ${ASGI_ONLY:-} ]] && read -ra SCENARIOS <<<"$(split_list "$ASGI_ONLY")"
SERVERS=("${ALL_SERVERS[@]}")
[[ -n ${ASGI_SERVERS:-} ]] && read -ra SERVERS <<<"$(split_list "$ASGI_SERVERS")"
for s in "${SCENARIOS[@]}"; do [[ -n ${SC_DEF[$s]:-} ]] || { echo "asgi.sh: unknown scenario $s (${ALL_SCENARIOS[*]})" >&2; exit 2; }; done
for s in "${SERVERS[@]}"; do [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || { echo "asgi.sh: unknown server $s (${ALL_SERVERS[*]})" >&2; exit 2; }; done

# 1,000 wrk connections + 1,000 on the server side (+ gowsgi's slots)
if (($(ulimit -n) < 16384)); then ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; fi
(($(ulimit -n) >= 4096)) || log "warning: ulimit -n is $(ulimit -n); the 1,000-connection cases may fail"

TS=$(date +%Y%m%d-%H%M%S)
RAW=$BENCH_DIR/raw/asgi-$TS
mkdir -p "$RAW"
RESULTS=$RAW/results.jsonl
: >"$RESULTS"

# ---------------------------------------------------------- availability ----
declare -A UNAVAILABLE
py_has() { (cd / && timeout 30 "$PY" -c "import $1") >/dev/null 2>&1; }
py_has uvicorn || for s in uvicorn-httptools uvicorn-h11 uvicorn-h11-asyncio gunicorn-uvicorn; do UNAVAILABLE[$s]="uvicorn does not import"; done
py_has httptools || UNAVAILABLE[uvicorn-httptools]="httptools does not import"
py_has uvloop || { UNAVAILABLE[uvicorn-httptools]="uvloop does not import"; UNAVAILABLE[uvicorn-h11]="uvloop does not import"; }
py_has gunicorn || UNAVAILABLE[gunicorn-uvicorn]="gunicorn does not import"
py_has uvicorn.workers || UNAVAILABLE[gunicorn-uvicorn]="uvicorn.workers does not import"
py_has hypercorn || UNAVAILABLE[hypercorn]="hypercorn does not import"
py_has daphne.server || UNAVAILABLE[daphne]="daphne does not import"
GOWSGI_VERSION="not built"
if [[ " ${SERVERS[*]} " == *" gowsgi "* ]]; then
  mkdir -p "$BENCH_DIR/.bin"
  if [[ ${ASGI_NO_BUILD:-0} != 1 ]]; then
    log "gowsgi: go build ./cmd/gowsgi"
    (cd "$ROOT" && timeout 600 go build -o "$GOWSGI_BIN" ./cmd/gowsgi) >"$RAW/gowsgi-build.log" 2>&1 \
      || UNAVAILABLE[gowsgi]="does not build (see $RAW/gowsgi-build.log)"
  fi
  [[ -x $GOWSGI_BIN ]] || UNAVAILABLE[gowsgi]="no binary at $GOWSGI_BIN"
  GOWSGI_VERSION="git $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . ':!bench' || echo '+dirty')"
fi
if [[ " ${SERVERS[*]} " == *" gowsgi-base "* ]]; then
  [[ -x ${ASGI_GOWSGI_BASE:-} ]] || UNAVAILABLE[gowsgi-base]="ASGI_GOWSGI_BASE is not an executable"
fi
for s in "${!UNAVAILABLE[@]}"; do log "not available: $s: ${UNAVAILABLE[$s]}"; done

# ---------------------------------------------------------- server argv ----
# server_cmd SERVER MODULE PORT IDLE: sets CMD. IDLE=1 raises every server's
# keep-alive timeout to 60 s, so that idle connections stay open while the
# idle scenario measures them (daphne has no keep-alive timeout to set).
server_cmd() {
  local srv=$1 mod=$2 port=$3 idle=$4 ka=()
  case $srv in
    gowsgi | gowsgi-base)
      ((idle)) && ka=(--keep-alive 60s)
      local bin=$GOWSGI_BIN
      [[ $srv == gowsgi-base ]] && bin=$ASGI_GOWSGI_BASE
      CMD=("$bin" "$mod" --interface asgi --chdir "$APPS" --python "$PY" -b "127.0.0.1:$port"
           -w 1 --no-access-log "${ka[@]+"${ka[@]}"}" "${GOWSGI_EXTRA[@]+"${GOWSGI_EXTRA[@]}"}") ;;
    uvicorn-*)
      ((idle)) && ka=(--timeout-keep-alive 60)
      CMD=("$PY" -m uvicorn "$mod" --host 127.0.0.1 --port "$port" --workers 1 --no-access-log
           --log-level warning "${ka[@]+"${ka[@]}"}")
      case $srv in
        uvicorn-httptools) CMD+=(--http httptools --loop uvloop) ;;
        uvicorn-h11) CMD+=(--http h11 --loop uvloop) ;;
        uvicorn-h11-asyncio) CMD+=(--http h11 --loop asyncio) ;;
      esac ;;
    gunicorn-uvicorn)
      ((idle)) && ka=(--keep-alive 60)
      CMD=("$PY" -m gunicorn -k uvicorn.workers.UvicornWorker -w 1 -b "127.0.0.1:$port"
           --log-level warning "${ka[@]+"${ka[@]}"}" "$mod") ;;
    hypercorn)
      ((idle)) && ka=(--keep-alive 60)
      CMD=("$PY" -m hypercorn -w 1 -b "127.0.0.1:$port" --log-level warning "${ka[@]+"${ka[@]}"}" "$mod") ;;
    daphne)
      CMD=("$PY" -m daphne -v 0 -b 127.0.0.1 -p "$port" "$mod") ;;
  esac
}

# ------------------------------------------------------------ processes ----
SERVER_PID=""
MEASURE_PID=""
is_running() { local st; st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1; [[ -n $st && $st != Z && $st != X ]]; }
stop_pid() { # PID BOUND: TERM, then KILL after BOUND s
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 10; i++)); do is_running "$pid" || break; sleep 0.1; done
  is_running "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  local snap=$CASE.tree
  "${MEASURE[@]}" snapshot "$SERVER_PID" >"$snap" 2>/dev/null || : >"$snap"
  stop_pid "$SERVER_PID" 10
  "${MEASURE[@]}" reap "$snap" --grace 3 >/dev/null 2>&1 || true
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  [[ -n $MEASURE_PID ]] && stop_pid "$MEASURE_PID" 5
  stop_server
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM HUP

note() { "${MEASURE[@]}" note --append "$RESULTS" "$@"; }
load1() { cut -d' ' -f1-3 /proc/loadavg; }

run_case() { # round scenario server
  local r=$1 sc=$2 srv=$3 mod path conns lua body port warm rc=0 idle=0
  read -r mod path conns lua body <<<"${SC_DEF[$sc]}"
  [[ $lua == idle ]] && idle=1
  local tags=(--tag "scenario=$sc" --tag "server=$srv" --tag "repeat=$r")
  if [[ -n ${UNAVAILABLE[$srv]:-} ]]; then
    ((r == 1)) && note "${tags[@]}" --tag status=unavailable --tag "reason=${UNAVAILABLE[$srv]}"
    return 0
  fi
  CASE=$RAW/$sc-$srv-r$r
  port=$("${MEASURE[@]}" freeport)
  server_cmd "$srv" "$mod" "$port" "$idle"
  printf '%s\0' "${CMD[@]}" >"$CASE.cmd"
  (cd "$APPS" && exec "${CMD[@]}") >"$CASE.server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  warm=$("${MEASURE[@]}" ready --port "$port" --pid "$SERVER_PID" --timeout 30 --path "$path" --body-size "$body" 2>&1) || rc=$?
  if ((rc == 1 || rc == 2)); then
    log "$sc $srv r$r: did not start: $warm $(tail -n 3 "$CASE.server.log" | tr '\n' ' ' | cut -c1-300)"
    note "${tags[@]}" --tag status=start_failed --tag "reason=$warm" --cmd-file "$CASE.cmd"
    stop_server; return 0
  fi
  local ld; ld=$(load1)
  if ((idle)); then
    "$PY" "$TOOLS/idleconns.py" --port "$port" --pid "$SERVER_PID" --conns "$conns" --path "$path" >"$CASE.idle.json" 2>"$CASE.idle.err" &
    MEASURE_PID=$!
    wait "$MEASURE_PID" || true
    MEASURE_PID=""
    log "$sc $srv r$r (load $ld): $(cat "$CASE.idle.json")"
    note "${tags[@]}" --tag status=ok --tag "load=$ld" --tag "warmup=$warm" --json "idle=$CASE.idle.json" --cmd-file "$CASE.cmd"
  else
    local wt=$WRK_THREADS wrk
    wrk=(wrk --latency -t "$wt" -c "$conns" -d "${DURATION}s" --timeout 5s)
    [[ $lua != - ]] && wrk+=(-s "$lua")
    wrk+=("http://127.0.0.1:$port$path")
    "${MEASURE[@]}" run --pid "$SERVER_PID" --wrk-out "$CASE.wrk.txt" --json-out "$CASE.json" \
      --limit $((DURATION + 60)) --append "$RESULTS" "${tags[@]}" --tag "load=$ld" \
      -- "${wrk[@]}" >"$CASE.summary" 2>&1 &
    MEASURE_PID=$!
    wait "$MEASURE_PID" || true
    MEASURE_PID=""
    log "$sc $srv r$r (load $ld): $(tail -n 1 "$CASE.summary")"
    note "${tags[@]}" --tag status=ok --tag "load=$ld" --tag "warmup=$warm" --cmd-file "$CASE.cmd"
  fi
  stop_server
}

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "asgi run $TS: ${#SCENARIOS[@]} scenarios x ${#SERVERS[@]} servers x $REPEAT rounds, ${DURATION}s each; raw output in $RAW"
for ((r = 1; r <= REPEAT; r++)); do
  for sc in "${SCENARIOS[@]}"; do
    # interleave: rotate the server order every round
    n=${#SERVERS[@]}
    for ((i = 0; i < n; i++)); do run_case "$r" "$sc" "${SERVERS[$(((i + r - 1) % n))]}"; done
  done
done
FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$PY" "$TOOLS/asgi_report.py" --results "$RESULTS" --started "$STARTED" --finished "$FINISHED" \
  --duration "$DURATION" --repeat "$REPEAT" --gowsgi-version "$GOWSGI_VERSION" \
  --command "ASGI_DURATION=$DURATION ASGI_REPEAT=$REPEAT ASGI_ONLY=$(IFS=,; echo "${SCENARIOS[*]}") ASGI_SERVERS=$(IFS=,; echo "${SERVERS[*]}")${ASGI_GOWSGI_ARGS:+ ASGI_GOWSGI_ARGS=\"$ASGI_GOWSGI_ARGS\"} bench/asgi.sh" \
  | tee "$RAW/RESULTS.md"
log "report: $RAW/RESULTS.md"

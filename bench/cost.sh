#!/usr/bin/env bash
# bench/cost.sh: CPU time, syscalls and context switches per request, per
# process ("side") of each server, counted by `perf stat` under a steady wrk
# load. See bench/README.md, "Cost per request".
#
#   bench/cost.sh                                   # every scenario x server (~3 min)
#   COST_ONLY=hello COST_SERVERS=gowsgi,bjoern COST_DURATION=3 bench/cost.sh
#   COST_GOWSGI_ARGS="--request-id off" bench/cost.sh --only hello,big1m
#
# Scenarios: hello playground echo64k big1m flask (the apps, paths and wrk
# scripts of bench/run.sh). Servers, at one worker (bench/run.sh's command
# lines): gowsgi (--threads 1; sides go = the Go front, python = its worker,
# all = both), bjoern (one process: all), uwsgi (the worker, not the master:
# all), gunicorn-sync (the worker, not the arbiter: all). A server that is
# not available is skipped with a note.
#
# Per case: start the server, wait until it answers, warm up with wrk for
# COST_WARMUP s; then `perf stat -e EVENTS -p PID` on each process of the
# server separately, its workload a wait (`sleep`s until told to stop); once
# every perf counts, `wrk -t1 -c50 -dNs`; when wrk is done the perfs stop. So
# the counts cover the whole wrk run (and a few idle milliseconds around it),
# and are divided by the requests wrk reports.
# The table goes to stdout and to bench/raw/cost-<timestamp>.md; the wrk and
# perf outputs and server logs to bench/raw/cost-<timestamp>/.
#
# Options (each also an environment variable):
#   --only a,b          COST_ONLY          scenarios (default: all five)
#   --servers x,y       COST_SERVERS       servers (default: all four)
#   --duration N        COST_DURATION      seconds of measured wrk load (5)
#   --gowsgi PATH       COST_GOWSGI        a gowsgi binary to use as it is
#                                          (default: go build ./cmd/gowsgi
#                                          to bench/.bin/gowsgi)
#   --gowsgi-args "..." COST_GOWSGI_ARGS   extra gowsgi arguments, e.g.
#                                          "--request-id off"
#   -h, --help                             this text
# Also COST_ACCESS_LOG (1: gowsgi writes its access log, as by default, to a
# file under the raw directory, instead of --no-access-log), COST_WARMUP (1 s), COST_CONNS (50), BENCH_BJOERN_PATH (a directory
# with a built bjoern; default bench/.bjoern when bjoern imports from there),
# BENCH_PYTHON (/usr/bin/python3), BENCH_UWSGI_SOCKET (http11-socket),
# BENCH_START_TIMEOUT (30 s), BENCH_STOP_TIMEOUT (10 s).
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
APPS=$BENCH_DIR/apps
TOOLS=$BENCH_DIR/tools
PY=${BENCH_PYTHON:-/usr/bin/python3}
MEASURE=("$PY" "$TOOLS/measure.py")
REPORT=("$PY" "$TOOLS/cost_report.py")

ONLY=${COST_ONLY:-}
SERVERS_ARG=${COST_SERVERS:-}
DURATION=${COST_DURATION:-5}
GOWSGI=${COST_GOWSGI:-}
GOWSGI_ARGS=${COST_GOWSGI_ARGS:-}
WARMUP=${COST_WARMUP:-1}
CONNS=${COST_CONNS:-50}
BJOERN_PATH=${BENCH_BJOERN_PATH:-}
UWSGI_SOCKET=${BENCH_UWSGI_SOCKET:-http11-socket}
START_TIMEOUT=${BENCH_START_TIMEOUT:-30}
STOP_TIMEOUT=${BENCH_STOP_TIMEOUT:-10}

usage() { sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --only) ONLY=${2:?--only needs a value}; shift ;;
    --servers) SERVERS_ARG=${2:?--servers needs a value}; shift ;;
    --duration) DURATION=${2:?--duration needs a value}; shift ;;
    --gowsgi) GOWSGI=${2:?--gowsgi needs a value}; shift ;;
    --gowsgi-args) GOWSGI_ARGS=${2?--gowsgi-args needs a value}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cost.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for v in DURATION WARMUP CONNS START_TIMEOUT STOP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || { echo "cost.sh: bad $v '${!v}' (a whole number of at least 1)" >&2; exit 2; }
done

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "cost.sh: $*" >&2; exit 1; }
GOWSGI_GIVEN=0
if [[ -n $GOWSGI ]]; then   # a binary given: used as it is, from apps/
  GOWSGI_GIVEN=1
  [[ $GOWSGI == */* ]] || GOWSGI=$(command -v "$GOWSGI" || echo "$GOWSGI")
  [[ -x $GOWSGI && ! -d $GOWSGI ]] || die "COST_GOWSGI '$GOWSGI' is not an executable file"
  GOWSGI=$(cd "$(dirname "$GOWSGI")" && pwd)/$(basename "$GOWSGI")
fi

# ---------------------------------------------------------- the matrix ----
ALL_SERVERS=(gowsgi bjoern uwsgi gunicorn-sync)
ALL_SCENARIOS=(hello playground echo64k big1m flask)
# as in bench/run.sh's scenario table: app, path, wrk script, warm-up POST bytes
declare -A S_APP S_PATH S_LUA S_BODY
scenario() { S_APP[$1]=$2; S_PATH[$1]=$3; S_LUA[$1]=$4; S_BODY[$1]=$5; }
scenario hello      hello:app      /     ""                           0
scenario playground playground:app /     ""                           0
scenario echo64k    echo:app       /     "$BENCH_DIR/lua/post64k.lua" 65536
scenario big1m      big:app        /     ""                           0
scenario flask      flask_app:app  /json ""                           0

contains() { local x=$1; shift; local y; for y in "$@"; do [[ $x == "$y" ]] && return 0; done; return 1; }
SCENARIOS=("${ALL_SCENARIOS[@]}")
if [[ -n $ONLY ]]; then
  SCENARIOS=()
  for s in ${ONLY//,/ }; do
    contains "$s" "${ALL_SCENARIOS[@]}" || { echo "cost.sh: unknown scenario '$s' (${ALL_SCENARIOS[*]})" >&2; exit 2; }
    SCENARIOS+=("$s")
  done
fi
SERVERS=("${ALL_SERVERS[@]}")
if [[ -n $SERVERS_ARG ]]; then
  SERVERS=()
  for s in ${SERVERS_ARG//,/ }; do
    contains "$s" "${ALL_SERVERS[@]}" || { echo "cost.sh: unknown server '$s' (${ALL_SERVERS[*]})" >&2; exit 2; }
    SERVERS+=("$s")
  done
fi
((${#SCENARIOS[@]} && ${#SERVERS[@]})) || { echo "cost.sh: nothing to run" >&2; exit 2; }
read -r -a GOWSGI_EXTRA <<<"$GOWSGI_ARGS"

EVENTS=task-clock,context-switches,raw_syscalls:sys_enter
for e in read write recvmsg sendmsg sendto recvfrom writev epoll_pwait epoll_wait epoll_ctl futex nanosleep sendfile64; do
  EVENTS+=,syscalls:sys_enter_$e
done

# ----------------------------------------------------- processes we own ----
SERVER_PID=""
WRK_PID=""
PERF_PIDS=()
STOP_FILE=""
is_running() { # a PID that exists and is not a zombie
  local st
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}
stop_pid() { # PID BOUND: SIGTERM, up to BOUND s, SIGKILL; reap
  local pid=$1 bound=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < bound * 10; i++)); do is_running "$pid" || break; sleep 0.1; done
  if is_running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
stop_load() { # the perf workloads end when the stop file exists
  local p
  if [[ -n $STOP_FILE ]]; then : >"$STOP_FILE"; fi
  for p in "${PERF_PIDS[@]+"${PERF_PIDS[@]}"}"; do stop_pid "$p" 3; done
  PERF_PIDS=()
  if [[ -n $WRK_PID ]]; then stop_pid "$WRK_PID" 3; fi
  WRK_PID=""
}
stop_server() { # the server by its PID, then whatever of its tree outlived it
  [[ -n $SERVER_PID ]] || return 0
  local snap=$CASE_DIR/tree.txt left
  "${MEASURE[@]}" snapshot "$SERVER_PID" >"$snap" 2>/dev/null || : >"$snap"
  stop_pid "$SERVER_PID" "$STOP_TIMEOUT"
  left=$("${MEASURE[@]}" reap "$snap" --grace 3 2>/dev/null || echo "?")
  [[ $left == 0 ]] || log "    note: $left process(es) of its tree outlived the server; killed"
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_load; stop_server
  exit "$rc"
}
CASE_DIR=/tmp
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM HUP

# --------------------------------------------------------- preflight ----
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
if ! out=$(perf stat -x, -e "$EVENTS" -o /dev/null -- true 2>&1); then
  # drop the events this kernel or perf lacks; the rest must work
  kept=""
  for e in ${EVENTS//,/ }; do
    if perf stat -x, -e "$e" -o /dev/null -- true >/dev/null 2>&1; then kept+=${kept:+,}$e
    else log "perf: cannot count $e here; left out"; fi
  done
  [[ $kept == *raw_syscalls:sys_enter* && $kept == *task-clock* ]] \
    || die "perf stat cannot count task-clock and raw_syscalls:sys_enter here (root, or kernel.perf_event_paranoid): $(tail -n 1 <<<"$out")"
  EVENTS=$kept
fi

TS=$(date +%Y%m%d-%H%M%S)
RAW=$BENCH_DIR/raw/cost-$TS
MD=$BENCH_DIR/raw/cost-$TS.md
mkdir -p "$RAW"
CASES=$RAW/cases.jsonl
: >"$CASES"

declare -A UNAVAILABLE
py_has() { timeout 30 "$PY" -c "import $1" >/dev/null 2>&1; }
bjoern_in() { [[ -z $1 || -d $1 ]] && (cd / && PYTHONPATH=$1 timeout 20 "$PY" -c 'import bjoern') >/dev/null 2>&1; }
GOWSGI_VERSION=""
for srv in "${SERVERS[@]}"; do
  case $srv in
    gowsgi)
      if [[ -n $GOWSGI ]]; then
        :   # checked above
      elif ! command -v go >/dev/null; then
        UNAVAILABLE[gowsgi]="go not found (PATH=/usr/local/go/bin:\$PATH, or COST_GOWSGI=binary)"
      else
        GOWSGI=$BENCH_DIR/.bin/gowsgi
        mkdir -p "$BENCH_DIR/.bin"
        log "gowsgi: go build ./cmd/gowsgi"
        if ! (cd "$ROOT" && timeout 600 go build -o "$GOWSGI" ./cmd/gowsgi) >"$RAW/gowsgi-build.log" 2>&1; then
          UNAVAILABLE[gowsgi]="does not build (see $RAW/gowsgi-build.log)"
        fi
      fi
      if [[ -z ${UNAVAILABLE[gowsgi]:-} ]]; then
        GOWSGI_VERSION="$GOWSGI, $(timeout 5 "$GOWSGI" --version 2>&1 | head -n 1 || true)"
        if ((!GOWSGI_GIVEN)); then
          GOWSGI_VERSION+=" (built from git $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD -- '*.go' go.mod go.sum 2>/dev/null || echo ', with uncommitted Go changes'))"
        fi
        [[ -n $GOWSGI_ARGS ]] && GOWSGI_VERSION+=", extra args: $GOWSGI_ARGS"
      fi ;;
    bjoern)
      if [[ -n $BJOERN_PATH && -d $BJOERN_PATH ]]; then BJOERN_PATH=$(cd "$BJOERN_PATH" && pwd); fi
      if [[ -z $BJOERN_PATH ]] && bjoern_in "$BENCH_DIR/.bjoern"; then BJOERN_PATH=$BENCH_DIR/.bjoern; fi
      bjoern_in "$BJOERN_PATH" || UNAVAILABLE[bjoern]="bjoern not importable (build it into bench/.bjoern, or set BENCH_BJOERN_PATH to a directory where it is built; see bench/README.md)" ;;
    uwsgi)
      if ! command -v uwsgi >/dev/null; then UNAVAILABLE[uwsgi]="uwsgi not installed"
      elif ! timeout 20 uwsgi --plugin python3 --version >/dev/null 2>&1; then UNAVAILABLE[uwsgi]="uwsgi python3 plugin not loadable"; fi ;;
    gunicorn-sync)
      py_has gunicorn || UNAVAILABLE[gunicorn-sync]="python3-gunicorn not importable" ;;
  esac
done
FLASK_OK=1; py_has flask || FLASK_OK=0

# server_cmd SERVER MODULE PORT: CMD, as bench/run.sh's server_cmd at workers=1
server_cmd() {
  local srv=$1 mod=$2 port=$3
  case $srv in
    gowsgi)
      CMD=("$GOWSGI" "$mod" --chdir "$APPS" --python "$PY" -b "127.0.0.1:$port"
           -w 1 --threads 1)
      if [[ ${COST_ACCESS_LOG:-} == 1 ]]; then CMD+=(--access-log "$RAW/access-$port.log"); else CMD+=(--no-access-log); fi
      CMD+=("${GOWSGI_EXTRA[@]+"${GOWSGI_EXTRA[@]}"}") ;;
    bjoern)
      CMD=(env "PYTHONPATH=$BJOERN_PATH" "$PY" "$TOOLS/bjoern_serve.py" --chdir "$APPS"
           --bind "127.0.0.1:$port" "$mod") ;;
    uwsgi)
      CMD=(uwsgi --plugin python3 "--$UWSGI_SOCKET" "127.0.0.1:$port" --master
           --processes 1 --disable-logging --die-on-term --need-app --listen 1024
           --chdir "$APPS" --module "$mod") ;;
    gunicorn-sync)
      CMD=("$PY" -m gunicorn --chdir "$APPS" -b "127.0.0.1:$port" -w 1 -k sync
           --log-level warning "$mod") ;;
  esac
}

# sides SERVER: the processes to count, as "side=pid" words in SIDES
children() { pgrep -P "$1" 2>/dev/null || true; }
find_sides() {
  local srv=$1 c kids=() workers=()
  SIDES=()
  mapfile -t kids < <(children "$SERVER_PID")
  case $srv in
    gowsgi)
      SIDES+=("go=$SERVER_PID")
      for c in "${kids[@]+"${kids[@]}"}"; do
        [[ $(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null) == "gowsgi: worker"* ]] && workers+=("$c")
      done
      ((${#workers[@]})) || workers=("${kids[@]+"${kids[@]}"}")
      ((${#workers[@]})) || return 1
      for c in "${workers[@]}"; do SIDES+=("python=$c"); done ;;
    bjoern)
      SIDES+=("all=$SERVER_PID") ;;
    uwsgi|gunicorn-sync)   # the worker(s), not the master / arbiter
      ((${#kids[@]})) || return 1
      for c in "${kids[@]}"; do SIDES+=("all=$c"); done ;;
  esac
}

wrk_argv() { # DURATION_S URL
  WRK=(wrk -t1 -c "$CONNS" -d "$1s" --timeout 5s)
  [[ -n ${S_LUA[$SC]} ]] && WRK+=(-s "${S_LUA[$SC]}")
  WRK+=("$2")
}

skip() { "${REPORT[@]}" skip --out "$CASES" --scenario "$SC" --server "$SRV" --reason "$1"; log "    skipped: $1"; }

run_case() { # scenario server
  SC=$1; SRV=$2
  CASE_DIR=$RAW/$SC-$SRV
  mkdir -p "$CASE_DIR"
  log "$SC  $SRV"
  if [[ -n ${UNAVAILABLE[$SRV]:-} ]]; then skip "${UNAVAILABLE[$SRV]}"; return 0; fi
  if [[ $SC == flask ]] && ((!FLASK_OK)); then skip "python3-flask not importable"; return 0; fi
  local port url rc=0 warm s side pid notes=() args=() wrk_t0 wrk_t1
  port=$("${MEASURE[@]}" freeport)
  url="http://127.0.0.1:$port${S_PATH[$SC]}"
  server_cmd "$SRV" "${S_APP[$SC]}" "$port"
  printf '%q ' "${CMD[@]}" >"$CASE_DIR/cmd.txt"; echo >>"$CASE_DIR/cmd.txt"
  (cd "$APPS" && exec "${CMD[@]}") >"$CASE_DIR/server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  warm=$("${MEASURE[@]}" ready --port "$port" --pid "$SERVER_PID" --timeout "$START_TIMEOUT" \
         --path "${S_PATH[$SC]}" --body-size "${S_BODY[$SC]}" 2>&1) || rc=$?
  if ((rc == 1 || rc == 2)); then
    skip "did not start: $warm; server log: $(tail -n 3 "$CASE_DIR/server.log" | tr '\n' ' ' | cut -c1-300)"
    stop_server; return 0
  fi
  ((rc == 3)) && notes+=("$warm")
  wrk_argv "$WARMUP" "$url"
  timeout $((WARMUP + 30)) "${WRK[@]}" >"$CASE_DIR/warmup.wrk.txt" 2>&1 || true
  if ! find_sides "$SRV"; then
    skip "found no worker process under PID $SERVER_PID"; stop_server; return 0
  fi
  # counters first (one perf per process; each one's workload stamps the
  # time, waits for the stop file, stamps again; perf enables its counters
  # just after starting the workload, hence the 0.05 s before the first
  # stamp), then the load, then stop
  local i ready wins=()
  STOP_FILE=$CASE_DIR/stop
  rm -f "$STOP_FILE"
  for s in "${SIDES[@]}"; do
    side=${s%%=*}; pid=${s#*=}
    wins+=("$CASE_DIR/perf-$side-$pid.win")
    # shellcheck disable=SC2016  # expanded by that sh
    timeout -s INT $((DURATION + 60)) perf stat -x, -e "$EVENTS" -p "$pid" -o "$CASE_DIR/perf-$side-$pid.csv" \
      -- sh -c 'sleep 0.05; date +%s%N >"$1"; n=0; while [ ! -e "$2" ] && [ $n -lt "$3" ]; do sleep 0.02; n=$((n + 1)); done
                date +%s%N >>"$1"' sh "$CASE_DIR/perf-$side-$pid.win" "$STOP_FILE" $(((DURATION + 50) * 50)) \
      >"$CASE_DIR/perf-$side-$pid.log" 2>&1 &
    PERF_PIDS+=($!)
    args+=(--side "$side=$pid:$CASE_DIR/perf-$side-$pid.csv")
  done
  for ((i = 0; i < 300; i++)); do   # counting starts as the workload runs: wait up to 30 s
    ready=1
    for s in "${wins[@]}"; do [[ -s $s ]] || ready=0; done
    ((ready)) && break
    for s in "${PERF_PIDS[@]}"; do is_running "$s" || ready=2; done
    ((ready == 2)) && break
    sleep 0.1
  done
  if ((ready != 1)); then
    stop_load
    skip "perf did not start counting: $(tail -q -n 2 "$CASE_DIR"/perf-*.log 2>/dev/null | tr '\n' ' ' | cut -c1-300)"
    stop_server; return 0
  fi
  wrk_argv "$DURATION" "$url"
  wrk_t0=$(date +%s%N)
  timeout $((DURATION + 40)) "${WRK[@]}" >"$CASE_DIR/wrk.txt" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || notes+=("wrk exited with $?")
  wrk_t1=$(date +%s%N)
  WRK_PID=""
  : >"$STOP_FILE"
  for pid in "${PERF_PIDS[@]}"; do
    wait "$pid" || notes+=("perf exited with $? (see $CASE_DIR/perf-*.log)")
  done
  PERF_PIDS=()
  is_running "$SERVER_PID" || notes+=("the server exited during the run (see $CASE_DIR/server.log)")
  stop_server
  [[ $SRV == gowsgi ]] && args+=(--total)
  for s in "${notes[@]+"${notes[@]}"}"; do args+=(--note "$s"); done
  "${REPORT[@]}" case --out "$CASES" --scenario "$SC" --server "$SRV" --wrk "$CASE_DIR/wrk.txt" \
    --wrk-start-ns "$wrk_t0" --wrk-end-ns "$wrk_t1" "${args[@]}" 2>"$CASE_DIR/report.err" \
    || skip "its record could not be made: $(tail -n 1 "$CASE_DIR/report.err")"
  log "    $(grep -m1 'Requests/sec' "$CASE_DIR/wrk.txt" || echo 'no wrk result')"
}

N_CASES=$((${#SCENARIOS[@]} * ${#SERVERS[@]}))
log "cost run $TS: ${#SCENARIOS[@]} scenarios x ${#SERVERS[@]} servers, ${DURATION}s each (about $((N_CASES * (DURATION + WARMUP + 3))) s); raw output in $RAW"
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for SC in "${SCENARIOS[@]}"; do
  for SRV in "${SERVERS[@]}"; do
    run_case "$SC" "$SRV"
  done
done

"${REPORT[@]}" table "$CASES" --md "$MD" \
  --meta "started=$STARTED" \
  --meta "settings=wrk -t1 -c$CONNS -d${DURATION}s after a ${WARMUP}s warm-up; one worker; python $PY" \
  --meta "gowsgi=${GOWSGI_VERSION:-not run}" \
  --meta "machine=$(nproc) CPUs, $(uname -sr), $(perf --version 2>/dev/null)"
log "table written to $MD"

#!/usr/bin/env bash
# bench/run.sh: gowsgi against its peers (wsgiref, gunicorn sync/gthread/gevent,
# uWSGI, waitress), side by side, in one run on 127.0.0.1. See bench/README.md.
#
#   bench/run.sh                     # the default suite (about 18 minutes)
#   BENCH_ONLY=hello BENCH_SERVERS=gowsgi,uwsgi bench/run.sh --workers-sets 1
#   bench/run.sh --list              # print the plan and its estimated time only
#
# Options (each also an environment variable):
#   --duration S        BENCH_DURATION      seconds per wrk run (10)
#   --repeat R          BENCH_REPEAT        wrk runs per case (2)
#   --only a,b          BENCH_ONLY          scenarios (default: all)
#   --servers x,y       BENCH_SERVERS       servers (default: every available one)
#   --workers-sets "1 N" BENCH_WORKERS_SETS worker counts ("N" = nproc); every
#                                           selected scenario runs at each; when
#                                           not given, the default matrix applies
#   --full              BENCH_MATRIX=full   every scenario at workers 1 and N
#   --publish / --no-publish  BENCH_PUBLISH  write bench/RESULTS.md and
#                       bench/results.json (default: only for an unfiltered run)
#   --no-install        BENCH_NO_INSTALL=1  do not apt-get missing packages
#   --no-build          BENCH_NO_BUILD=1    use bench/.bin/gowsgi as it is
#   --list              BENCH_LIST=1        print the plan, run nothing
# Tunables: BENCH_BJOERN_PATH (a directory with a built bjoern, put on the
#   Python path; default bench/.bjoern when bjoern imports from there; without
#   an importable bjoern it is skipped with a note),
#   BENCH_WRK_THREADS (nproc), BENCH_WRK_TIMEOUT (5 s),
#   BENCH_GOWSGI_THREADS (1: threads per gowsgi worker outside the sleep
#   scenarios), BENCH_GOWSGI_IO_THREADS (64: in the sleep scenarios), BENCH_UWSGI_SOCKET (http11-socket), BENCH_START_TIMEOUT (30 s),
#   BENCH_STOP_TIMEOUT (10 s), BENCH_PYTHON (/usr/bin/python3).
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
APPS=$BENCH_DIR/apps
TOOLS=$BENCH_DIR/tools
PY=${BENCH_PYTHON:-/usr/bin/python3}
MEASURE=("$PY" "$TOOLS/measure.py")
NPROC=$(nproc)

DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-2}
ONLY=${BENCH_ONLY:-}
SERVERS_ARG=${BENCH_SERVERS:-}
WORKERS_SETS=${BENCH_WORKERS_SETS:-}
MATRIX=${BENCH_MATRIX:-default}
PUBLISH=${BENCH_PUBLISH:-auto}
NO_INSTALL=${BENCH_NO_INSTALL:-0}
NO_BUILD=${BENCH_NO_BUILD:-0}
LIST=${BENCH_LIST:-0}
WRK_THREADS=${BENCH_WRK_THREADS:-$NPROC}
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-5}
GOWSGI_THREADS=${BENCH_GOWSGI_THREADS:-1}
GOWSGI_IO_THREADS=${BENCH_GOWSGI_IO_THREADS:-64}
UWSGI_SOCKET=${BENCH_UWSGI_SOCKET:-http11-socket}
START_TIMEOUT=${BENCH_START_TIMEOUT:-30}
STOP_TIMEOUT=${BENCH_STOP_TIMEOUT:-10}
BJOERN_PATH=${BENCH_BJOERN_PATH:-}

usage() { sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --duration) DURATION=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --servers) SERVERS_ARG=$2; shift ;;
    --workers-sets) WORKERS_SETS=$2; shift ;;
    --full) MATRIX=full ;;
    --publish) PUBLISH=1 ;;
    --no-publish) PUBLISH=0 ;;
    --no-install) NO_INSTALL=1 ;;
    --no-build) NO_BUILD=1 ;;
    --list) LIST=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || { echo "run.sh: bad duration '$DURATION'" >&2; exit 2; }
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || { echo "run.sh: bad repeat '$REPEAT'" >&2; exit 2; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ------------------------------------------------------------ the matrix ----
ALL_SERVERS=(gowsgi wsgiref gunicorn-sync gunicorn-gthread gunicorn-gevent uwsgi waitress bjoern)
ALL_SCENARIOS=(playground hello big1m echo64k sleep-c50 sleep-c500 flask slowclients)
SINGLE_PROCESS=" wsgiref waitress bjoern "   # no multi-process mode: run at workers=1 only

declare -A S_APP S_PATH S_CONNS S_LUA S_MODE S_BODY
# name         app            path  conns mode wrk-script                   warm-up POST bytes
# (mode io = the threaded servers get 64 threads; descriptions: tools/report.py)
scenario() { S_APP[$1]=$2; S_PATH[$1]=$3; S_CONNS[$1]=$4; S_MODE[$1]=$5; S_LUA[$1]=$6; S_BODY[$1]=$7; }
scenario playground  playground:app /     50  cpu  ""                           0
scenario hello       hello:app      /     50  cpu  ""                           0
scenario big1m       big:app        /     50  cpu  ""                           0
scenario echo64k     echo:app       /     50  cpu  "$BENCH_DIR/lua/post64k.lua" 65536
scenario sleep-c50   sleep:app      /     50  io   ""                           0
scenario sleep-c500  sleep:app      /     500 io   ""                           0
scenario flask       flask_app:app  /json 50  cpu  ""                           0
scenario slowclients hello:app      /     50  cpu  ""                           0

# Default matrix (fits in under 20 minutes at 10 s x 2 on a 2-core machine,
# see README "How long it takes"): which servers run each scenario at
# workers=1 and at workers=N. gunicorn-gevent is there where concurrency is
# the point (and in hello, the "without" of slowclients); wsgiref, the seed
# tutorial's server, runs the seed's playground app.
PROD="gowsgi gunicorn-sync gunicorn-gthread uwsgi waitress bjoern"
declare -A DM1 DMN
DM1[playground]="$PROD wsgiref"
DM1[hello]="$PROD gunicorn-gevent";   DMN[hello]="gowsgi gunicorn-sync"
DM1[big1m]="$PROD"
DM1[echo64k]="$PROD"
DM1[flask]="$PROD"
DM1[sleep-c50]="$PROD gunicorn-gevent"
DM1[sleep-c500]="$PROD gunicorn-gevent"
DM1[slowclients]="$PROD gunicorn-gevent"

in_default_matrix() { # scenario workers-label server
  local list
  if [[ $2 == 1 ]]; then list=${DM1[$1]:-}; else list=${DMN[$1]:-}; fi
  [[ " $list " == *" $3 "* ]]
}

split_list() { tr ',' ' ' <<<"$1"; }
contains() { local x=$1; shift; local y; for y in "$@"; do [[ $x == "$y" ]] && return 0; done; return 1; }

SCENARIOS=("${ALL_SCENARIOS[@]}")
if [[ -n $ONLY ]]; then
  SCENARIOS=()
  for s in $(split_list "$ONLY"); do
    contains "$s" "${ALL_SCENARIOS[@]}" || { echo "run.sh: unknown scenario '$s' (${ALL_SCENARIOS[*]})" >&2; exit 2; }
    SCENARIOS+=("$s")
  done
fi
SERVERS=("${ALL_SERVERS[@]}")
if [[ -n $SERVERS_ARG ]]; then
  SERVERS=()
  for s in $(split_list "$SERVERS_ARG"); do
    contains "$s" "${ALL_SERVERS[@]}" || { echo "run.sh: unknown server '$s' (${ALL_SERVERS[*]})" >&2; exit 2; }
    SERVERS+=("$s")
  done
fi
# Naming servers or worker sets means "exactly these": every selected
# scenario x server x workers set ("1 N" unless given).
if [[ -n $WORKERS_SETS || -n $SERVERS_ARG ]] && [[ $MATRIX == default ]]; then MATRIX=explicit; fi
WORKERS_SETS=${WORKERS_SETS:-"1 N"}
WSETS=()   # "label:count", deduplicated (N = nproc may be 1)
for w in $WORKERS_SETS; do
  if [[ $w == N ]]; then n=$NPROC; else n=$w; fi
  [[ $n =~ ^[0-9]+$ && $n -ge 1 ]] || { echo "run.sh: bad workers set '$w'" >&2; exit 2; }
  dup=0; for e in "${WSETS[@]+"${WSETS[@]}"}"; do [[ ${e#*:} == "$n" ]] && dup=1; done
  ((dup)) || WSETS+=("$w:$n")
done
FILTERED=0
[[ -n $ONLY || -n $SERVERS_ARG || $MATRIX == explicit || $DURATION != 10 || $REPEAT != 2 ]] && FILTERED=1
if [[ $PUBLISH == auto ]]; then ((FILTERED)) && PUBLISH=0 || PUBLISH=1; fi

# The plan: "scenario workers-label workers server" lines.
PLAN=()
for ws in "${WSETS[@]}"; do
  wl=${ws%%:*}; wn=${ws#*:}
  for sc in "${SCENARIOS[@]}"; do
    for srv in "${SERVERS[@]}"; do
      if ((wn > 1)) && [[ $SINGLE_PROCESS == *" $srv "* ]]; then continue; fi
      if [[ $MATRIX == default ]] && ! in_default_matrix "$sc" "$wl" "$srv"; then continue; fi
      PLAN+=("$sc $wl $wn $srv")
    done
  done
done

estimate_s() { # measured on 2 cores: a wrk run takes ~0.1 s more than its
  # duration; a case ~1.2 s more (start, warm-up, stop); the slow clients ~2 s
  # to set up; the build and the report ~30 s
  local n=${#PLAN[@]} slow=0 p
  for p in "${PLAN[@]+"${PLAN[@]}"}"; do [[ $p == slowclients* ]] && slow=$((slow + 1)); done
  echo $(((n * (REPEAT * (10 * DURATION + 1) + 12) + slow * 20) / 10 + 30))
}

if ((LIST)); then
  printf '%s\n' "${PLAN[@]+"${PLAN[@]}"}" | awk '{printf "%-12s workers=%-3s %s\n", $1, $3, $4}'
  est=$(estimate_s)
  echo "${#PLAN[@]} cases x ${REPEAT} x ${DURATION}s; estimated $((est / 60)) min $((est % 60)) s (matrix: $MATRIX)"
  exit 0
fi
((${#PLAN[@]})) || { echo "run.sh: nothing to run with these filters" >&2; exit 2; }

# ----------------------------------------------------- processes we own ----
SERVER_PID=""
SLOW_PID=""
MEASURE_PID=""

is_running() { # a PID that exists and is not a zombie
  local st
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# stop_pid PID BOUND: SIGTERM, wait up to BOUND seconds, then SIGKILL; reap.
# Echoes "term" or "kill".
stop_pid() {
  local pid=$1 bound=$2 i how=term
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < bound * 10; i++)); do is_running "$pid" || break; sleep 0.1; done
  if is_running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; how=kill; fi
  wait "$pid" 2>/dev/null || true
  echo "$how"
}

STOP_HOW=""; LEFTOVERS=""; STOP_S=""
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  local pid=$SERVER_PID snap t0
  snap=${CASE_PREFIX:-/tmp/gowsgi-bench-$$}.tree
  "${MEASURE[@]}" snapshot "$pid" >"$snap" 2>/dev/null || : >"$snap"
  t0=$(date +%s%N)
  STOP_HOW=$(stop_pid "$pid" "$STOP_TIMEOUT")
  STOP_S=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.2f", (b-a)/1e9}')
  # workers the server left behind (only members of its own tree, matched
  # by start time): a graceful server leaves none
  LEFTOVERS=$("${MEASURE[@]}" reap "$snap" --grace 3 2>/dev/null || echo "?")
  SERVER_PID=""
}
stop_slow() {
  [[ -n $SLOW_PID ]] || return 0
  stop_pid "$SLOW_PID" 5 >/dev/null
  SLOW_PID=""
}
stop_measure() {
  [[ -n $MEASURE_PID ]] || return 0
  stop_pid "$MEASURE_PID" 5 >/dev/null
  MEASURE_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_measure; stop_slow; stop_server
  exit "$rc"
}
trap cleanup EXIT
trap 'log "error: line $LINENO: $BASH_COMMAND (exit $?)"' ERR
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM HUP

# -------------------------------------------------------------- install ----
DEBS=(wrk gunicorn python3-gunicorn uwsgi uwsgi-plugin-python3 python3-waitress python3-flask python3-gevent)
install_missing() {
  local missing=() p i
  for p in "${DEBS[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || { log "packages: all installed"; return 0; }
  if ((NO_INSTALL)); then log "packages missing (not installing): ${missing[*]}"; return 0; fi
  local SUDO=()
  if ((EUID != 0)); then
    if sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
      log "packages missing and not root: ${missing[*]}"; return 0; fi
  fi
  for ((i = 0; i < 180; i++)); do   # another apt-get/dpkg may hold the lock: wait up to 15 min
    pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || break
    ((i % 12 == 0)) && log "waiting for another apt-get/dpkg to finish"
    sleep 5
  done
  log "installing: ${missing[*]}"
  if ! "${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y "${missing[@]}" >"$RAW/apt.log" 2>&1; then
    "${SUDO[@]+"${SUDO[@]}"}" timeout 600 apt-get update >>"$RAW/apt.log" 2>&1 || true
    "${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y "${missing[@]}" >>"$RAW/apt.log" 2>&1 \
      || log "apt-get install failed (see $RAW/apt.log); going on with what is installed"
  fi
}

# ---------------------------------------------------------- availability ----
declare -A UNAVAILABLE    # server -> reason
py_has() { timeout 30 "$PY" -c "import $1" >/dev/null 2>&1; }
# bjoern_in DIR: bjoern imports with PYTHONPATH=DIR (DIR "" = the Python path)
bjoern_in() { [[ -z $1 || -d $1 ]] && (cd / && PYTHONPATH=$1 timeout 20 "$PY" -c 'import bjoern') >/dev/null 2>&1; }
check_servers() {
  py_has gunicorn || { UNAVAILABLE[gunicorn-sync]="python3-gunicorn not importable"
    UNAVAILABLE[gunicorn-gthread]=${UNAVAILABLE[gunicorn-sync]}; UNAVAILABLE[gunicorn-gevent]=${UNAVAILABLE[gunicorn-sync]}; }
  py_has gevent || UNAVAILABLE[gunicorn-gevent]=${UNAVAILABLE[gunicorn-gevent]:-"python3-gevent not importable"}
  if ! command -v uwsgi >/dev/null; then UNAVAILABLE[uwsgi]="uwsgi not installed"
  elif ! timeout 20 uwsgi --plugin python3 --version >/dev/null 2>&1; then UNAVAILABLE[uwsgi]="uwsgi python3 plugin not loadable"; fi
  py_has waitress || UNAVAILABLE[waitress]="python3-waitress not importable"
  py_has wsgiref.simple_server || UNAVAILABLE[wsgiref]="wsgiref not importable"
  # bjoern (C, libev) is not packaged in Debian; it runs when it is importable,
  # from BENCH_BJOERN_PATH (a directory holding a built bjoern; default
  # bench/.bjoern when it imports from there) or the Python path
  # (bench/README.md).
  if [[ -n $BJOERN_PATH && -d $BJOERN_PATH ]]; then BJOERN_PATH=$(cd "$BJOERN_PATH" && pwd); fi  # servers run in apps/
  if [[ -z $BJOERN_PATH ]] && bjoern_in "$BENCH_DIR/.bjoern"; then BJOERN_PATH=$BENCH_DIR/.bjoern; fi
  if ! bjoern_in "$BJOERN_PATH"; then
    UNAVAILABLE[bjoern]="bjoern not importable (build it into bench/.bjoern, or set BENCH_BJOERN_PATH to a directory where it is built; see bench/README.md)"
  fi
}
GOWSGI_BIN=$BENCH_DIR/.bin/gowsgi
GOWSGI_VERSION="not available"
build_gowsgi() {
  contains gowsgi "${SERVERS[@]}" || return 0
  mkdir -p "$BENCH_DIR/.bin"
  if ((NO_BUILD)); then
    log "gowsgi: not building (using $GOWSGI_BIN as it is)"
  elif ! command -v go >/dev/null; then
    UNAVAILABLE[gowsgi]="go not found"; return 0
  else
    log "gowsgi: go build ./cmd/gowsgi"
    if ! (cd "$ROOT" && timeout 600 go build -o "$GOWSGI_BIN" ./cmd/gowsgi) >"$RAW/gowsgi-build.log" 2>&1; then
      UNAVAILABLE[gowsgi]="does not build: $(tail -n 3 "$RAW/gowsgi-build.log" | tr '\n' ' ' | cut -c1-300)"
      log "gowsgi: not available (build failed, see $RAW/gowsgi-build.log)"; return 0
    fi
  fi
  [[ -x $GOWSGI_BIN ]] || { UNAVAILABLE[gowsgi]="no binary at $GOWSGI_BIN"; return 0; }
  local v sha
  sha=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo "no commit")
  if v=$(timeout 5 "$GOWSGI_BIN" --version 2>&1 | head -n 1) && [[ -n $v && $v != *[Uu]sage* && $v != *rror* ]]; then
    GOWSGI_VERSION="$v (git $sha)"
  else
    GOWSGI_VERSION="dev build (git $sha)"
  fi
}

# ---------------------------------------------------------- server argv ----
# server_cmd SERVER WORKERS MODE MODULE PORT: sets CMD (argv) and CONC (its
# per-process concurrency, for the tables). Every server runs with cwd=apps/.
server_cmd() {
  local srv=$1 w=$2 mode=$3 mod=$4 port=$5 t
  case $srv in
    gowsgi)
      t=$GOWSGI_THREADS; [[ $mode == io ]] && t=$GOWSGI_IO_THREADS
      CMD=("$GOWSGI_BIN" "$mod" --chdir "$APPS" --python "$PY" -b "127.0.0.1:$port"
           -w "$w" --threads "$t" --no-access-log)
      CONC="$t thread"; if ((t > 1)); then CONC+=s; fi ;;
    bjoern)
      CMD=(env "PYTHONPATH=$BJOERN_PATH" "$PY" "$TOOLS/bjoern_serve.py" --chdir "$APPS" --bind "127.0.0.1:$port" "$mod")
      CONC="1 (libev, one process)" ;;
    wsgiref)
      CMD=("$PY" "$TOOLS/wsgiref_serve.py" --chdir "$APPS" --bind "127.0.0.1:$port" "$mod")
      CONC="1 (HTTP/1.0)" ;;
    gunicorn-sync)
      CMD=("$PY" -m gunicorn --chdir "$APPS" -b "127.0.0.1:$port" -w "$w" -k sync
           --log-level warning "$mod")
      CONC="1" ;;
    gunicorn-gthread)
      t=8; [[ $mode == io ]] && t=64
      CMD=("$PY" -m gunicorn --chdir "$APPS" -b "127.0.0.1:$port" -w "$w" -k gthread
           --threads "$t" --log-level warning "$mod")
      CONC="$t threads" ;;
    gunicorn-gevent)
      CMD=("$PY" -m gunicorn --chdir "$APPS" -b "127.0.0.1:$port" -w "$w" -k gevent
           --log-level warning "$mod")
      CONC="1000 greenlets" ;;
    uwsgi)
      CMD=(uwsgi --plugin python3 "--$UWSGI_SOCKET" "127.0.0.1:$port" --master
           --processes "$w" --disable-logging --die-on-term --need-app --listen 1024
           --chdir "$APPS" --module "$mod")
      CONC="1"
      if [[ $mode == io ]]; then CMD+=(--threads 64); CONC="64 threads"; fi ;;
    waitress)
      CMD=("$PY" -m waitress --listen="127.0.0.1:$port")
      CONC="4 threads"
      if [[ $mode == io ]]; then CMD+=(--threads=64); CONC="64 threads"; fi
      CMD+=("$mod") ;;
  esac
}

# ----------------------------------------------------------------- cases ----
TS=$(date +%Y%m%d-%H%M%S)
RAW=$BENCH_DIR/raw/$TS
mkdir -p "$RAW"
RESULTS=$RAW/results.jsonl
: >"$RESULTS"

# 500 + 200 slow clients + 500 wrk connections need file descriptors
nofile=$(ulimit -n)
if [[ $nofile =~ ^[0-9]+$ ]] && ((nofile < 8192)); then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 8192 2>/dev/null || true
  nofile=$(ulimit -n)
  [[ $nofile =~ ^[0-9]+$ ]] && ((nofile < 2048)) && log "warning: ulimit -n is $nofile; the 500-connection cases may fail"
fi

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
START_EPOCH=$(date +%s)
log "run $TS: ${#PLAN[@]} cases, ${REPEAT} x ${DURATION}s each, estimated $(($(estimate_s) / 60)) min; raw output in $RAW"
install_missing
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed" >&2; exit 1; }
check_servers
build_gowsgi
"${MEASURE[@]}" meta --python "$PY" --gowsgi-version "$GOWSGI_VERSION" >"$RAW/meta.json"
FLASK_OK=1; py_has flask || FLASK_OK=0

# note KEY=VALUE...: append a case record to results.jsonl
note() { "${MEASURE[@]}" note --append "$RESULTS" "$@"; }

# run_wrk TAG...: one measured wrk run against $SERVER_PID (measure.py in the
# background so a signal reaches the trap at once)
run_wrk() { # variant repeat
  local variant=$1 r=$2 base url rc=0
  base=$CASE_PREFIX-$variant-r$r
  url="http://127.0.0.1:$PORT${S_PATH[$SC]}"
  WRK=(wrk --latency -t "$WT" -c "${S_CONNS[$SC]}" -d "${DURATION}s" --timeout "${WRK_TIMEOUT}s")
  [[ -n ${S_LUA[$SC]} ]] && WRK+=(-s "${S_LUA[$SC]}")
  WRK+=("$url")
  "${MEASURE[@]}" run --pid "$SERVER_PID" --wrk-out "$base.wrk.txt" --json-out "$base.json" \
    --limit $((DURATION + 60)) --append "$RESULTS" \
    --tag "scenario=$SC" --tag "server=$SRV" --tag "workers=$WN" --tag "workers_set=$WL" \
    --tag "variant=$variant" --tag "repeat=$r" --tag "concurrency=$CONC" \
    -- "${WRK[@]}" >"$base.summary" 2>&1 &
  MEASURE_PID=$!
  wait "$MEASURE_PID" || rc=$?
  MEASURE_PID=""
  log "    $variant r$r: $(tail -n 1 "$base.summary")"
  return "$rc"
}

start_slow() {
  local ready=$CASE_PREFIX-slow.ready i
  rm -f "$ready"
  "$PY" "$TOOLS/slowclients.py" --port "$PORT" --idle 500 --slow 200 --interval 3 \
    --setup-timeout 15 --max-seconds $((REPEAT * (DURATION + 30) + 60)) \
    --ready-file "$ready" --stats-file "$CASE_PREFIX-slow.stats.json" \
    >"$CASE_PREFIX-slow.log" 2>&1 &
  SLOW_PID=$!
  for ((i = 0; i < 250; i++)); do   # setup is bounded by 15 s; wait up to 25 s
    [[ -s $ready ]] && break
    is_running "$SLOW_PID" || break
    sleep 0.1
  done
  if [[ -s $ready ]]; then log "    slow clients: $(cat "$ready")"; return 0; fi
  log "    slow clients did not get ready (see $CASE_PREFIX-slow.log)"
  return 1
}

declare -A START_FAILS
run_case() { # scenario workers-label workers server
  SC=$1; WL=$2; WN=$3; SRV=$4
  local mode=${S_MODE[$SC]} mod=${S_APP[$SC]} status=ok reason="" warm="" rc r
  CASE_PREFIX=$RAW/$SC/$SRV-w$WN
  mkdir -p "$RAW/$SC"
  WT=$WRK_THREADS; ((WT > ${S_CONNS[$SC]})) && WT=${S_CONNS[$SC]}
  STOP_HOW=""; LEFTOVERS=""; STOP_S=""
  local case_t0; case_t0=$(date +%s%N)
  local tags=(--tag "scenario=$SC" --tag "server=$SRV" --tag "workers=$WN" --tag "workers_set=$WL")

  if [[ -n ${UNAVAILABLE[$SRV]:-} ]]; then
    note "${tags[@]}" --tag status=unavailable --tag "reason=${UNAVAILABLE[$SRV]}"; return 0
  fi
  if [[ $SC == flask ]] && ((!FLASK_OK)); then
    note "${tags[@]}" --tag status=unavailable --tag "reason=python3-flask not importable"; return 0
  fi
  PORT=$("${MEASURE[@]}" freeport)
  server_cmd "$SRV" "$WN" "$mode" "$mod" "$PORT"
  printf '%s\0' "${CMD[@]}" >"$CASE_PREFIX.cmd"
  log "$SC  $SRV  workers=$WN  port=$PORT"
  (cd "$APPS" && exec "${CMD[@]}") >"$CASE_PREFIX.server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  rc=0
  warm=$("${MEASURE[@]}" ready --port "$PORT" --pid "$SERVER_PID" --timeout "$START_TIMEOUT" \
         --path "${S_PATH[$SC]}" --body-size "${S_BODY[$SC]}" 2>&1) || rc=$?
  if ((rc == 1 || rc == 2)); then
    status=start_failed
    reason="$warm; server log: $(tail -n 5 "$CASE_PREFIX.server.log" | tr '\n' ' ' | cut -c1-400)"
    log "    did not start: $reason"
    START_FAILS[$SRV]=$((${START_FAILS[$SRV]:-0} + 1))
    if ((${START_FAILS[$SRV]} >= 2)); then UNAVAILABLE[$SRV]="failed to start twice; last: $reason"; fi
  else
    START_FAILS[$SRV]=0
    ((rc == 3)) && { status=warmup_problem; log "    $warm"; }
    local hello_ok=0
    if [[ $SC == slowclients ]]; then
      # "without" = the hello case of this run (same server, same workers);
      # when hello was filtered out, measure it here first.
      "${MEASURE[@]}" has-case --results "$RESULTS" --scenario hello --server "$SRV" --workers "$WN" && hello_ok=1
      if ((!hello_ok)); then
        for ((r = 1; r <= REPEAT; r++)); do run_wrk baseline "$r" || break; done
      fi
      if ! start_slow; then status=slow_clients_failed; reason="slow clients did not get ready"; fi
    fi
    if [[ $status != slow_clients_failed ]]; then
      for ((r = 1; r <= REPEAT; r++)); do
        run_wrk main "$r" || { status=measure_failed; reason="measure.py failed (see $CASE_PREFIX-main-r$r.summary)"; break; }
      done
    fi
    stop_slow
  fi
  stop_server
  local extra=()
  [[ -s $CASE_PREFIX-slow.stats.json ]] && extra+=(--json "slowclients=$CASE_PREFIX-slow.stats.json")
  note "${tags[@]}" --tag "status=$status" --tag "reason=$reason" --tag "warmup=$warm" \
    --tag "concurrency=${CONC:-}" --tag "port=$PORT" --tag "stop=$STOP_HOW" \
    --tag "stop_s=$STOP_S" --tag "leftover_procs=$LEFTOVERS" \
    --tag "case_s=$(awk -v a="$case_t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.2f", (b-a)/1e9}')" \
    --cmd-file "$CASE_PREFIX.cmd" "${extra[@]+"${extra[@]}"}"
  [[ -n $LEFTOVERS && $LEFTOVERS != 0 ]] && log "    note: $LEFTOVERS process(es) of its tree outlived the server; killed"
  [[ $STOP_HOW == kill ]] && log "    note: needed SIGKILL after ${STOP_TIMEOUT}s"
  return 0
}

for p in "${PLAN[@]}"; do
  # shellcheck disable=SC2086
  run_case $p
done

FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ELAPSED=$(($(date +%s) - START_EPOCH))
log "all cases done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s; writing the report"
REPORT=("$PY" "$TOOLS/report.py" --run-dir "$RAW" --bench-dir "$BENCH_DIR" --root "$ROOT"
  --duration "$DURATION" --repeat "$REPEAT" --matrix "$MATRIX" --workers-sets "${WSETS[*]}"
  --only "$ONLY" --servers "$SERVERS_ARG" --started "$STARTED" --finished "$FINISHED"
  --elapsed "$ELAPSED" --wrk-threads "$WRK_THREADS" --wrk-timeout "$WRK_TIMEOUT")
"${REPORT[@]}" --out-md "$RAW/RESULTS.md" --out-json "$RAW/results.json" --notes-from "$BENCH_DIR/RESULTS.md"
if ((PUBLISH)); then
  cp "$RAW/RESULTS.md" "$BENCH_DIR/RESULTS.md"
  cp "$RAW/results.json" "$BENCH_DIR/results.json"
  log "wrote bench/RESULTS.md and bench/results.json"
else
  log "filtered run: report in $RAW/RESULTS.md (bench/RESULTS.md left as it is; --publish to replace it)"
fi
"$PY" "$TOOLS/report.py" --print-tables "$RAW/results.json"

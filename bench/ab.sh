#!/usr/bin/env bash
# bench/ab.sh: gowsgi at two git revisions, side by side in one run, so a
# change is judged by a ratio measured under the same machine load.
#
#   bench/ab.sh 7d6e4c5 HEAD                 # hello and playground, 1 worker
#   AB_SCENARIOS="hello echo64k" AB_ROUNDS=6 bench/ab.sh A B
#
# Each round runs every scenario against A then B (the order alternates
# between rounds), wrk -t1 -c50 for AB_DURATION seconds (default 5) after a
# 1 s warm-up; it prints the median requests/s of each and B/A, and the
# median server CPU per request (utime+stime of the front and its workers
# from /proc, µs per completed request), steadier than req/s on a busy VM.
# Tunables: AB_ROUNDS (5), AB_DURATION (5), AB_WORKERS (1), AB_THREADS (1),
#   AB_CONNS (50), AB_ARGS_A / AB_ARGS_B (extra gowsgi options for A or B,
#   e.g. a feature switched off), AB_ACCESS_LOG_A / AB_ACCESS_LOG_B (1: that
#   side writes its access log to a file, as by default, instead of
#   --no-access-log), AB_ENV_A / AB_ENV_B (environment assignments for that
#   side's server, e.g. "GOMAXPROCS=2"), BENCH_PYTHON (/usr/bin/python3).
#
# AB_METRIC=instructions counts instructions instead, which the machine's
# load does not move: each side runs under valgrind (callgrind, the front
# and its workers), gets AB_REQUESTS (2000) requests after a warm-up, from
# tools/fixedload.py over AB_CONNS connections (1 in this mode: one request
# at a time takes the same path every time, so the count repeats to within
# about 1%), and the counters are zeroed before and read after them. It
# prints the median instructions per request of the front, the workers and
# both, A against B. User-space instructions only: system calls count as
# the few instructions that make them, not the kernel's work. The front
# runs with GOGC=off (a collection that falls inside or outside the
# measured requests would move the count by 20%): allocation is counted,
# collection is not. The worker's main thread looks for held responses
# every second instead of every 5 ms (GOWSGI_TEST_HOLD_CHECK=1): one
# connection never has a response held, and under valgrind those wake-ups
# would add work in proportion to how slowly the requests go, not to their
# number. The access log's writer gathers lines for 500 ms instead of 10
# (GOWSGI_TEST_ACCESS_LOG_WAIT), for the same reason: at valgrind's pace
# that wakes it about as often per request as 10 ms does at full speed.
# AB_CALLGRIND_DIR=DIR keeps each run's callgrind files
# there (DIR/ROUND-SCENARIO-SIDE/PID.N) for callgrind_annotate.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
ROUNDS=${AB_ROUNDS:-5}
DURATION=${AB_DURATION:-5}
WORKERS=${AB_WORKERS:-1}
THREADS=${AB_THREADS:-1}
METRIC=${AB_METRIC:-cpu}
REQUESTS=${AB_REQUESTS:-2000}
case $METRIC in
  cpu) CONNS=${AB_CONNS:-50} ;;
  instructions) CONNS=${AB_CONNS:-1} ;;
  *) echo "ab.sh: AB_METRIC=$METRIC: expected cpu or instructions" >&2; exit 2 ;;
esac
SCENARIOS=(${AB_SCENARIOS:-hello playground})
(($# == 2)) || { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
if [[ $METRIC == instructions ]]; then
  command -v valgrind >/dev/null && command -v vgdb >/dev/null ||
    { echo "ab.sh: AB_METRIC=instructions needs valgrind (apt-get install valgrind)" >&2; exit 1; }
else
  command -v wrk >/dev/null || { echo "ab.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
fi

declare -A APP PATH_OF LUA
APP[hello]=hello:app;           PATH_OF[hello]=/
APP[playground]=playground:app; PATH_OF[playground]=/
APP[echo64k]=echo:app;          PATH_OF[echo64k]=/; LUA[echo64k]=$BENCH_DIR/lua/post64k.lua
APP[big1m]=big:app;             PATH_OF[big1m]=/
APP[flask]=flask_app:app;       PATH_OF[flask]=/json

WORK=$(mktemp -d)
trap 'kill -KILL $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
build() { # rev name
  local built
  built=$("$BENCH_DIR/tools/build_rev.sh" "$1" "$WORK/gowsgi-$2")
  echo "$2 = $built"
}
build "$1" A
build "$2" B

PORT=$((20000 + RANDOM % 20000))
SRV=""
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of $SRV and its children
  local p t=0
  for p in $SRV $(pgrep -P "$SRV"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}
run() { # bin scenario extra-args log env -> prints "req/s cpu-µs/req"
  local bin=$1 sc=$2 out c0 c1
  local extra=($3) log=(--no-access-log) env=($5)
  [[ $4 == 1 ]] && log=(--access-log "$WORK/access.log")
  env "${env[@]}" "$bin" "${APP[$sc]}" "${extra[@]}" --chdir "$BENCH_DIR/apps" --python "$PY" -b "127.0.0.1:$PORT" \
    -w "$WORKERS" --threads "$THREADS" "${log[@]}" --log-level warning >"$WORK/srv.log" 2>&1 &
  SRV=$!
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
  done
  local lua=(); [[ -n ${LUA[$sc]:-} ]] && lua=(-s "${LUA[$sc]}")
  wrk -t1 -c"$CONNS" -d1s "${lua[@]}" "http://127.0.0.1:$PORT${PATH_OF[$sc]}" >/dev/null
  c0=$(cpu_ticks)
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${lua[@]}" "http://127.0.0.1:$PORT${PATH_OF[$sc]}")
  c1=$(cpu_ticks)
  kill -TERM "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=""
  rm -f "$WORK/access.log"
  awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" '/requests in/ {n=$1} /Requests\/sec/ {r=$2} END {printf "%s %.2f\n", r, c / hz * 1e6 / n}' <<<"$out"
}

# run_instr: like run, under valgrind; prints "front worker" instructions per
# request. Go's asynchronous preemption signals trip callgrind's signal
# bookkeeping, so they are off (GODEBUG=asyncpreemptoff=1; goroutines are
# still preempted at function calls); the server is killed with SIGKILL
# for the same reason, once the counts are written. The workers' processes
# set their titles, so callgrind_control does not know them: vgdb speaks to
# each by its PID.
run_instr() { # bin scenario extra-args log env label
  local bin=$1 sc=$2 p f front=0 worker=0 cg=$WORK/cg
  local extra=($3) log=(--no-access-log) env=($5)
  [[ $4 == 1 ]] && log=(--access-log "$WORK/access.log")
  [[ -z ${LUA[$sc]:-} ]] || { echo "ab.sh: AB_METRIC=instructions sends GETs only; $sc needs a body" >&2; exit 2; }
  rm -rf "$cg"; mkdir "$cg"
  env GODEBUG=asyncpreemptoff=1 GOGC=off GOWSGI_TEST_HOLD_CHECK=1 GOWSGI_TEST_ACCESS_LOG_WAIT=500ms PYTHONHASHSEED=0 "${env[@]}" valgrind --tool=callgrind --trace-children=yes \
    --callgrind-out-file="$cg/%p" "$bin" "${APP[$sc]}" "${extra[@]}" --chdir "$BENCH_DIR/apps" --python "$PY" \
    -b "127.0.0.1:$PORT" -w "$WORKERS" --threads "$THREADS" "${log[@]}" --log-level warning >"$WORK/srv.log" 2>&1 &
  SRV=$!
  local load=("$PY" "$BENCH_DIR/tools/fixedload.py" --port "$PORT" --path "${PATH_OF[$sc]}")
  for _ in $(seq 240); do
    if "${load[@]}" -n 1 -c 1 --timeout 5 >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  "${load[@]}" -n 200 -c "$CONNS" >/dev/null # warm-up
  local front_pid=$SRV pids=($SRV $(pgrep -P "$SRV"))
  for p in "${pids[@]}"; do
    vgdb --pid="$p" zero >/dev/null 2>&1 || { echo "ab.sh: vgdb cannot zero pid $p's counters" >&2; exit 1; }
  done
  "${load[@]}" -n "$REQUESTS" -c "$CONNS" >"$WORK/load.out" || { cat "$WORK/load.out" "$WORK/srv.log" >&2; exit 1; }
  for p in "${pids[@]}"; do
    vgdb --pid="$p" dump >/dev/null 2>&1 || { echo "ab.sh: vgdb cannot dump pid $p's counters" >&2; exit 1; }
  done
  kill -KILL "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=""
  rm -f "$WORK/access.log"
  if [[ -n ${AB_CALLGRIND_DIR:-} ]]; then mkdir -p "$AB_CALLGRIND_DIR/$6" && cp "$cg"/* "$AB_CALLGRIND_DIR/$6/"; fi
  for p in "${pids[@]}"; do
    f=$(awk '/^summary:/ {print $2}' "$cg/$p".* 2>/dev/null | tail -n 1)
    [[ -n $f ]] || { echo "ab.sh: no callgrind dump for pid $p" >&2; exit 1; }
    if [[ $p == "$front_pid" ]]; then front=$f; else worker=$((worker + f)); fi
  done
  echo "$((front / REQUESTS)) $((worker / REQUESTS))"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

if [[ $METRIC == instructions ]]; then
  for sc in "${SCENARIOS[@]}"; do for v in A B; do : >"$WORK/$sc.front.$v"; : >"$WORK/$sc.worker.$v"; : >"$WORK/$sc.all.$v"; done; done
  for ((r = 1; r <= ROUNDS; r++)); do
    for sc in "${SCENARIOS[@]}"; do
      if ((r % 2)); then order=(A B); else order=(B A); fi
      for v in "${order[@]}"; do
        args=${AB_ARGS_A:-} log=${AB_ACCESS_LOG_A:-} envs=${AB_ENV_A:-}
        [[ $v == B ]] && args=${AB_ARGS_B:-} log=${AB_ACCESS_LOG_B:-} envs=${AB_ENV_B:-}
        read -r fr wk < <(run_instr "$WORK/gowsgi-$v" "$sc" "$args" "$log" "$envs" "$r-$sc-$v") || true
        [[ -n ${fr:-} && -n ${wk:-} ]] || { echo "ab.sh: $sc on $v gave no counts (see above)" >&2; exit 1; }
        echo "$fr" >>"$WORK/$sc.front.$v"; echo "$wk" >>"$WORK/$sc.worker.$v"; echo $((fr + wk)) >>"$WORK/$sc.all.$v"
        printf 'round %d %-10s %s front %s worker %s all %s instructions/req\n' "$r" "$sc" "$v" "$fr" "$wk" $((fr + wk)) >&2
      done
    done
  done
  printf '\n%-12s %-7s %12s %12s %8s\n' scenario process "A instr/req" "B instr/req" "B/A"
  for sc in "${SCENARIOS[@]}"; do
    for side in front worker all; do
      a=$(median <"$WORK/$sc.$side.A"); b=$(median <"$WORK/$sc.$side.B")
      printf '%-12s %-7s %12.0f %12.0f %8.4f\n' "$sc" "$side" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print (a > 0) ? b/a : 0}')"
    done
  done
  exit 0
fi

for sc in "${SCENARIOS[@]}"; do : >"$WORK/$sc.A"; : >"$WORK/$sc.B"; : >"$WORK/$sc.cpu.A"; : >"$WORK/$sc.cpu.B"; done
for ((r = 1; r <= ROUNDS; r++)); do
  for sc in "${SCENARIOS[@]}"; do
    if ((r % 2)); then order=(A B); else order=(B A); fi
    for v in "${order[@]}"; do
      args=${AB_ARGS_A:-} log=${AB_ACCESS_LOG_A:-} envs=${AB_ENV_A:-}
      [[ $v == B ]] && args=${AB_ARGS_B:-} log=${AB_ACCESS_LOG_B:-} envs=${AB_ENV_B:-}
      read -r rps cpu < <(run "$WORK/gowsgi-$v" "$sc" "$args" "$log" "$envs")
      echo "$rps" >>"$WORK/$sc.$v"
      echo "$cpu" >>"$WORK/$sc.cpu.$v"
      printf 'round %d %-10s %s %s req/s %s µs/req\n' "$r" "$sc" "$v" "$rps" "$cpu" >&2
    done
  done
done
printf '\n%-12s %12s %12s %8s %10s %10s %8s\n' scenario "A req/s" "B req/s" "B/A" "A µs/req" "B µs/req" "B/A"
for sc in "${SCENARIOS[@]}"; do
  a=$(median <"$WORK/$sc.A"); b=$(median <"$WORK/$sc.B")
  ca=$(median <"$WORK/$sc.cpu.A"); cb=$(median <"$WORK/$sc.cpu.B")
  printf '%-12s %12.0f %12.0f %8.3f %10.2f %10.2f %8.3f\n' "$sc" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b/a}')" \
    "$ca" "$cb" "$(awk -v a="$ca" -v b="$cb" 'BEGIN {print b/a}')"
done

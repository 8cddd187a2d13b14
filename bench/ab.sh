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
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
ROUNDS=${AB_ROUNDS:-5}
DURATION=${AB_DURATION:-5}
WORKERS=${AB_WORKERS:-1}
THREADS=${AB_THREADS:-1}
CONNS=${AB_CONNS:-50}
SCENARIOS=(${AB_SCENARIOS:-hello playground})
(($# == 2)) || { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
command -v wrk >/dev/null || { echo "ab.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

declare -A APP PATH_OF LUA
APP[hello]=hello:app;           PATH_OF[hello]=/
APP[playground]=playground:app; PATH_OF[playground]=/
APP[echo64k]=echo:app;          PATH_OF[echo64k]=/; LUA[echo64k]=$BENCH_DIR/lua/post64k.lua
APP[big1m]=big:app;             PATH_OF[big1m]=/
APP[flask]=flask_app:app;       PATH_OF[flask]=/json

WORK=$(mktemp -d)
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
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

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

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

#!/usr/bin/env bash
# bench/tools/asgi_worker_instr.sh: instructions per request of the ASGI
# worker alone (asgi_worker_bench.py --count), counted by valgrind, which
# the machine's load does not move (CPU time on a shared machine swings by
# 30% between runs; the count moves by well under 1%). Runs N1 and N2
# requests after the same warm-up and prints (I2 - I1) / (N2 - N1). Not CPU
# time (cache misses and system calls cost more than their instructions),
# but a change to the shim's Python code shows at its true size.
#
#   bench/tools/asgi_worker_instr.sh [asgi_worker_bench.py options]
#   bench/tools/asgi_worker_instr.sh --app ws --rev 5d7bc46
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}  # the same dict layouts in both runs
N1=${INSTR_N1:-1000}
N2=${INSTR_N2:-4000}
count() {
  local n=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PY" "$HERE/asgi_worker_bench.py" --count "$n" "$@" 2>&1 |
    awk '/Collected :/ {print $NF}'
}
i1=$(count "$N1" "$@")
i2=$(count "$N2" "$@")
awk -v a="$i1" -v b="$i2" -v n1="$N1" -v n2="$N2" -v args="$*" \
  'BEGIN { printf "%s: %.0f instructions per request (%d requests: %d, %d: %d)\n", (args == "" ? "hello" : args), (b - a) / (n2 - n1), n1, a, n2, b }'

#!/usr/bin/env bash
# bench/idle.sh: memory per 1,000 idle keep-alive connections, gowsgi at two
# git revisions side by side, for an ASGI and a WSGI hello (idle memory is
# the front's, whatever the interface).
#
#   bench/idle.sh main HEAD
#   IDLE_ROUNDS=5 IDLE_CONNS=2000 bench/idle.sh A B
#
# Each round starts a fresh server per revision and interface (1 worker,
# --keep-alive 60s; the order alternates between rounds) and runs
# tools/idleconns.py, as bench/asgi.sh's idle1000 does: 1,000 keep-alive
# connections, one GET each, the RSS of the server's process tree before and
# 1.5 s after. It prints each round and the median KiB per 1,000 idle
# connections. Tunables: IDLE_ROUNDS (3), IDLE_CONNS (1000),
# IDLE_INTERFACES ("asgi wsgi"), BENCH_PYTHON (/usr/bin/python3).
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
ROUNDS=${IDLE_ROUNDS:-3}
CONNS=${IDLE_CONNS:-1000}
IFACES=(${IDLE_INTERFACES:-asgi wsgi})
(($# == 2)) || { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

declare -A APP=([asgi]=asgi_hello:app [wsgi]=hello:app)
WORK=$(mktemp -d)
SRV=""
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
build() { # rev name
  local built
  built=$("$BENCH_DIR/tools/build_rev.sh" "$1" "$WORK/gowsgi-$2")
  echo "$2 = $built"
}
build "$1" A
build "$2" B

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run() { # name iface -> prints idleconns.py's JSON line
  local port
  port=$(free_port)
  "$WORK/gowsgi-$1" "${APP[$2]}" --interface "$2" --chdir "$BENCH_DIR/apps" --python "$PY" -b "127.0.0.1:$port" \
    -w 1 --keep-alive 60s --no-access-log --log-level warning >"$WORK/srv.log" 2>&1 &
  SRV=$!
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.05
  done
  "$PY" "$BENCH_DIR/tools/idleconns.py" --port "$port" --pid "$SRV" --conns "$CONNS" || true
  kill -TERM "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=""
}

declare -A ALL
for r in $(seq "$ROUNDS"); do
  order=(A B); ((r % 2 == 0)) && order=(B A)
  for iface in "${IFACES[@]}"; do
    for n in "${order[@]}"; do
      out=$(run "$n" "$iface")
      kib=$("$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["per_1000_kib"], d["answered"], d["still_open"])' "$out")
      read -r per answered still <<<"$kib"
      echo "round $r $iface $n: $per KiB per 1,000 idle (answered $answered, still open $still), load $(cut -d' ' -f1 /proc/loadavg)"
      ALL[$iface$n]+="$per "
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
printf '%-6s %12s %12s %8s\n' interface "A KiB/1000" "B KiB/1000" B/A
for iface in "${IFACES[@]}"; do
  a=$(median <<<"${ALL[${iface}A]}"); b=$(median <<<"${ALL[${iface}B]}")
  printf '%-6s %12s %12s %8s\n' "$iface" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"
done

#!/usr/bin/env bash
# bench/tools/asgi_worker_instr.sh: instructions per request of the ASGI
# worker, counted by valgrind, which the machine's load does not move (CPU
# time on a shared machine swings by 30% between runs; the count moves by
# well under 1%). Not CPU time (cache misses and system calls cost more than
# their instructions), but a change to Python code shows at its true size.
#
# The worker alone (asgi_worker_bench.py --count, its stand-in for the front
# included): runs N1 and N2 requests after the same warm-up and prints
# (I2 - I1) / (N2 - N1).
#
#   bench/tools/asgi_worker_instr.sh [asgi_worker_bench.py options]
#   bench/tools/asgi_worker_instr.sh --app ws --rev 5d7bc46
#
# A real server (--server): its one Python process under callgrind (for
# gowsgi, the worker, started through a --python wrapper; the Go front runs
# natively), driven over TCP by bench/tools/wsbench -phases: a warm-up, then
# N1 and N2 round trips, a callgrind dump after each; prints
# (I2 - I1) / (N2 - N1), user-space instructions of the whole process per
# request (or per echo). The same number for gowsgi's worker and for each
# peer's one process, so the two compare.
#
#   bench/tools/asgi_worker_instr.sh --server gowsgi [--app hello|ws] [--conns C] [--gowsgi BIN]
#   bench/tools/asgi_worker_instr.sh --server uvicorn-httptools
#   bench/tools/asgi_worker_instr.sh --server uvicorn-wsproto --app ws --conns 1000
#
# Servers: gowsgi, uvicorn-httptools, uvicorn-h11 (uvloop), hypercorn, daphne
# (hello: bench/apps/asgi_hello.py, 50 connections by default); gowsgi,
# uvicorn-wsproto, uvicorn-websockets (httptools, uvloop), hypercorn, daphne
# (ws: bench/apps/ws_echo.py, 64-byte text echoes, 1,000 connections by
# default). Command lines as bench/asgi.sh and bench/ws.sh start them, with
# keep-alive timeouts raised where they could close a connection between
# phases.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}  # the same dict layouts in both runs
N1=${INSTR_N1:-1000}
N2=${INSTR_N2:-4000}

if [[ ${1:-} != --server ]]; then
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
  exit
fi

# ------------------------------------------------------------ --server ----
SERVER=$2
shift 2
APP=hello CONNS="" GOWSGI=""
while (($#)); do
  case $1 in
    --app) APP=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --gowsgi) GOWSGI=$(realpath "$2"); shift 2 ;;
    *) echo "asgi_worker_instr.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$HERE/../.." && pwd)
APPS=$ROOT/bench/apps
WARM=${INSTR_WARM:-}
case $APP in
  hello) MOD=asgi_hello:app SCHEME=http CONNS=${CONNS:-50} WARM=${WARM:-500} ;;
  ws) MOD=ws_echo:app SCHEME=ws CONNS=${CONNS:-1000} WARM=${WARM:-$CONNS} ;;
  *) echo "asgi_worker_instr.sh: --app hello or ws" >&2; exit 2 ;;
esac
OUT=$(mktemp -d /tmp/asgi-instr-XXXXXX)
export PATH=/usr/local/go/bin:$PATH
mkdir -p "$ROOT/bench/.bin"
(cd "$ROOT" && go build -o "$ROOT/bench/.bin/wsbench" ./bench/tools/wsbench)
if [[ $SERVER == gowsgi && -z $GOWSGI ]]; then
  (cd "$ROOT" && CGO_ENABLED=0 go build -o "$ROOT/bench/.bin/gowsgi" ./cmd/gowsgi)
  GOWSGI=$ROOT/bench/.bin/gowsgi
fi
PORT=$("$PY" "$HERE/measure.py" freeport)
VG=(valgrind --tool=callgrind "--callgrind-out-file=$OUT/cg.%p")
ulimit -n 65536 2>/dev/null || true
case $SERVER in
  gowsgi)
    # the worker (the interpreter run with the worker's JSON config) under
    # callgrind; the front's other uses of python (its version) run plainly
    cat >"$OUT/python" <<EOF
#!/bin/sh
for a; do last=\$a; done
case \$last in
  '{'*) exec ${VG[*]} "$PY" "\$@" ;;
  *) exec "$PY" "\$@" ;;
esac
EOF
    chmod +x "$OUT/python"
    CMD=("$GOWSGI" "$MOD" --interface asgi --chdir "$APPS" --python "$OUT/python" -b "127.0.0.1:$PORT" -w 1
      --no-access-log --log-level warning --keep-alive 600s --timeout 600) ;;
  uvicorn-httptools | uvicorn-h11 | uvicorn-wsproto | uvicorn-websockets)
    CMD=("${VG[@]}" "$PY" -m uvicorn "$MOD" --host 127.0.0.1 --port "$PORT" --workers 1 --no-access-log
      --log-level warning --timeout-keep-alive 600 --ws-ping-interval 600 --ws-ping-timeout 600 --loop uvloop)
    case $SERVER in
      uvicorn-httptools) CMD+=(--http httptools) ;;
      uvicorn-h11) CMD+=(--http h11) ;;
      uvicorn-wsproto) CMD+=(--ws wsproto) ;;
      uvicorn-websockets) CMD+=(--ws websockets) ;;
    esac ;;
  hypercorn) CMD=("${VG[@]}" "$PY" -m hypercorn -w 1 -b "127.0.0.1:$PORT" --log-level warning --keep-alive 600 "$MOD") ;;
  daphne) CMD=("${VG[@]}" "$PY" -m daphne -v 0 -b 127.0.0.1 -p "$PORT" "$MOD") ;;
  *) echo "asgi_worker_instr.sh: unknown server $SERVER" >&2; exit 2 ;;
esac
(cd "$APPS" && exec "${CMD[@]}") >"$OUT/server.log" 2>&1 &
SP=$!
trap 'kill "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true' EXIT
for _ in $(seq 1200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$SP" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
  sleep 0.1
done
VP=$SP
if [[ $SERVER == gowsgi ]]; then
  for _ in $(seq 600); do VP=$(pgrep -P "$SP" | head -n 1) && [[ -n $VP ]] && break; sleep 0.1; done
fi
echo "server $SERVER: pid $SP, counted process $VP" >&2
# a dump after each phase; callgrind writes it before vgdb returns (vgdb, not
# callgrind_control: that one finds the process by its command line, which
# gowsgi's worker rewrites)
"$ROOT/bench/.bin/wsbench" -url "$SCHEME://127.0.0.1:$PORT/" -c "$CONNS" -phases "$WARM,$N1,$N2" \
  -mark "vgdb --pid=$VP dump >/dev/null 2>&1" >"$OUT/wsbench.json"
i1=$(awk '/^summary:/ {print $2}' "$OUT/cg.$VP.2")
i2=$(awk '/^summary:/ {print $2}' "$OUT/cg.$VP.3")
awk -v a="$i1" -v b="$i2" -v n1="$N1" -v n2="$N2" -v s="$SERVER" -v app="$APP" -v c="$CONNS" \
  'BEGIN { printf "%s %s c=%d: %.0f instructions per request (%d requests: %.0f, %d: %.0f)\n", s, app, c, (b - a) / (n2 - n1), n1, a, n2, b }'
rm -rf "$OUT"

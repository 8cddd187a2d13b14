#!/usr/bin/env bash
# A 1 GiB upload and a 1 GiB download through gowsgi (1 worker), with the
# peak resident memory of gowsgi's whole process tree (Go front + worker)
# sampled every 50 ms. Issue 3's target: under 100 MiB for each.
#   bench/transfer.sh            # 1024 MiB each way
#   MIB=256 bench/transfer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-1024}
PY=${PYTHON:-/usr/bin/python3}
go build -o bench/.bin/gowsgi ./cmd/gowsgi
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bench/.bin/gowsgi transfer:app --chdir bench/apps --python "$PY" -w 1 --no-access-log \
  -b 127.0.0.1:$port --max-body-size 0 2>/tmp/gowsgi-transfer.err &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

# peak_rss CMD...: runs CMD while sampling the summed VmRSS (KiB) of gowsgi's tree.
peak_rss() {
  "$@" &
  local job=$! peak=0
  while kill -0 $job 2>/dev/null; do
    local sum=0
    for p in $pid $(pgrep -P $pid); do
      kb=$(awk '/^VmRSS:/{print $2}' /proc/$p/status 2>/dev/null || echo 0)
      sum=$((sum + ${kb:-0}))
    done
    ((sum > peak)) && peak=$sum
    sleep 0.05
  done
  wait $job
  echo $((peak / 1024))
}

up_start=$(date +%s.%N)
up=$(peak_rss sh -c "head -c $((MIB << 20)) /dev/zero | curl -s -T - -H 'Content-Type: application/octet-stream' http://127.0.0.1:$port/upload -o /tmp/gowsgi-upload.out")
up_s=$(echo "$(date +%s.%N) - $up_start" | bc)
down_start=$(date +%s.%N)
down=$(peak_rss curl -s "http://127.0.0.1:$port/download?mb=$MIB" -o /dev/null)
down_s=$(echo "$(date +%s.%N) - $down_start" | bc)
echo "upload:   $MIB MiB in ${up_s}s, server saw $(cat /tmp/gowsgi-upload.out | tr -d '\n') bytes, peak RSS of gowsgi's tree: $up MiB"
echo "download: $MIB MiB in ${down_s}s, peak RSS of gowsgi's tree: $down MiB"

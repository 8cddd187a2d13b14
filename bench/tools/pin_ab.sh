#!/usr/bin/env bash
# bench/tools/pin_ab.sh: what CPU placement does to gowsgi's cost per request
# (bench/RESULTS.md, "Issue 19: where the Flask gap goes, CPU sharing").
#
#   bench/tools/pin_ab.sh GOWSGI APP PATH MODE...
#   bench/tools/pin_ab.sh bench/.bin/gowsgi flask_app:app /json free wpin both free wpin both
#
# One server (1 worker, 1 thread, apps of bench/apps) on 127.0.0.1:18551; for
# each MODE in turn: free = no affinity; wpin = the worker on CPU 1; fpin =
# the front on CPU 0; both = the front and wrk on CPU 0, the worker on CPU 1.
# `perf stat` on the worker and on the front during `wrk -t1 -c50 -d4s`;
# prints requests, CPU µs per request of each, the worker's context switches
# and each one's CPU migrations. Needs a machine with 2 CPUs or more.
set -u
BIN=$(realpath "$1"); APP=$2; P=$3; shift 3
cd "$(dirname "$0")/../apps"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$BIN" $APP --chdir . --python /usr/bin/python3 -b 127.0.0.1:18551 -w 1 --threads 1 --no-access-log > "$T/server.log" 2>&1 & FP=$!
for i in $(seq 50); do curl -s -o /dev/null 127.0.0.1:18551$P && break; sleep 0.2; done
WP=$(ps -o pid= --ppid $FP | tr -d ' ')
wrk -t1 -c50 -d1s http://127.0.0.1:18551$P >/dev/null
for mode in "$@"; do
 taskset -a -p 3 $FP >/dev/null; taskset -a -p 3 $WP >/dev/null; W=""
 case $mode in
  wpin) taskset -a -p 2 $WP >/dev/null;;
  fpin) taskset -a -p 1 $FP >/dev/null;;
  both) taskset -a -p 1 $FP >/dev/null; taskset -a -p 2 $WP >/dev/null; W="taskset 1";;
 esac
 perf stat -x, -e task-clock,context-switches,cpu-migrations -p $WP -o "$T/w.csv" sleep 4.5 & P1=$!; perf stat -x, -e task-clock,cpu-migrations -p $FP -o "$T/fr.csv" sleep 4.5 & P2=$!
 R=$($W wrk -t1 -c50 -d4s http://127.0.0.1:18551$P | awk '/requests in/{print $1}'); wait $P1 $P2
 echo "$mode reqs=$R worker_us=$(grep task-clock "$T/w.csv" | cut -d, -f1 | awk -v r=$R '{printf "%.1f", $1*1000/r}') front_us=$(grep task-clock "$T/fr.csv" | cut -d, -f1| awk -v r=$R '{printf "%.1f", $1*1000/r}') wcs=$(grep context "$T/w.csv"|cut -d, -f1) wmig=$(grep migr "$T/w.csv"|cut -d, -f1) fmig=$(grep migr "$T/fr.csv"|cut -d, -f1)"
done
kill $FP; wait

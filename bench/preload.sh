#!/usr/bin/env bash
# bench/preload.sh: memory of gowsgi with and without --preload.
#
# Starts gowsgi on bench/apps/preload_app.py (Flask plus a large table built
# at import) at -w W, once without --preload and once with it, sends the same
# requests (spread over every worker) to both, then sums the proportional set
# size over gowsgi's whole process tree: Pss from /proc/PID/smaps_rollup, in
# which a page shared by k processes counts 1/k in each, so the sum is the
# memory the tree really takes. Writes bench/preload-results.md.
#
#   bench/preload.sh                      # W=4, 2000 requests
#   WORKERS=8 REQUESTS=5000 bench/preload.sh
#
# Needs Linux, Go, and a Python that imports flask (PYTHON, default
# /usr/bin/python3 with Debian's python3-flask). Standard library otherwise.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
W=${WORKERS:-4}
REQUESTS=${REQUESTS:-2000}
OUT=$BENCH_DIR/preload-results.md

"$PY" -c 'import flask' 2>/dev/null || {
  echo "bench/preload.sh: $PY cannot import flask (apt-get install python3-flask, or set PYTHON)" >&2
  exit 1
}
TMP=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
BIN=$TMP/gowsgi
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$BIN" ./cmd/gowsgi)

# The measuring side: warm up over HTTP, then walk the process tree.
cat >"$TMP/measure.py" <<'PYEOF'
import json, os, sys, time, urllib.request

root, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    url = 'http://127.0.0.1:%d/item/key-%06d' % (port, (i * 7919) % 250000)
    with urllib.request.urlopen(url) as r:
        r.read()
time.sleep(1)


def children(pid):
    kids = []
    for task in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/children' % (pid, task)) as f:
                kids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return kids


def rollup(pid):
    out = {}
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == 'kB':
                out[parts[0].rstrip(':')] = int(parts[1])
    return out


procs, todo = [], [(root, 0)]
while todo:
    pid, depth = todo.pop()
    kids = children(pid)
    kind = 'gowsgi' if depth == 0 else ('template' if kids else 'worker')
    r = rollup(pid)
    procs.append({'pid': pid, 'kind': kind, 'pss': r.get('Pss', 0), 'rss': r.get('Rss', 0),
                  'private': r.get('Private_Clean', 0) + r.get('Private_Dirty', 0)})
    todo += [(k, depth + 1) for k in kids]
print(json.dumps(procs))
PYEOF

run_case() { # NAME PORT [GOWSGI ARGS...]
  local name=$1 port=$2
  shift 2
  "$BIN" preload_app:app --chdir "$BENCH_DIR/apps" --python "$PY" -b "127.0.0.1:$port" \
    -w "$W" --no-access-log "$@" >"$TMP/$name.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1200); do
    grep -q 'msg=listening' "$TMP/$name.log" && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$TMP/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  local t0=$SECONDS
  "$PY" "$TMP/measure.py" "$SERVER" "$port" "$REQUESTS" >"$TMP/$name.json"
  kill -TERM "$SERVER"
  wait "$SERVER" || true
  SERVER=
  echo "$name: measured ($((SECONDS - t0)) s)" >&2
}

PORT=$((20000 + RANDOM % 20000))
run_case plain "$PORT"
run_case preload "$((PORT + 1))" --preload

"$PY" - "$TMP/plain.json" "$TMP/preload.json" "$OUT" "$W" "$REQUESTS" "$PY" <<'PYEOF'
import json, platform, subprocess, sys, time

plain, preload = (json.load(open(p)) for p in sys.argv[1:3])
out, w, n, py = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
pyver = subprocess.run([py, '-c', 'import sys, flask; print(sys.version.split()[0], flask.__version__)'],
                       capture_output=True, text=True).stdout.split()
mib = lambda kb: '%.1f' % (kb / 1024)


def row(name, procs):
    ws = [p for p in procs if p['kind'] == 'worker']
    total = sum(p['pss'] for p in procs)
    part = lambda kind: sum(p['pss'] for p in procs if p['kind'] == kind)
    return total, '| %s | %d | **%s** | %s | %s | %s | %s | %s |' % (
        name, len(procs), mib(total), mib(part('gowsgi')), mib(part('template')) if part('template') else '-',
        mib(part('worker') / len(ws)), mib(sum(p['private'] for p in ws) / len(ws)),
        mib(sum(p['rss'] for p in procs)))


t_plain, r_plain = row('without `--preload`', plain)
t_pre, r_pre = row('`--preload`', preload)
lines = [
    '# `--preload`: memory', '',
    'Written by `bench/preload.sh` on %s: gowsgi `-w %d` on `bench/apps/preload_app.py` (Flask %s and a'
    % (time.strftime('%Y-%m-%d'), w, pyver[1] if len(pyver) > 1 else '?'),
    '250 000-entry dict built at import), Python %s (`%s`), Linux %s, after %d requests spread over'
    % (pyver[0] if pyver else '?', py, platform.release(), n),
    'the workers. PSS (proportional set size, `Pss:` of `/proc/PID/smaps_rollup`) counts a page shared by',
    'k processes 1/k in each, so its sum over the process tree is the memory the server really takes; the',
    'RSS sum counts shared pages once per process.', '',
    '| mode | processes | total PSS MiB | gowsgi (Go) | template | PSS per worker | private per worker | RSS sum MiB |',
    '|---|---|---|---|---|---|---|---|',
    r_plain, r_pre, '',
    '`--preload` saves **%s MiB (%.0f%%)** of PSS at `-w %d`.' % (mib(t_plain - t_pre), 100 * (t_plain - t_pre) / t_plain, w),
    '',
    'Workers forked from the template share the pages of everything imported before the fork until',
    'they write to them. CPython writes to an object whenever it changes its reference count, so pages',
    'of objects that requests touch are copied in time (the template calls `gc.freeze()` so that the',
    'cyclic GC, at least, does not walk and copy them all); the "private per worker" column is what each',
    'worker has copied or allocated on its own.', '',
]
open(out, 'w').write('\n'.join(lines))
print('\n'.join(lines))
PYEOF

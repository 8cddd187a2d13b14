#!/usr/bin/env bash
# build_rev.sh REV OUT: builds gowsgi as it is at git revision REV into the
# binary OUT, in a throwaway worktree, and says which commit that was. The
# A/B scripts (ab.sh, idle.sh, ws.sh's WS_BASE) build their sides with it.
set -Eeuo pipefail
(($# == 2)) || { echo "usage: build_rev.sh REV OUT" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'git -C "$ROOT" worktree remove --force "$tmp/tree" 2>/dev/null || true; rm -rf "$tmp"' EXIT
git -C "$ROOT" worktree add -q --detach "$tmp/tree" "$1"
(cd "$tmp/tree" && CGO_ENABLED=0 go build -o "$2" ./cmd/gowsgi)
echo "$1 ($(git -C "$ROOT" rev-parse --short "$1"))"

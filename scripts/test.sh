#!/usr/bin/env bash
# Runs gowsgi's whole test suite on a fresh Debian machine: installs what the
# tests need (Debian's python3 packages for the framework apps), checks
# formatting and vet, then runs every Go test, integration tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

# Debian packages the integration tests use (Flask, Django, gunicorn...).
pkgs=(python3)
if [[ -f tests/apt-packages.txt ]]; then
  while read -r p; do [[ -n "$p" && "$p" != \#* ]] && pkgs+=("$p"); done < tests/apt-packages.txt
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== gofmt / go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n "$unformatted" ]]; then
  echo "gofmt needed on: $unformatted"; exit 1
fi
go vet ./...

# The three test stages run side by side, each into its own log, printed
# whole once it has ended (the race stage first, the integration tests
# last): the integration tests (./tests) spend most of their time waiting
# on the processes they start, which leaves a core free for the race
# build and the other Pythons' runs. The script fails if any stage fails.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

stage_test() {
  go test -count=1 -timeout 20m "$@" ./...
}

# The race detector over every package's own tests (the integration tests
# also drive a race-built binary: TestRaceBuildReloadAndSignals).
stage_race() {
  go test -race -count=1 -timeout 20m "$@" $(go list ./... | grep -v /tests$)
}

# The shim supports Python 3.8+: where older and newer interpreters are
# installed (pyenv), run the core integration tests under each of them too.
stage_pythons() {
  local py rc=0
  for py in "$HOME"/.pyenv/versions/3.8*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3; do
    [[ -x "$py" ]] || continue
    echo "== core tests with $("$py" --version 2>&1)"
    GOWSGI_TEST_PYTHON="$py" go test -count=1 -timeout 10m \
      -run 'TestSeed|TestLoad|TestEnviron|TestRequestBodies|TestResponses|TestCloseOnClientGone|TestValidator|TestWorkerCrash|TestMalformed|TestRequestTimeout|TestPreload|TestDevReload|TestASGIScope|TestASGIResponse|TestASGIRequest|TestASGIDisconnect|TestASGIConcurrency|TestASGILifespan' ./tests/ || rc=1
  done
  return $rc
}

declare -A pids
for name in test race pythons; do
  SECONDS=0
  { rc=0; "stage_$name" "$@" || rc=$?; echo "rc=$rc after ${SECONDS}s"; } >"$logs/$name" 2>&1 &
  pids[$name]=$!
done
failed=()
for name in race pythons test; do
  wait "${pids[$name]}" || true
  case $name in
    test) echo "== go test" ;;
    race) echo "== go test -race" ;;
    pythons) echo "== core tests with other Pythons" ;;
  esac
  cat "$logs/$name"
  tail -n 1 "$logs/$name" | grep -qx 'rc=0 after [0-9]*s' || failed+=("$name")
done
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi

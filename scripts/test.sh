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

echo "== go test"
go test -count=1 -timeout 20m "$@" ./...

# The race detector over every package's own tests (the integration tests
# also drive a race-built binary: TestRaceBuildReloadAndSignals).
echo "== go test -race"
go test -race -count=1 -timeout 20m "$@" $(go list ./... | grep -v /tests$)

# The shim supports Python 3.8+: where older and newer interpreters are
# installed (pyenv), run the core integration tests under each of them too.
for py in "$HOME"/.pyenv/versions/3.8*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3; do
  [[ -x "$py" ]] || continue
  echo "== core tests with $("$py" --version 2>&1)"
  GOWSGI_TEST_PYTHON="$py" go test -count=1 -timeout 10m \
    -run 'TestSeed|TestLoad|TestEnviron|TestRequestBodies|TestResponses|TestCloseOnClientGone|TestValidator|TestWorkerCrash|TestMalformed|TestRequestTimeout|TestPreload|TestDevReload|TestASGIScope|TestASGIResponse|TestASGIRequest|TestASGIDisconnect|TestASGIConcurrency|TestASGILifespan' ./tests/
done

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

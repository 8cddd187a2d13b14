#!/usr/bin/env bash
# Builds gowsgi's platform wheels (and Debian packages) into dist/:
#
#   bash scripts/build-wheels.sh                          # every platform
#   bash scripts/build-wheels.sh --platform linux/amd64   # just one (repeatable)
#   GOWSGI_PLATFORMS="linux/amd64 darwin/arm64" bash scripts/build-wheels.sh
#   bash scripts/build-wheels.sh --no-deb                 # wheels only
#   bash scripts/build-wheels.sh --out DIR                # elsewhere than dist/
#
# Each platform gets a static binary (CGO_ENABLED=0, cross-compiled by Go)
# packed with the gowsgi Python package (python/gowsgi) into a wheel by
# tools/mkwheel; each Linux platform also gets a .deb by tools/mkdeb (nfpm).
# Needs Go only: no network once the Go modules are in the module cache, no
# PyPI, no setuptools.
#
# The version is the git tag HEAD is exactly on (v1.2.3 -> 1.2.3), else the
# VERSION file's.
set -euo pipefail
start=$PWD
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH=/usr/local/go/bin:$PATH
fi

# linux/386 runs on x86_64 machines with 32-bit support (checked here);
# linux/arm (armv7l), ppc64le and s390x build but are not run here.
ALL="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 linux/386 linux/arm linux/ppc64le linux/s390x"
platforms=()
deb=1
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--platform) platforms+=("$2"); shift 2 ;;
	--platform=*) platforms+=("${1#--platform=}"); shift ;;
	--no-deb) deb=0; shift ;;
	--out) out=$2; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-wheels.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$out" in
"") out=dist ;;
/*) ;;
*) out=$start/$out ;; # relative to where the script was run from
esac
if [ ${#platforms[@]} -eq 0 ]; then
	read -r -a platforms <<<"${GOWSGI_PLATFORMS:-$ALL}"
fi

tag=$(git describe --tags --exact-match 2>/dev/null || true)
if [ -n "$tag" ]; then
	VERSION=${tag#v}
else
	VERSION=$(tr -d ' \n' <VERSION)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The packers run here, whatever the target.
env -u GOOS -u GOARCH go build -o "$work/mkwheel" ./tools/mkwheel
if [ $deb = 1 ]; then
	env -u GOOS -u GOARCH go build -o "$work/mkdeb" ./tools/mkdeb
fi
mkdir -p "$out"

for p in "${platforms[@]}"; do
	goos=${p%/*} goarch=${p#*/}
	bin="$work/$goos-$goarch/gowsgi"
	echo "== $p" >&2
	GOOS=$goos GOARCH=$goarch GOARM=7 CGO_ENABLED=0 \
		go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$bin" ./cmd/gowsgi
	"$work/mkwheel" -version "$VERSION" -goos "$goos" -goarch "$goarch" -binary "$bin" -out "$out"
	if [ $deb = 1 ] && [ "$goos" = linux ]; then
		"$work/mkdeb" -version "$VERSION" -goarch "$goarch" -binary "$bin" -units deploy/systemd -out "$out"
	fi
done

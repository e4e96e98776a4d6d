#!/bin/sh
# Installs every Debian package sluice builds, tests and benchmarks with.
# Idempotent: a fast no-op when all are present. Usage: deps.sh [build|install|test|bench|all]
# (install: build, and node with npm for the token tables)
set -eu

build="make clang llvm gcc libc6-dev gcc-multilib pkg-config libbpf-dev libxdp-dev
 bpftool libelf-dev zlib1g-dev libmnl-dev libssl-dev libcjson-dev
 libvectorscan-dev libicu-dev"
test="libcmocka-dev iproute2 iputils-ping xdp-tools jq curl python3 socat procps openssl
 prometheus chromium haproxy libclang-rt-14-dev testssl.sh"
bench="netsniff-ng nftables wrk sysstat nginx slowhttptest"

case "${1:-all}" in
build|install) want="$build" ;;
test) want="$build $test" ;;
bench) want="$build $test $bench" ;;
all) want="$build $test $bench" ;;
*) echo "deps.sh: unknown set '$1' (build, install, test, bench, all)" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
# The SDK tests need node and npm; an image's own node (e.g. a nodesource
# build, which bundles npm) is as good as Debian's nodejs + npm.
case "${1:-all}" in
install|test|bench|all) command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm" ;;
esac
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

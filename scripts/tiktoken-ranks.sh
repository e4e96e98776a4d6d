#!/usr/bin/env bash
# tiktoken-ranks.sh OUTDIR: OUTDIR/o200k_base.tiktoken and
# OUTDIR/cl100k_base.tiktoken, the rank tables of the token counter
# (user/lib/bpe.h), taken from the npm package js-tiktoken so that counts
# agree with it exactly. The package is installed once into
# $SLUICE_BUILD/npm-tiktoken (default build/npm-tiktoken), which
# tests/cli/tokens.sh also uses as the reference. Does nothing when both
# files exist. Each file is written to a temp name and renamed, so a
# failed run leaves no half file behind. The result must be byte for byte
# the file OpenAI publishes for the encoding (the sha256 that tiktoken
# checks its downloads against); anything else is an error.
set -eu
PKG=js-tiktoken@1.0.21
ENCODINGS="o200k_base cl100k_base"
declare -A SHA256=(
	[o200k_base]=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
	[cl100k_base]=223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7
)

if [ $# != 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
have=true
for e in $ENCODINGS; do
	[ -s "$out/$e.tiktoken" ] || have=false
done
$have && exit 0

here=$(cd "$(dirname "$0")" && pwd)
build=${SLUICE_BUILD:-$here/../build}
prefix=$build/npm-tiktoken
mod=$prefix/node_modules/js-tiktoken
die() {
	echo "tiktoken-ranks: $*" >&2
	exit 1
}
command -v node >/dev/null || die "node not found (needs node >= 18 and npm)"
if [ "$(node -p "try { require('$mod/package.json').version } catch { '' }" 2>/dev/null)" != "${PKG#*@}" ]; then
	mkdir -p "$prefix" || die "cannot create $prefix"
	if ! timeout 120 npm install --prefix "$prefix" "$PKG" --no-audit --no-fund \
		>"$prefix/install.log" 2>&1; then
		sed 's/^/  /' "$prefix/install.log" | tail -15 >&2
		die "npm install $PKG into $prefix failed or timed out after 120 s (log: $prefix/install.log)"
	fi
fi
mkdir -p "$out" || die "cannot create $out"
for e in $ENCODINGS; do
	[ -s "$out/$e.tiktoken" ] && continue
	t=$(mktemp "$out/.$e.XXXXXX")
	if ! node "$here/tiktoken-ranks.mjs" "$mod" "$e" "$t"; then
		rm -f "$t"
		die "$e: conversion failed"
	fi
	sum=$(sha256sum "$t" | cut -d' ' -f1)
	if [ "$sum" != "${SHA256[$e]}" ]; then
		rm -f "$t"
		die "$e: converted table has sha256 $sum, want ${SHA256[$e]}"
	fi
	chmod 0644 "$t"
	mv -f "$t" "$out/$e.tiktoken"
done

#!/usr/bin/env bash
# Runs each fuzzer (build/fuzz/fuzz_NAME, from tests/fuzz/fuzz_NAME.c by
# `make fuzzers`) for FUZZ_SECONDS (default 30) over its seeds in
# tests/fuzz/corpus/NAME, FUZZ_JOBS (default 2) at a time. TAP output: per
# fuzzer its runs and corpus size, or where its crash input is and the first
# lines of the report. A fuzzer that was not built fails.
#
# New inputs go to a temporary folder, or to FUZZ_CORPUS/NAME when that is
# set (`make fuzz` keeps them in build/fuzz/corpus); crash inputs to
# build/fuzz/crashes/NAME/, where a run's report names them.
# Usage: tests/fuzz/run.sh [NAME...]  (default: all)
set -u
cd "$(dirname "$0")/../.." || exit 1
FUZZ=$PWD/build/fuzz
secs=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

names=("$@")
if [ ${#names[@]} = 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		names+=("${f%.c}")
	done
fi

# fuzz NAME: one run, its output in $tmp/NAME.log and exit status in $tmp/NAME.rc
fuzz() {
	local name=$1 work dict=()
	work=${FUZZ_CORPUS:+$FUZZ_CORPUS/$name}
	work=${work:-$tmp/corpus-$name}
	mkdir -p "$work" "$FUZZ/crashes/$name"
	[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	"$FUZZ/fuzz_$name" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$FUZZ/crashes/$name/" "${dict[@]}" "$work" "tests/fuzz/corpus/$name" \
		</dev/null >"$tmp/$name.log" 2>&1
	echo $? >"$tmp/$name.rc"
}

running=0
for name in "${names[@]}"; do
	[ -x "$FUZZ/fuzz_$name" ] || continue
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz "$name" &
	running=$((running + 1))
done
wait

fail=0
for name in "${names[@]}"; do
	log=$tmp/$name.log
	if [ ! -x "$FUZZ/fuzz_$name" ]; then
		echo "not ok - fuzz_$name: not built ($FUZZ/fuzz_$name: make fuzzers)"
		fail=1
		continue
	fi
	rc=$(cat "$tmp/$name.rc")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	if [ "$rc" = 0 ] && [ -n "$runs" ]; then
		echo "ok - fuzz_$name: $runs runs in $secs s, corpus ${corpus:-0}"
		continue
	fi
	fail=1
	artifact=$(sed -n 's/.*Test unit written to //p' "$log" | head -n 1)
	if [ -n "$artifact" ]; then
		echo "not ok - fuzz_$name: crash, see $artifact"
	else
		echo "not ok - fuzz_$name: exited $rc without a summary"
	fi
	# the report from its first line (sanitizer, libFuzzer or a failed check)
	{ grep -m 1 -A 12 -E '==[0-9]+== ?ERROR|runtime error:|check failed:|ALARM:' "$log" ||
		tail -n 8 "$log"; } | sed 's/^/# /'
done
exit $fail

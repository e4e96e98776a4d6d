#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# patterns-check.sh [-v] [CORPUS_DIR]: the curated pattern sets in etc/patterns
# and the built-in secret detectors against the prompt corpora in
# tests/data/prompts (or CORPUS_DIR), through `sluiced --scan --json`, with
# the same set options as etc/sluice.json. Prints, per corpus, how many texts
# each set and the secret detectors flag:
#
#   benign.txt            ordinary prompts, many with trigger words used
#                         innocently ("ignore case", "system prompt" as a
#                         topic): every flag is a false positive
#   injection.txt         attacks: every text the injection set misses is a miss
#   secrets.txt           one credential each (its kind on the same line of
#                         secrets.kinds): a text neither the secrets set nor a
#                         secret detector flags is a miss, listed by kind
#   secrets-nearmiss.txt  placeholders, wrong lengths, prefixes inside words:
#                         every flag is a false positive
#
# -v lists each false positive and miss with its line. Exit status: 0 when
# nothing is missed and nothing is falsely flagged, 1 otherwise, 2 on a usage
# or setup error. The last line is machine-readable:
#   PATTERNS_RESULT benign=N benign_fp=N injection=N injection_missed=N
#                   secrets=N secrets_missed=N nearmiss=N nearmiss_fp=N
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SLUICE_BUILD:-$ROOT/build}
verbose=0
[ "${1:-}" = -v ] && { verbose=1; shift; }
DIR=${1:-$ROOT/tests/data/prompts}
SLUICED=$BUILD/sluiced

die() { echo "patterns-check: $*" >&2; exit 2; }
[ -x "$SLUICED" ] || die "$SLUICED not built (make)"
command -v jq >/dev/null || die "jq not found (scripts/deps.sh test installs it)"
for f in benign.txt injection.txt secrets.txt secrets.kinds secrets-nearmiss.txt; do
	[ -s "$DIR/$f" ] || die "$DIR/$f: missing or empty"
done

T=$(mktemp -d /tmp/patterns-check.XXXXXX)
trap 'rm -rf "$T"' EXIT

# The sets as the sample config declares them; the detectors that find
# credentials (the PII ones are for masking, not for this check).
SECRET_DETECTORS='"aws_access_key", "aws_secret_key", "github_token", "slack_token",
  "openai_key", "anthropic_key", "jwt", "pem_private_key"'
cat >"$T/scan.json" <<EOF
{
  "listeners": [ { "name": "l", "address": "127.0.0.1:1" } ],
  "pools": { "p": { "backends": [ { "url": "http://127.0.0.1:2" } ] } },
  "routes": [ { "name": "r", "pool": "p" } ],
  "inspect": {
    "detectors": [ $SECRET_DETECTORS ],
    "pattern_sets": [
      { "name": "injection", "file": "$ROOT/etc/patterns/injection.txt" },
      { "name": "secrets", "file": "$ROOT/etc/patterns/secrets.txt", "caseless": false }
    ]
  }
}
EOF
for f in injection secrets; do
	grep -q "\"name\": \"$f\", \"file\": \"patterns/$f.txt\"" "$ROOT/etc/sluice.json" ||
		die "etc/sluice.json no longer declares the $f set as this script does; update both"
done

# scan CORPUS: one JSON line per flagged text into $T/CORPUS.json
scan() {
	"$SLUICED" -c "$T/scan.json" --scan "$DIR/$1" --json >"$T/$1.json" 2>"$T/$1.err" ||
		die "sluiced --scan $1: $(cat "$T/$1.err")"
}

# texts CORPUS: how many texts (lines that are not comments)
texts() { grep -vc '^#' "$DIR/$1"; }

# flagged CORPUS FILTER: line numbers of texts the jq FILTER holds for
flagged() { jq -r "select(.line) | select($2) | .line" "$T/$1.json"; }

# show CORPUS LINES...: each line with its text, for -v
show() {
	local c=$1 n

	shift
	[ $verbose = 1 ] || return 0
	for n in "$@"; do
		printf '   %s:%s: %.160s\n' "$c" "$n" "$(sed -n "${n}p" "$DIR/$c")"
	done
}

# missed CORPUS FILTER: line numbers of texts the FILTER does not hold for
missed() {
	local c=$1

	comm -23 <(grep -vn '^#' "$DIR/$c" | cut -d: -f1 | sort) <(flagged "$c" "$2" | sort) | sort -n
}

for c in benign.txt injection.txt secrets.txt secrets-nearmiss.txt; do
	scan "$c"
done

ANY='(.sets | length > 0) or (.detectors | length > 0)'
SECRET='(.sets.secrets // 0) > 0 or (.detectors | length > 0)'

echo "== pattern sets: injection ($(grep -vc '^\(#\|$\)' "$ROOT/etc/patterns/injection.txt") patterns)," \
	"secrets ($(grep -vc '^\(#\|$\)' "$ROOT/etc/patterns/secrets.txt") patterns), and the secret detectors"

mapfile -t b_inj < <(flagged benign.txt '(.sets.injection // 0) > 0')
mapfile -t b_sec < <(flagged benign.txt "$SECRET")
mapfile -t b_any < <(flagged benign.txt "$ANY")
nb=$(texts benign.txt)
printf 'benign.txt            %4d texts: %d flagged by injection, %d by secrets or a detector (false positive rate %.2f%%)\n' \
	"$nb" "${#b_inj[@]}" "${#b_sec[@]}" "$(awk -v a="${#b_any[@]}" -v n="$nb" 'BEGIN { print n ? 100 * a / n : 0 }')"
show benign.txt "${b_any[@]}"

mapfile -t i_miss < <(missed injection.txt '(.sets.injection // 0) > 0')
ni=$(texts injection.txt)
printf 'injection.txt         %4d texts: %d missed by injection (caught %.1f%%)\n' "$ni" "${#i_miss[@]}" \
	"$(awk -v m="${#i_miss[@]}" -v n="$ni" 'BEGIN { print n ? 100 * (n - m) / n : 0 }')"
show injection.txt "${i_miss[@]}"

mapfile -t s_miss < <(missed secrets.txt "$SECRET")
ns=$(texts secrets.txt)
nk=$(grep -vc '^#' "$DIR/secrets.kinds")
[ "$nk" = "$ns" ] || die "secrets.kinds has $nk kinds for $ns texts in secrets.txt"
printf 'secrets.txt           %4d texts: %d missed (caught %.1f%%)' "$ns" "${#s_miss[@]}" \
	"$(awk -v m="${#s_miss[@]}" -v n="$ns" 'BEGIN { print n ? 100 * (n - m) / n : 0 }')"
# the kind of each missed text: the kinds file's Nth non-comment line for the Nth text
if [ ${#s_miss[@]} -gt 0 ]; then
	printf ', by kind:'
	grep -vn '^#' "$DIR/secrets.txt" | cut -d: -f1 | paste - <(grep -v '^#' "$DIR/secrets.kinds") |
		awk 'NR == FNR { m[$1] = 1; next } $1 in m { k[$2]++ } END { for (x in k) printf " %s(%d)", x, k[x] }' \
			<(printf '%s\n' "${s_miss[@]}") -
fi
echo
show secrets.txt "${s_miss[@]}"

mapfile -t n_fp < <(flagged secrets-nearmiss.txt "$ANY")
nn=$(texts secrets-nearmiss.txt)
printf 'secrets-nearmiss.txt  %4d texts: %d flagged (false positive rate %.2f%%)\n' "$nn" "${#n_fp[@]}" \
	"$(awk -v a="${#n_fp[@]}" -v n="$nn" 'BEGIN { print n ? 100 * a / n : 0 }')"
show secrets-nearmiss.txt "${n_fp[@]}"

echo "PATTERNS_RESULT benign=$nb benign_fp=${#b_any[@]} injection=$ni injection_missed=${#i_miss[@]}" \
	"secrets=$ns secrets_missed=${#s_miss[@]} nearmiss=$nn nearmiss_fp=${#n_fp[@]}"
[ $((${#b_any[@]} + ${#i_miss[@]} + ${#s_miss[@]} + ${#n_fp[@]})) = 0 ]

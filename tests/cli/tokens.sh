#!/usr/bin/env bash
# The token counter (user/lib/bpe.c) against the npm tokenizer it must
# equal: js-tiktoken's counts for every text of tests/data/tokens/corpus.jsonl
# (prose, code, emoji, CJK and other scripts, white space runs, long numbers,
# contractions, invalid-looking input), with o200k_base and cl100k_base.
# Every text must agree exactly; the first ones that differ are shown.
. "$(dirname "$0")/lib.sh"
B=${SLUICE_BUILD:-build}
CORPUS=tests/data/tokens/corpus.jsonl
COUNT=$B/bench/bpe_count

n=$(grep -c . "$CORPUS")
why=
[ "$n" -ge 1000 ] || because "$n texts, want at least 1000"
grep -qP '[\x{4e00}-\x{9fff}]' "$CORPUS" || because "no CJK"
grep -qP '[\x{1F300}-\x{1FAFF}]' "$CORPUS" || because "no emoji"
grep -qE '[0-9]{12}' "$CORPUS" || because "no long numbers"
report "the corpus has $n varied texts (CJK, emoji, long numbers)" "$why"

for enc in o200k_base cl100k_base; do
	why=
	"$COUNT" -e "$enc" -r "$B/share/tiktoken/$enc.tiktoken" "$CORPUS" >"$tmp/c" 2>"$tmp/err" ||
		because "bpe_count failed"
	node scripts/bench/tiktoken_count.mjs "$B/npm-tiktoken" "$enc" "$CORPUS" >"$tmp/js" 2>>"$tmp/err" ||
		because "js-tiktoken failed"
	if [ -z "$why" ]; then
		[ "$(grep -c . "$tmp/js")" = "$n" ] || because "js-tiktoken gave $(grep -c . "$tmp/js") counts for $n texts"
		paste -d' ' "$tmp/c" "$tmp/js" | awk '$1 != $2 { print NR": sluice "$1", js-tiktoken "$2 }' >"$tmp/diff"
		[ -s "$tmp/diff" ] && because "$(wc -l <"$tmp/diff") texts differ, first: $(head -3 "$tmp/diff" | tr '\n' ';')"
	fi
	report "$enc: the same count as js-tiktoken for all $n texts ($(awk "{ s += \$1 } END { print s }" "$tmp/c") tokens)" "$why"
done

# Request bodies as sluiced counts their prompts before forwarding
# (user/gw/tokens.h), against the same rules over js-tiktoken
REQS=tests/data/tokens/requests.jsonl
nr=$(grep -c . "$REQS")
for enc in o200k_base cl100k_base; do
	why=
	"$COUNT" -q -e "$enc" -r "$B/share/tiktoken/$enc.tiktoken" "$REQS" >"$tmp/c" 2>"$tmp/err" ||
		because "bpe_count -q failed"
	node scripts/bench/tiktoken_count.mjs "$B/npm-tiktoken" "$enc" "$REQS" -q >"$tmp/js" 2>>"$tmp/err" ||
		because "tiktoken_count.mjs -q failed"
	[ "$(grep -c . "$tmp/c")" = "$nr" ] || because "$(grep -c . "$tmp/c") counts for $nr requests"
	paste -d' ' "$tmp/c" "$tmp/js" | awk '$1 != $2 { print NR": sluice "$1", reference "$2 }' >"$tmp/diff"
	[ -s "$tmp/diff" ] && because "$(wc -l <"$tmp/diff") requests differ, first: $(head -3 "$tmp/diff" | tr '\n' ';')"
	report "$enc: the prompts of $nr request bodies (chat, completions, embeddings, Responses, Anthropic) with tool calls, counted as the reference counts them" "$why"
done

# The cache of long texts: the same text again counts the same; one that
# differs only in its middle (same slot: same length, start and end) is
# counted afresh
why=
long=$(printf 'word %.0s' $(seq 200))
half=$(printf 'word %.0s' $(seq 100))
like="${half%word }wxrd ${half}"
[ ${#like} = ${#long} ] || because "the look-alike is ${#like} bytes, the text ${#long}"
printf '{"messages":[{"role":"user","content":"%s"}]}\n' "$long" "$long" "$like" "$long" >"$tmp/cache"
"$COUNT" -q -e o200k_base -r "$B/share/tiktoken/o200k_base.tiktoken" "$tmp/cache" >"$tmp/c" 2>"$tmp/err"
node scripts/bench/tiktoken_count.mjs "$B/npm-tiktoken" o200k_base "$tmp/cache" -q >"$tmp/js" 2>>"$tmp/err"
[ "$(tr '\n' ' ' <"$tmp/c")" = "$(tr '\n' ' ' <"$tmp/js")" ] || because "sluice $(tr '\n' ' ' <"$tmp/c"), reference $(tr '\n' ' ' <"$tmp/js")"
[ "$(sed -n 1p "$tmp/c")" != "$(sed -n 3p "$tmp/c")" ] || because "the changed text counted as the cached one"
report "a 1 KB text counted again from the cache, a look-alike not" "$why"

# The chat overhead OpenAI documents: 3 a message, 1 a name, 3 for the reply
why=
printf '%s\n' '{"messages":[{"role":"user","content":"hello world"}]}' \
	'{"messages":[{"role":"system","content":"hello world"},{"role":"user","name":"ana","content":"hello world"}]}' >"$tmp/chat"
"$COUNT" -q -e o200k_base -r "$B/share/tiktoken/o200k_base.tiktoken" "$tmp/chat" >"$tmp/c" 2>"$tmp/err"
# 3 + user(1) + 2 + 3 = 9; 3 + system(1) + 2 + 3 + user(1) + 2 + 1 + ana(1) + 3 = 17
[ "$(tr '\n' ' ' <"$tmp/c")" = "9 17 " ] || because "counts $(tr '\n' ' ' <"$tmp/c"), want 9 17"
report "chat overhead: one message of 'hello world' is 9 tokens, two with a name 17" "$why"

# Near misses that must differ: the counter is not just counting bytes
why=
printf '"hello world"\n"hello  world"\n"ＨＥＬＬＯ"\n' >"$tmp/few"
"$COUNT" -e o200k_base -r "$B/share/tiktoken/o200k_base.tiktoken" "$tmp/few" >"$tmp/c" 2>"$tmp/err"
[ "$(tr '\n' ' ' <"$tmp/c")" = "$(node scripts/bench/tiktoken_count.mjs "$B/npm-tiktoken" o200k_base "$tmp/few" | tr '\n' ' ')" ] ||
	because "counts $(tr '\n' ' ' <"$tmp/c") differ from js-tiktoken's"
[ "$(head -1 "$tmp/c")" = 2 ] || because "'hello world' is $(head -1 "$tmp/c") tokens, want 2"
report "small texts: 'hello world' is 2 tokens, and js-tiktoken agrees on spacing and full-width letters" "$why"

# A bad rank table is refused by name
why=
printf 'not base64!! 0\n' >"$tmp/bad.tiktoken"
"$COUNT" -e o200k_base -r "$tmp/bad.tiktoken" "$tmp/few" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] || because "exit $rc, want 1"
grep -q "bad.tiktoken" "$tmp/err" || because "the error does not name the file"
report "a bad rank table is refused, naming the file" "$why"
echo "1..$ntests"

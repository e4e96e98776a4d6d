#!/usr/bin/env bash
# sluicectl's synopsis, its man page and its parser agree. TAP output.
#
# The synopsis lives once, in user/ctl/help.c; `sluicectl help` prints it and
# docs/sluicectl.8 repeats it. These tests diff the two, feed every object and
# command of the synopsis to the parser, and check that the man page documents
# every option, config key and stats reason the binary knows.
# Commands that open maps use a private pin root, removed on exit.
set -u
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
MAN=docs/sluicectl.8

# The usage lines of `sluicectl help`, without their indent.
help_synopsis() {
	"$CTL" help | sed -n '/^usage:$/,/^$/s/^  //p'
}

# The man page's SYNOPSIS as text: font escapes dropped, \- as -.
man_synopsis() {
	sed -n '/^\.SH SYNOPSIS/,/^\.fi/p' "$MAN" | grep -v '^\.' |
		sed 's/\\f[BIRP]//g; s/\\-/-/g; s/\\&//g'
}

# The whole man page as plain words, for "is it documented" checks.
man_text() {
	sed 's/\\f[BIRP]//g; s/\\-/-/g; s/\\&//g' "$MAN"
}

run help
why=
[ $rc = 0 ] || because "exit $rc, want 0"
grep -q '^usage:$' "$tmp/out" || because "no 'usage:' line"
report "help exits 0 and prints the usage" "$why"

help_synopsis >"$tmp/help.syn"
man_synopsis >"$tmp/man.syn"
why=
[ -s "$tmp/help.syn" ] || because "no usage lines in 'sluicectl help'"
[ -s "$tmp/man.syn" ] || because "no SYNOPSIS in $MAN"
if ! diff -u "$tmp/help.syn" "$tmp/man.syn" >"$tmp/diff"; then
	because "help (-) and $MAN (+) differ:
$(cat "$tmp/diff")"
fi
report "man page SYNOPSIS is the usage of 'sluicectl help', line for line" "$why"

run -j help
why=
[ $rc = 0 ] || because "exit $rc, want 0"
jq -e 'type == "array" and length > 0 and all(type == "string")' "$tmp/out" >/dev/null 2>&1 ||
	because "not a JSON array of strings: $(head -c 200 "$tmp/out")"
report "-j help prints a JSON array of strings" "$why"

why=
jq -r '.[]' "$tmp/out" 2>/dev/null | diff -u "$tmp/help.syn" - >"$tmp/diff" ||
	because "-j help differs from help:
$(cat "$tmp/diff")"
report "-j help lists the same lines as help" "$why"

run -h
why=
[ $rc = 0 ] || because "exit $rc, want 0"
"$CTL" help | cmp -s - "$tmp/out" || because "output differs from 'sluicectl help'"
report "-h prints what help prints" "$why"

# -j must hold for the options too (BUG at the time of writing: jw is NULL
# when -h/-V run, and sluicectl crashes)
run -j -h
why=
[ $rc = 0 ] || because "exit $rc, want 0"
jq -r '.[]' "$tmp/out" 2>/dev/null | cmp -s "$tmp/help.syn" - || because "not the synopsis as a JSON array"
report "-j -h prints the synopsis as JSON, like -j help" "$why"

run -j -V
why=
[ $rc = 0 ] || because "exit $rc, want 0"
jq -e '.version | type == "string"' "$tmp/out" >/dev/null 2>&1 || because "no JSON object with a version"
report "-j -V prints a JSON object with the version, like -j version" "$why"

# Every object and command of the synopsis reaches its handler. A command
# with a required argument, given none, must say what is missing (exit 2);
# one whose arguments are all optional must run (watch and events until
# SIGINT, which ends them cleanly).
printf '{ "keys": [] }\n' >"$tmp/keys.json"
export SLUICE_KEYS=$tmp/keys.json	# key list reads it
while read -r _ obj cmd rest; do
	case $obj in '['*) continue ;; esac	# the OPTIONS line
	if [[ $cmd =~ ^[a-z][a-z-]*$ ]]; then
		args=("$obj" "$cmd")
		first=${rest%% *}
	else
		args=("$obj")
		first=$cmd
	fi
	name="parser knows '${args[*]}'"
	why=
	if [ -n "$first" ] && [[ $first != '['* ]]; then
		run "${args[@]}"
		[ $rc = 2 ] || because "exit $rc, want 2 (missing argument)"
		grep -qiE 'unknown|ambiguous' "$tmp/err" && because "parser does not know it"
		grep -qE 'missing|expected' "$tmp/err" || because "message does not say what is missing"
		for w in $(echo "$first" | grep -oE '[A-Z][A-Z_-]*'); do
			grep -qw -- "$w" "$tmp/err" || because "message does not name $w"
		done
		report "$name, and says what is missing" "$why"
		continue
	fi
	SLUICE_ADMIN=unix:$tmp/no-sluiced.sock timeout -s INT --preserve-status 1 "$CTL" "${args[@]}" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep -qiE 'unknown|ambiguous' "$tmp/err" && because "parser does not know it"
	if [ "$obj" = status ] || [ "$obj" = reload ]; then
		# no daemon here: a runtime error that says where it looked
		[ $rc = 1 ] || because "exit $rc, want 1 (no sluiced)"
		grep -q "unix:$tmp/no-sluiced.sock.*is sluiced running" "$tmp/err" || because "message does not name the endpoint"
	elif $root; then
		[ $rc = 0 ] || because "exit $rc, want 0"
	elif [ $rc != 0 ] && ! { [ $rc = 1 ] && grep -q root "$tmp/err"; }; then
		because "exit $rc, want 0 or 1 (not root)"
	fi
	report "$name" "$why"
done <"$tmp/help.syn"

# Unique prefixes
if $root; then
	run block list
	cp "$tmp/out" "$tmp/full"
	run bl l
	why=
	[ $rc = 0 ] || because "exit $rc, want 0"
	grep -q '^CIDR ' "$tmp/out" || because "no list header"
	cmp -s "$tmp/full" "$tmp/out" || because "output differs from 'block list'"
	report "'bl l' is 'block list' (unique prefixes)" "$why"
else
	report "'bl l' is 'block list' (unique prefixes) # SKIP not root"
fi

run t
why=
[ $rc = 2 ] || because "exit $rc, want 2"
grep -q ambiguous "$tmp/err" || because "does not say ambiguous"
grep -qw throttle "$tmp/err" && grep -qw top "$tmp/err" || because "does not name throttle and top"
report "'t' is ambiguous: exit 2 naming throttle and top" "$why"

run config s
why=
[ $rc = 2 ] || because "exit $rc, want 2"
grep -qw show "$tmp/err" && grep -qw set "$tmp/err" || because "does not name show and set"
report "'config s' is ambiguous: exit 2 naming show and set" "$why"

# The man page documents what the binary knows
opts=$(sed -n 's/.*getopt_long([^"]*"+\{0,1\}\([A-Za-z]*\)".*/\1/p' user/ctl/main.c)
why=
[ -n "$opts" ] || because "cannot find the getopt string in user/ctl/main.c"
for ((i = 0; i < ${#opts}; i++)); do
	o=${opts:i:1}
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$MAN" | grep -q "^\.BR \\\\-$o " ||
		because "-$o is not in OPTIONS"
done
report "man page OPTIONS lists every option (-$opts)" "$why"

run config set no-such-key 1
keys=$(sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p' "$tmp/err")
why=
[ -n "$keys" ] || because "'config set' listed no keys"
for k in $keys; do
	man_text | grep -A1 '^\.TP' | grep -qE -- "^$k( |$)" ||
		because "key $k has no entry (.TP) in $MAN"
done
report "man page documents every config key ($(echo $keys))" "$why"

if $root; then
	run -j stats
	reasons=$(jq -r '.reasons[].reason' "$tmp/out" 2>/dev/null)
	why=
	[ -n "$reasons" ] || because "'-j stats' listed no reasons"
	for r in $reasons; do
		man_text | grep -q "^\.B $r$" || because "reason $r is not in $MAN"
	done
	report "man page documents every stats reason" "$why"
else
	report "man page documents every stats reason # SKIP not root"
fi

echo "1..$ntests"

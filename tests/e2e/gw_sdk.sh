#!/usr/bin/env bash
# The official SDKs against sluiced: openai (chat, streaming, embeddings,
# models, typed errors) and @anthropic-ai/sdk (messages, streaming events,
# errors), over TLS (the test CA through NODE_EXTRA_CA_CERTS) and over the
# plain listener. The scripts in tests/e2e/sdk/ print the TAP lines; this
# file installs the pinned packages into $SLUICE_BUILD/npm when missing.
set -u
. "$(dirname "$0")/gw_lib.sh"

SDK_SRC=$E2E_ROOT/tests/e2e/sdk
NPM_DIR=$GW_BUILD/npm

# The pinned packages, from the lock file; reinstalled when it changes.
# Under a lock: two runs on one build tree must not install over each other.
sdk_install() {
	local lock
	command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are not installed"; return 1; }
	[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { echo "node $(node -v) is older than 20"; return 1; }
	mkdir -p "$NPM_DIR" && exec {lock}>"$NPM_DIR.lock" && flock -w 150 "$lock" || { echo "cannot lock $NPM_DIR"; return 1; }
	if ! cmp -s "$SDK_SRC/package-lock.json" "$NPM_DIR/package-lock.json" || [ ! -d "$NPM_DIR/node_modules/openai" ]; then
		cp "$SDK_SRC/package.json" "$SDK_SRC/package-lock.json" "$NPM_DIR/" || return 1
		timeout 120 npm ci --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error >"$NPM_DIR/install.log" 2>&1 ||
			{ echo "npm ci failed: $(grep -m 1 -o "npm error code .*" "$NPM_DIR/install.log")"; rm -f "$NPM_DIR/package-lock.json"; return 1; }
	fi
	# Beside node_modules, so that their imports resolve
	cp "$SDK_SRC"/*.mjs "$NPM_DIR/"
}

gw_start sdk 90
if ! why=$(sdk_install); then
	skip "openai and @anthropic-ai/sdk against sluiced" "$why"
	exit 0
fi
diag "openai $(jq -r .version "$NPM_DIR/node_modules/openai/package.json"), @anthropic-ai/sdk $(jq -r .version "$NPM_DIR/node_modules/@anthropic-ai/sdk/package.json"), node $(node -v)"

M=9000
gw_mock backend1 $M --models gpt-4o-mini,text-embedding-3-small >/dev/null || { not_ok "mock on backend1"; exit 1; }
gw_mock backend2 $M --models gpt-4o-mini,text-embedding-3-small >/dev/null || { not_ok "mock on backend2"; exit 1; }
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
$(gw_listeners),
  "pools": { "p": { "algorithm": "least_requests",
    "backends": [ { "url": "http://$(gw_host backend1):$M" }, { "url": "http://$(gw_host backend2):$M" } ] } },
  "routes": [
    { "name": "refused", "match": { "model": "forbidden-*" }, "action": "refuse" },
    { "name": "messages", "match": { "method": "POST", "path": "/v1/messages", "model": "claude-*" }, "pool": "p" },
    { "name": "chat", "match": { "path": "/v1/chat/completions" }, "pool": "p" },
    { "name": "embeddings", "match": { "path": "/v1/embeddings" }, "pool": "p" },
    { "name": "models", "match": { "method": "GET", "path": "/v1/models" }, "pool": "p" }
  ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1

# sdk SCRIPT BASE_URL: runs a script in the client namespace, relays its TAP lines
sdk() {
	local line out rc=0
	out=$(cd "$NPM_DIR" && NODE_EXTRA_CA_CERTS=$GW_CA timeout 60 ip netns exec "$(lab_ns client)" node "$1" "$2" 2>&1) || rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) not_ok "${line#not ok - }" ;;
		"#"*) echo "$line" ;;
		*) diag "  $line" ;;
		esac
	done <<<"$out"
	[ $rc = 0 ] || grep -q '^not ok' <<<"$out" || not_ok "$1 $2 exited $rc" "$(tail -n 3 <<<"$out")"
}

for base in "https://$GW_V4:$GW_TLS" "$HTTP_URL"; do
	sdk openai.mjs "$base/v1"
	sdk anthropic.mjs "$base"
done
# Without the test CA the SDK must refuse the certificate: TLS is verified
got=$(cd "$NPM_DIR" && timeout 30 ip netns exec "$(lab_ns client)" node --input-type=module -e "
import OpenAI from 'openai';
const c = new OpenAI({ baseURL: 'https://$GW_V4:$GW_TLS/v1', apiKey: 'k', maxRetries: 0, timeout: 5000 });
try { await c.models.list(); console.log('connected'); }
catch (e) { console.log(e.constructor.name + ' ' + (e.cause?.code ?? e.cause?.cause?.code ?? '?')); }" 2>&1)
is "openai tls: without the test CA the SDK refuses sluiced's certificate" "$got" \
	"APIConnectionError UNABLE_TO_VERIFY_LEAF_SIGNATURE"
n1=$(mstat backend1 $M .requests.total) n2=$(mstat backend2 $M .requests.total)
between "the SDKs' requests were spread over both backends (backend1 of $((n1 + n2)))" "$n1" 5 $((n1 + n2 - 5))

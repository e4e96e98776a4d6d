-- SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
-- proxy_chat.lua: wrk script for scripts/bench/proxy.sh. Every request POSTs the
-- same ~1 KB OpenAI chat request (max_tokens 16, so the mock's answer is small)
-- to /v1/chat/completions over the connection wrk keeps alive. proxy.sh also
-- feeds the BODY line below to its C clients (sed), so keep it on one line.
-- Answers >= 400 are counted (done() prints them): a proxy that fails fast
-- must not look fast.
local body = [[{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Summarise the following notes in three bullet points. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. The gateway terminates TLS, routes by model, and streams tokens back to the client as they arrive. Keep it short."}],"max_tokens":16,"temperature":0.2,"user":"bench-client-0001"}]] -- BODY

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
-- BENCH_KEY: a key sluiced knows (limits.sh); else a constant that none checks
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "sk-bench-0000000000000000")

function done(summary, latency, requests)
	-- one machine-readable line for proxy.sh (latencies in microseconds);
	-- status counts answers >= 400, which a fast-failing proxy would produce
	io.write(string.format("WRK_RESULT reqs=%d secs=%.3f rps=%.1f p50=%d p99=%d status=%d errors=%d\n",
		summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
		latency:percentile(50), latency:percentile(99), summary.errors.status,
		summary.errors.connect + summary.errors.read + summary.errors.write +
		summary.errors.timeout))
end

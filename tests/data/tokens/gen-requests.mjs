// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// gen-requests.mjs: writes requests.jsonl beside it, request bodies of every
// shape sluiced counts prompt tokens of (user/gw/tokens.h), made from the
// texts of corpus.jsonl: chat with string and part contents, names, system
// and tool messages and tool calls; completions with a string, strings and
// token arrays; embeddings; Responses with instructions and string or message
// input; Anthropic messages with a system string or blocks. tests/cli/tokens.sh
// compares sluice's counts of them with scripts/bench/tiktoken_count.mjs -q.
// Deterministic; checked in: node tests/data/tokens/gen-requests.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const texts = readFileSync(join(here, 'corpus.jsonl'), 'utf8').split('\n').filter(Boolean)
	.map((l) => JSON.parse(l));
let at = 0;
const text = () => texts[at++ % texts.length];
let seed = 0x7e9e575;
const rnd = (n) => {
	seed ^= seed << 13;
	seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5;
	seed >>>= 0;
	return seed % n;
};
const times = (n, f) => Array.from({ length: n }, (_, i) => f(i));

const shapes = [
	() => ({ model: 'gpt-4o', messages: [{ role: 'user', content: text() }] }),
	() => ({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: text() },
		...times(1 + rnd(4), (i) => ({ role: i % 2 ? 'assistant' : 'user', content: text() }))] }),
	() => ({ model: 'gpt-4.1', messages: [{ role: 'developer', content: text() },
		{ role: 'user', name: 'ana', content: text() }] }),
	() => ({ model: 'gpt-4o', messages: [{ role: 'user', content: times(1 + rnd(3), () => ({ type: 'text', text: text() })) }] }),
	() => ({ model: 'gpt-4o', stream: true, max_tokens: 100, messages: [
		{ role: 'user', content: text() },
		{ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
			function: { name: 'lookup', arguments: JSON.stringify({ q: text() }) } }] },
		{ role: 'tool', tool_call_id: 'call_1', content: text() }] }),
	() => ({ model: 'gpt-3.5-turbo-instruct', prompt: text() }),
	() => ({ model: 'gpt-3.5-turbo-instruct', prompt: times(1 + rnd(3), text) }),
	() => ({ model: 'davinci-002', prompt: times(3 + rnd(20), () => rnd(50000)) }),
	() => ({ model: 'text-embedding-3-small', input: text() }),
	() => ({ model: 'text-embedding-3-small', input: times(2 + rnd(3), text) }),
	() => ({ model: 'text-embedding-3-large', input: [times(5, () => rnd(9000)), times(7, () => rnd(9000))] }),
	() => ({ model: 'gpt-4.1', input: text() }),
	() => ({ model: 'gpt-4.1', instructions: text(), input: [{ role: 'user', content: text() },
		{ role: 'user', content: [{ type: 'input_text', text: text() }] }] }),
	() => ({ model: 'claude-sonnet-4', max_tokens: 256, system: text(), messages: [{ role: 'user', content: text() }] }),
	() => ({ model: 'claude-sonnet-4', max_tokens: 256, system: [{ type: 'text', text: text() }],
		messages: [{ role: 'user', content: [{ type: 'text', text: text() }] },
			{ role: 'assistant', content: text() }, { role: 'user', content: text() }] }),
];
const out = [];
for (let i = 0; i < 300; i++)
	out.push(JSON.stringify(shapes[i % shapes.length]()));
writeFileSync(join(here, 'requests.jsonl'), out.join('\n') + '\n');

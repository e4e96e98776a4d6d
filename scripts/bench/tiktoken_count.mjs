// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// tiktoken_count.mjs MODDIR ENCODING FILE [-t|-q]: the reference token counts
// of js-tiktoken (installed in MODDIR/node_modules by scripts/tiktoken-ranks.sh)
// for FILE, one JSON string per line: one count per line, in order, as
// build/bench/bpe_count prints them. With -q each line is a request body and
// the count its prompt's, as OpenAI's cookbook counts chat (3 tokens a
// message, 1 more for a name, 3 for the reply) and as user/gw/tokens.h says
// for the other shapes. With -t instead one line with the
// throughput of encode() over all the texts, in MB/s of UTF-8, repeated for
// at least 2 s after one warm-up round (so the JIT has compiled it).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const [moddir, enc, file, flag] = process.argv.slice(2);
if (!moddir || !enc || !file) {
	process.stderr.write('usage: tiktoken_count.mjs MODDIR o200k_base|cl100k_base FILE [-t]\n');
	process.exit(2);
}
const require = createRequire(resolve(moddir) + '/');
const { Tiktoken } = require('js-tiktoken/lite');
const t = new Tiktoken(require(`js-tiktoken/ranks/${enc}`));
const texts = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const count = (s) => t.encode(s, [], []).length;

// the prompt tokens of a request body
const str = (v) => (typeof v === 'string' ? count(v) : 0);
const sum = (a, f) => a.reduce((n, x) => n + f(x), 0);
const content = (v) => (typeof v === 'string' ? count(v) :
	Array.isArray(v) ? sum(v, (p) => (typeof p === 'string' ? count(p) : str(p?.text))) : 0);
const chat = (msgs) => 3 + sum(msgs.filter((m) => m && typeof m === 'object' && !Array.isArray(m)), (m) =>
	3 + str(m.role) + content(m.content) + (typeof m.name === 'string' ? 1 + count(m.name) : 0) +
	sum(Array.isArray(m.tool_calls) ? m.tool_calls : [], (c) => str(c?.function?.name) + str(c?.function?.arguments)));
const seq = (v) => (typeof v === 'string' ? count(v) : Array.isArray(v) ?
	sum(v, (p) => (typeof p === 'number' ? 1 : Array.isArray(p) ? p.length : str(p))) : 0);
const defs = (v) => (v === undefined ? 0 : count(JSON.stringify(v)));
function prompt(r) {
	const n = defs(r.tools) + defs(r.functions);
	if (Array.isArray(r.messages))
		return n + content(r.system) + chat(r.messages);
	if (Array.isArray(r.input) && r.input[0] && typeof r.input[0] === 'object' && !Array.isArray(r.input[0]))
		return n + str(r.instructions) + chat(r.input);
	return n + str(r.instructions) + seq(r.input) + seq(r.prompt);
}

if (flag === '-q') {
	console.log(texts.map(prompt).join('\n'));
	process.exit(0);
}
if (flag !== '-t') {
	console.log(texts.map(count).join('\n'));
	process.exit(0);
}
const bytes = texts.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
texts.forEach(count);
let rounds = 0;
const t0 = process.hrtime.bigint();
let secs = 0;
do {
	texts.forEach(count);
	rounds++;
	secs = Number(process.hrtime.bigint() - t0) / 1e9;
} while (secs < 2);
console.log(`${enc}: ${((bytes * rounds) / secs / 1e6).toFixed(3)} MB/s (${bytes} bytes in ${texts.length} texts x ${rounds} rounds in ${secs.toFixed(2)} s)`);

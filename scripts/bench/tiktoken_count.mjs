// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// tiktoken_count.mjs MODDIR ENCODING FILE [-t]: the reference token counts
// of js-tiktoken (installed in MODDIR/node_modules by scripts/tiktoken-ranks.sh)
// for FILE, one JSON string per line: one count per line, in order, as
// build/bench/bpe_count prints them. With -t instead one line with the
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
console.log(`${enc}: ${((bytes * rounds) / secs / 1e6).toFixed(2)} MB/s (${bytes} bytes in ${texts.length} texts x ${rounds} rounds in ${secs.toFixed(2)} s)`);

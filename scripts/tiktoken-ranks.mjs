// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// tiktoken-ranks.mjs MODULE_DIR ENCODING OUTFILE: the ranks that js-tiktoken
// ships for ENCODING, written as a .tiktoken file (base64 of the token's
// bytes, a space, the rank, LF; in rank order). Called by tiktoken-ranks.sh.
//
// js-tiktoken 1.0.21 keeps them in dist/ranks/ENCODING.js as one string,
// bpe_ranks: lines of "NAME OFFSET TOKEN TOKEN ...", each TOKEN base64, its
// rank OFFSET plus its place on the line. Its constructor lets a later
// token win over an earlier one; here a token seen twice, a rank given
// twice, or a token that is not canonical base64 is an error instead, so
// that the C loader never meets a table that js-tiktoken reads differently.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [dir, enc, out] = process.argv.slice(2);
if (!dir || !enc || !out) {
	console.error('usage: tiktoken-ranks.mjs MODULE_DIR ENCODING OUTFILE');
	process.exit(2);
}
const file = join(dir, 'dist', 'ranks', `${enc}.js`);
const fail = (msg) => {
	console.error(`tiktoken-ranks: ${file}: ${msg}`);
	process.exit(1);
};
let data;
try {
	data = (await import(pathToFileURL(file).href)).default;
} catch (e) {
	fail(`cannot load: ${e.message}`);
}
if (!data || typeof data.bpe_ranks !== 'string')
	fail('no bpe_ranks string (has the package changed its layout?)');

const byRank = new Map();
const seen = new Set();
data.bpe_ranks.split('\n').filter(Boolean).forEach((line, ln) => {
	const [, offStr, ...tokens] = line.split(' ');
	const off = Number.parseInt(offStr, 10);
	if (!Number.isSafeInteger(off) || off < 0 || String(off) !== offStr)
		fail(`bpe_ranks line ${ln + 1}: bad offset '${offStr}'`);
	tokens.forEach((tok, i) => {
		const rank = off + i;
		const bytes = Buffer.from(tok, 'base64');
		if (bytes.length === 0 || bytes.toString('base64') !== tok)
			fail(`bpe_ranks line ${ln + 1}: token ${i + 1} '${tok}' is not canonical base64`);
		if (seen.has(tok))
			fail(`bpe_ranks line ${ln + 1}: token '${tok}' given twice`);
		if (byRank.has(rank))
			fail(`bpe_ranks line ${ln + 1}: rank ${rank} given twice`);
		seen.add(tok);
		byRank.set(rank, tok);
	});
});
if (byRank.size < 256)
	fail(`only ${byRank.size} tokens`);
const lines = [...byRank.keys()].sort((a, b) => a - b).map((r) => `${byRank.get(r)} ${r}\n`);
writeFileSync(out, lines.join(''));
console.log(`${enc}: ${lines.length} ranks`);

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// gen.mjs: writes corpus.jsonl beside it, the texts on which
// tests/cli/tokens.sh compares the C token counter (user/lib/bpe.c) with
// js-tiktoken: one JSON string per line. Deterministic (a fixed seed, no
// clock), so running it again gives the same file; it is checked in and
// only run again when the generator changes: node tests/data/tokens/gen.mjs
//
// What the texts are for: every branch of both pretokenizers (letters of
// each case class, marks, numbers of each kind, every white space that
// JavaScript's \s has and some that it has not, CR/LF runs, contractions
// in every case, punctuation runs with and without a space before and
// CR/LF or '/' after), and the merge on short and very long pieces. Only
// code points of Unicode 15.0 and older: the C side classifies with the
// system's ICU 72, node with a newer one, and later code points differ.
// No NUL (cJSON ends a string there) and no lone surrogate.
import { writeFileSync } from 'node:fs';

let seed = 0x5eed1234;
// xorshift32: the next 32 random bits
function next() {
	seed ^= seed << 13;
	seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5;
	seed >>>= 0;
	return seed;
}
const rnd = (n) => next() % n;
const pick = (a) => a[rnd(a.length)];
const chance = (p) => next() / 4294967296 < p;
const times = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const repeat = (n, f) => times(n, f).join('');

const out = [];
const add = (s) => out.push(s);

// --- English prose ---
const WORDS = (
	'the of and to in is it you that he was for on are with as his they be at one have this ' +
	'from or had by word but what some we can out other were all there when up use your how ' +
	'said an each she which do their time if will way about many then them write would like ' +
	'so these her long make thing see him two has look more day could go come did number ' +
	'sound no most people my over know water than call first who may down side been now find ' +
	'gateway token request model prompt latency throughput budget tenant policy stream ' +
	'counting encoding merge rank table piece character whitespace boundary kernel packet'
).split(' ');
const NAMES = 'Alice Bob Carol Dave Eve Mallory OpenAI GPT-4o Linux Debian Paris Zürich'.split(' ');
const PUNCT_END = ['.', '.', '.', '!', '?', '...', '?!', ':', ';'];
function sentence() {
	const n = 3 + rnd(14);
	const w = times(n, () => (chance(0.08) ? pick(NAMES) : pick(WORDS)));
	w[0] = w[0][0].toUpperCase() + w[0].slice(1);
	for (let i = 1; i < n; i++) {
		if (chance(0.07)) w[i] = w[i].toUpperCase();
		else if (chance(0.05)) w[i] = w[i][0].toUpperCase() + w[i].slice(1);
		if (chance(0.08)) w[i - 1] += ',';
		if (chance(0.02)) w[i] = `"${w[i]}"`;
		if (chance(0.02)) w[i] = `(${w[i]})`;
	}
	return w.join(' ') + pick(PUNCT_END);
}
function paragraph(k) {
	return times(k, sentence).join(pick([' ', ' ', '  ']));
}
for (let i = 0; i < 160; i++) {
	const k = 1 + rnd(6);
	let s = paragraph(k);
	if (chance(0.3)) s += pick(['\n\n', '\n', '\r\n\r\n']) + paragraph(1 + rnd(3));
	if (chance(0.1)) s += pick([' ', '  ', '\t', '\n', ' \n']);
	add(s);
}
add('The quick brown fox jumps over the lazy dog.');
add('Hello, world!');
add('hello world');
add('Hello world');
add(' Hello world');
add('HELLO WORLD');
add('hElLo WoRlD');
add('A');
add('a');
add(' ');
add('I');
add('OK.');
add('e.g. i.e. etc. vs. Mr. Mrs. Dr. U.S.A.');
add('"Quoted," she said. \'Single quoted,\' he replied.');
add('CamelCaseWordsLikeThis and snake_case_words_like_this and SCREAMING_CASE');
add('XMLHttpRequest getHTTPResponseCode iPhone eBay McDonald O\'Neil');

// --- contractions in every case ---
const CONTR = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
function caseMix(s) {
	return [...s].map((c) => (chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
}
for (const c of CONTR) {
	for (const v of new Set([c, c.toUpperCase(), caseMix(c), caseMix(c), caseMix(c)])) {
		add(`it${v} fine`);
		add(`${v}`);
		add(`${v}x`);
		add(`DON${v}`);
		add(` ${v} `);
	}
}
for (const s of [
	"DON'T", "don't", "Don'T", "we'Ve", "WE'VE", "I'M", "i'm", "they'LL", "They'Ll", "she'd",
	"SHE'D", "it's", "IT'S", "It'S", "you're", "YOU'RE", "You'rE", "'s", "'S", "''s", "'''",
	"x'", "'re'", "rock'n'roll", "O'Neil's", "students'", "don’t", "it’s", "l'homme",
	"aujourd'hui", "'tis", "'twas", "'ll've", "can't've", "y'all'd've", "1's", "'s1", "é's",
	"ÉCOLE'S", "naïve's", "日本's", "'\u0301s", "a'\u0301", "'M'M'M", "'ss", "'sm", "'dd", "'lll",
	"'ree", "'vee", "word 'quote' word", "''", "'", "'\n's", "a's b'T c'rE d'vE e'Ll f'D g'M",
]) add(s);
for (let i = 0; i < 30; i++) {
	add(times(2 + rnd(8), () => pick(WORDS) + (chance(0.5) ? caseMix(pick(CONTR)) : '')).join(pick([' ', '', '\t', '  '])));
}

// --- code ---
const IDENT = 'buf len count tokens i j n ctx req resp pool backend err rc key value node next prev'.split(' ');
const id = () => pick(IDENT) + (chance(0.3) ? '_' + pick(IDENT) : '') + (chance(0.2) ? rnd(100) : '');
const ind = (d, tab) => (tab ? '\t'.repeat(d) : '    '.repeat(d));
function cCode() {
	const tab = chance(0.7);
	const nl = chance(0.15) ? '\r\n' : '\n';
	const f = id();
	const lines = [
		`/* ${sentence()} */`,
		`static int ${f}(const struct ${id()} *${id()}, size_t ${id()})`,
		'{',
		`${ind(1, tab)}int err = 0;`,
		'',
		`${ind(1, tab)}for (size_t i = 0; i < ${id()}; i++) {`,
		`${ind(2, tab)}if (${id()}[i] == '\\n' && ${id()} != NULL)`,
		`${ind(3, tab)}return -EINVAL;`,
		`${ind(2, tab)}${id()} += ${rnd(100000)} * 0x${next().toString(16)}u;`,
		`${ind(1, tab)}}`,
		`${ind(1, tab)}printf("%s: %zu\\n", __func__, ${id()});`,
		`${ind(1, tab)}return err;`,
		'}',
	];
	return lines.join(nl) + (chance(0.5) ? nl : '');
}
function pyCode() {
	const f = id();
	return [
		`def ${f}(${id()}, ${id()}=None, *args, **kwargs):`,
		`    """${sentence()}"""`,
		`    if ${id()} is None:`,
		`        ${id()} = [x ** 2 for x in range(${rnd(1000)}) if x % 3 == 0]`,
		`    return {'${id()}': ${id()}, "n": len(${id()})}  # ${pick(WORDS)}`,
		'',
		'',
		`class ${f[0].toUpperCase() + f.slice(1)}Error(Exception):`,
		'    pass',
	].join('\n');
}
function jsCode() {
	return [
		`export async function ${id()}(${id()}) {`,
		`  const ${id()} = await fetch(\`https://api.example.com/v1/${id()}?q=\${encodeURIComponent(${id()})}\`);`,
		`  if (!${id()}.ok) throw new Error(\`HTTP \${${id()}.status}\`);`,
		`  return (${id()}?.items ?? []).map((x) => ({ ...x, n: x.n >>> 0 }));`,
		'}',
	].join(chance(0.2) ? '\r\n' : '\n');
}
function rustCode() {
	return [
		`impl<'a> ${id()}<'a> {`,
		`    pub fn ${id()}(&mut self, ${id()}: &'a [u8]) -> Result<usize, Box<dyn std::error::Error>> {`,
		`        let ${id()}: Vec<_> = ${id()}.iter().filter(|&&b| b != b'\\n').collect();`,
		`        Ok(${id()}.len())`,
		'    }',
		'}',
	].join('\n');
}
function goCode() {
	return [
		'package main',
		'',
		'import (\n\t"fmt"\n\t"os"\n)',
		'',
		`func ${id()}(${id()} []byte) (int, error) {`,
		`\tif len(${id()}) == 0 {`,
		`\t\treturn 0, fmt.Errorf("empty %q", ${id()})`,
		'\t}',
		`\tfmt.Fprintln(os.Stderr, ${rnd(65536)})`,
		'\treturn 1, nil',
		'}',
	].join('\n');
}
function sqlCode() {
	return `SELECT ${id()}, COUNT(*) AS n FROM ${id()} WHERE ${id()} >= ${rnd(9999)} AND name LIKE '%${pick(WORDS)}%'\n  GROUP BY 1 ORDER BY n DESC LIMIT ${rnd(100)};`;
}
function shCode() {
	return `#!/bin/sh\nset -eu\nfor f in "$@"; do\n\t[ -f "$f" ] || continue\n\tgrep -c '${pick(WORDS)}' "$f" >>/tmp/${id()}.log 2>&1 && echo "ok $f"\ndone\n`;
}
function htmlCode() {
	return `<!DOCTYPE html>\n<html lang="en">\n  <head><meta charset="utf-8"><title>${sentence()}</title></head>\n  <body>\n    <p class="${id()}">${sentence()}&nbsp;&amp;&lt;</p>\n  </body>\n</html>`;
}
const CODE = [cCode, pyCode, jsCode, rustCode, goCode, sqlCode, shCode, htmlCode];
for (let i = 0; i < 160; i++) add(CODE[i % CODE.length]());
add('x=1;y=2;z=x+y;');
add('a//b///c////d\n/\n//\r\n///');
add('if(a&&b||!c){return;}');
add('printf("%d\\n", x);');
add('\t\tindented();\n\t\t\n\t}');
add('    four();\n        eight();\n            twelve();');
add('#include <stdio.h>\r\nint main(void) { return 0; }\r\n');
add('-->  <!-- --- ==> <== !== === >>= <<= ::: ... ?? ?. => ->');

// --- JSON ---
function jsonValue(d) {
	const k = d > 2 ? rnd(4) : rnd(7);
	switch (k) {
	case 0: return rnd(1e6) - 5e5;
	case 1: return pick(WORDS) + (chance(0.3) ? ' ' + sentence() : '');
	case 2: return chance(0.5);
	case 3: return null;
	case 4: return times(rnd(5), () => jsonValue(d + 1));
	default: {
		const o = {};
		for (let i = rnd(5); i > 0; i--) o[id()] = jsonValue(d + 1);
		return o;
	}
	}
}
for (let i = 0; i < 80; i++) {
	const v = { model: pick(['gpt-4o', 'gpt-4.1-mini', 'o3']), messages: [{ role: 'user', content: sentence() }], data: jsonValue(0) };
	add(JSON.stringify(v, null, pick([0, 0, 2, 4, '\t'])));
}
add('{}');
add('[]');
add('{"a":1,"b":[1,2,3],"c":{"d":null}}');
add('{"emoji":"😀","cjk":"中文","esc":"\\u00e9\\n\\t"}');

// --- emoji ---
const EMOJI = [
	'😀', '😂', '🥲', '🤖', '👍', '👍🏻', '👍🏼', '👍🏽', '👍🏾', '👍🏿', '❤️', '❤', '✨', '🔥', '🎉',
	'👨‍👩‍👧‍👦', '👩‍💻', '🧑🏽‍🚀', '👨🏿‍🦰', '🏳️‍🌈', '🏴‍☠️', '🇩🇪', '🇯🇵', '🇺🇸', '1️⃣', '#️⃣',
	'©️', '™', '☺️', '🫠', '🧑‍🤝‍🧑', '👩🏻‍❤️‍💋‍👨🏼', '🐕‍🦺', '😶‍🌫️',
	'\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}',
];
for (let i = 0; i < 80; i++) {
	const n = 1 + rnd(12);
	add(times(n, () => (chance(0.6) ? pick(EMOJI) : pick(WORDS))).join(pick(['', ' ', '', '  '])));
}
add(EMOJI.join(''));
add(EMOJI.join(' '));
add('👍'.repeat(300));

// --- other scripts ---
const SCRIPTS = {
	zh: ['我们', '今天', '天气', '很好', '人工智能', '模型', '令牌', '计数器', '网关', '中华人民共和国', '，', '。', '！', '？', '、', '“', '”'],
	ja: ['こんにちは', '世界', 'トークン', 'カウント', '東京', 'ありがとう', 'ございます', 'ー', '。', '、', 'ｶﾀｶﾅ', 'ﾃｽﾄ'],
	ko: ['안녕하세요', '세계', '토큰', '한국어', '텍스트', '입니다', '.', ' '],
	ar: ['مرحبا', 'بالعالم', 'العربية', 'نموذج', 'اللغة', '،', '؟', ' ', 'ـ', 'كتاب', '٣٤٥'],
	he: ['שלום', 'עולם', 'עברית', 'בְּרֵאשִׁית', ' ', '.'],
	hi: ['नमस्ते', 'दुनिया', 'हिन्दी', 'भाषा', 'क्षत्रिय', 'है', '।', ' ', '१२३'],
	ru: ['Привет', 'мир', 'Москва', 'ТОКЕН', 'ёжик', 'Съешь', 'же', 'ещё', ' ', ',', '.'],
	el: ['Γειά', 'σου', 'Κόσμε', 'ΑΘΗΝΑ', 'λόγος', ' ', ';'],
	th: ['สวัสดี', 'ครับ', 'ภาษาไทย', ' '],
	mix: ['Ǆ', 'ǅ', 'ǆ', 'ᾈ', 'ʰ', 'ʲ', 'ᵃ', 'ﬁ', 'ß', 'ẞ', 'İ', 'ı', 'Ω', 'Å', 'K'],
};
const LANGS = Object.keys(SCRIPTS);
for (let i = 0; i < 220; i++) {
	const l = LANGS[i % LANGS.length];
	const sep = l === 'zh' || l === 'ja' ? '' : pick([' ', ' ', '']);
	let s = times(1 + rnd(20), () => pick(SCRIPTS[l])).join(sep);
	if (chance(0.25)) s += ' ' + sentence();
	if (chance(0.15)) s = pick(WORDS) + s;
	add(s);
}
// a long CJK run is one piece of hundreds of bytes
add(repeat(400, () => pick(SCRIPTS.zh.slice(0, 10))));
add(repeat(300, () => pick(SCRIPTS.ja.slice(0, 6))));
add(repeat(200, () => String.fromCodePoint(0x4e00 + rnd(0x5000))));
add(repeat(200, () => String.fromCodePoint(0xac00 + rnd(11172))));
add(repeat(100, () => String.fromCodePoint(0x20000 + rnd(0xa6d0))));

// --- accents and combining marks ---
const ACC = ['café', 'naïve', 'résumé', 'Zürich', 'São Paulo', 'Kraków', 'Ærøskøbing', 'façade', 'jalapeño', 'Ångström', 'Œuvre', 'ĳ', 'Łódź', 'Dvořák'];
const MARKS = ['\u0301', '\u0300', '\u0308', '\u0327', '\u0303', '\u030a', '\u0323', '\u20dd', '\u0489', '\u0903', '\u093e', '\u0e31', '\u1ab0'];
for (let i = 0; i < 60; i++) {
	const w = times(1 + rnd(6), () => {
		let x = chance(0.5) ? pick(ACC) : pick(WORDS);
		if (chance(0.5)) x = x.normalize('NFD');
		if (chance(0.4)) x = [...x].map((c) => c + (chance(0.2) ? pick(MARKS) : '')).join('');
		if (chance(0.2)) x = x.toUpperCase();
		return x;
	});
	add(w.join(pick([' ', '', '-', '  '])));
}
for (const m of MARKS) {
	add(m);
	add(m + 'abc');
	add('ABC' + m + 'def');
	add(' ' + m + m + 'x');
	add('1' + m + '2');
	add('!' + m);
	add("x'" + m + 's');
	add('\n' + m);
}
add('Z\u0351\u0358\u0339a\u0337\u0322\u0327l\u0341\u0322g\u0352\u035fo\u0315\u0325 text');
add('e\u0301'.repeat(200));

// --- white space of every kind ---
const WS = [' ', ' ', ' ', '\t', '\n', '\r\n', '\r', '\n\n\n', '\u00a0', '\u3000', '\u2009', '\u200a',
	'\u2002', '\u202f', '\u205f', '\u1680', '\u2028', '\u2029', '\ufeff', '\u000b', '\u000c'];
// not white space to JavaScript's \s
const NOT_WS = ['\u0085', '\u180e', '\u200b', '\u200c', '\u200d', '\u2060', '\u001c', '\u001f', '\u00ad'];
for (let i = 0; i < 150; i++) {
	const parts = times(1 + rnd(8), () => {
		const r = rnd(10);
		if (r < 4) return repeat(1 + rnd(4), () => pick(WS));
		if (r < 5) return pick(NOT_WS);
		if (r < 8) return pick(WORDS);
		if (r < 9) return pick(['.', ',', '!', '(', ')', '/', '-', '"', "'s"]);
		return String(rnd(100000));
	});
	add(parts.join(''));
}
for (const w of [...WS, ...NOT_WS]) {
	add(w);
	add(w + w + w);
	add('a' + w + 'b');
	add('a' + w + w + 'b');
	add('a' + w);
	add(w + 'a');
	add(w + '1');
	add(w + '!');
	add('x ' + w + ' y');
}
add('trailing spaces   ');
add('trailing tab\t');
add('trailing newline\n');
add('   leading spaces');
add('\n\n\nthree newlines first');
add('a\r\n\r\n\r\nb');
add('a \r\n b');
add('a\n \n \nb');
add('  \t  \n  \t  x');
add(' '.repeat(1000));
add(' '.repeat(1000) + 'x');
add('\n'.repeat(500));
add('\t'.repeat(300) + 'end');
add(' \n'.repeat(200));
add('\u3000'.repeat(50) + '全角');
add('\u00a0'.repeat(20) + 'nbsp');

// --- numbers ---
for (let i = 0; i < 50; i++) {
	const r = rnd(6);
	if (r === 0) add(repeat(1 + rnd(40), () => String(rnd(10))));
	else if (r === 1) add(`${rnd(1e6)}.${rnd(1e6)}`);
	else if (r === 2) add(`${rnd(1000)},${String(rnd(1000)).padStart(3, '0')},${String(rnd(1000)).padStart(3, '0')}`);
	else if (r === 3) add(`+1 (${rnd(1000)}) ${rnd(1000)}-${rnd(10000)}`);
	else if (r === 4) add(`v${rnd(10)}.${rnd(100)}.${rnd(1000)}-rc${rnd(10)}`);
	else add(`${rnd(100)}% of ${rnd(1e9)} is ${(next() / 1e3).toFixed(3)}e-${rnd(20)}`);
}
add('3.14159265358979323846264338327950288419716939937510');
add('1'.repeat(1000));
add('12345678901234567890 x 0x7fffffff 0b1010 1e10 -42');
add('٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ０１２３ 𝟎𝟏𝟐𝟑');
add('Ⅰ Ⅱ Ⅲ Ⅻ ⅰⅱⅲ ↉ ½ ¾ ⅞ ² ³ ¹ ① ② ⑳ ⓿ 𐄇');
add('2024-01-15T12:34:56.789Z');
add('$1,234.56 €99,99 ¥10000 £5');
add('a1b22c333d4444e55555');

// --- punctuation ---
const PUNCT = ['!', '?', '.', ',', ';', ':', '-', '_', '(', ')', '[', ']', '{', '}', '<', '>', '/', '\\',
	'|', '@', '#', '$', '%', '^', '&', '*', '+', '=', '~', '`', '"', "'", '…', '—', '–', '«', '»',
	'¿', '¡', '§', '¶', '†', '•', '°', '€', '™', '→', '⇒', '∑', '∞', '≠', '│', '█', '★'];
for (let i = 0; i < 60; i++) {
	add(times(1 + rnd(10), () => repeat(1 + rnd(5), () => pick(PUNCT)) + pick(['', ' ', '\n', '\r\n', 'a', '/', '//\n', ' 1'])).join(''));
}
add('!!!???...,,,;;;');
add('--------------------------------------------------------------------------------');
add('='.repeat(500));
add('.'.repeat(200) + '\n');
add('/'.repeat(100) + '\n/\r\n');
add(' (/\n\n');
add('end.\n\nNext');
add(')\r\n\r\n}');
add('!/\r/\n');

// --- URLs, paths, addresses ---
for (let i = 0; i < 40; i++) {
	add(`${pick(['https', 'http', 'ftp'])}://${pick(['www.', '', 'api.'])}${pick(WORDS)}-${pick(WORDS)}.${pick(['com', 'org', 'io', 'co.uk'])}/${times(rnd(4), () => pick(WORDS)).join('/')}${chance(0.5) ? `?q=${pick(WORDS)}&n=${rnd(100)}#frag` : ''}`);
}
add('mailto:jane.doe+tag@example.com');
add('/usr/local/lib/x86_64-linux-gnu/libfoo.so.1.2.3');
add('C:\\Users\\Admin\\AppData\\Local\\Temp\\file.txt');
add('192.168.0.1:8080 [2001:db8::1]:443 10.0.0.0/8');

// --- special tokens are plain text here ---
for (const s of ['<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|endofprompt|>',
	'Hello<|endoftext|>world', '<|endoftext|><|endoftext|>', ' <|endoftext|> ', '<|endof', 'text|>',
	'<|im_start|>user\nhi<|im_end|>', '<|endoftext|>\n\n<|endoftext|>', '<||>', '<|', '|>']) add(s);

// --- very long words ---
add('a'.repeat(5000));
add('ab'.repeat(2500));
add('Supercalifragilisticexpialidocious'.repeat(50));
add('pneumonoultramicroscopicsilicovolcanoconiosis');
add(repeat(3000, () => String.fromCharCode(97 + rnd(26))));
add(repeat(2000, () => String.fromCharCode(65 + rnd(26)) + String.fromCharCode(97 + rnd(26))));
add('A'.repeat(3000));
add(repeat(1000, () => pick(['x', 'y', 'z', 'é', 'ß', 'ø'])));
add(repeat(50, () => pick(WORDS)).replace(/ /g, ''));
add('ZZZzzz'.repeat(700));

// --- fuzz: random strings over characters of every class ---
const FUZZ = [
	'a', 'z', 'A', 'Z', 'e', 'S', 's', 't', 'T', 'r', 'v', 'l', 'L', 'm', 'd', 'D', "'", "'", '0', '7', ' ', ' ', ' ',
	'\t', '\n', '\r', '\r\n', '/', '.', '!', '-', '"', '\u00a0', '\u3000', '\u2028', '\ufeff', '\u000b',
	'\u0085', '\u200b', '\u001f', '\u0001', '\u007f',
	'é', 'É', 'ǅ', 'ʰ', 'ー', 'あ', '中', 'ا', 'क', 'ि', '\u0301', '\u0903', '\u20dd', 'ß',
	'Ⅻ', '½', '²', '٣', '𝐀', '𝒶', '𠀀', '😀', '👍🏽', '\u200d', '€', '©', '\u{10FFFD}', '\ue000',
];
for (let i = 0; i < 380; i++) add(repeat(1 + rnd(i < 300 ? 12 : 60), () => pick(FUZZ)));

add('');

writeFileSync(new URL('corpus.jsonl', import.meta.url), out.map((s) => JSON.stringify(s) + '\n').join(''));
console.log(`corpus.jsonl: ${out.length} texts`);

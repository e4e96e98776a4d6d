// The official openai SDK against sluiced: chat, streaming, embeddings,
// models, and sluiced's own errors as the SDK's typed APIErrors.
// usage: node openai.mjs BASE_URL (e.g. https://198.18.1.1:8443/v1)
import OpenAI from 'openai';
import { check, done, is, thrown } from './tap.mjs';

const base = process.argv[2];
const via = base.startsWith('https') ? 'tls' : 'plain';
const opts = { baseURL: base, apiKey: 'sk-test', maxRetries: 0, timeout: 10000 };
const client = new OpenAI(opts);
const hex32 = /^[0-9a-f]{32}$/;

await check(`openai ${via}: chat completion`, async (name) => {
	const { data, response } = await client.chat.completions
		.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the sdk' }] })
		.withResponse();
	is(`${name}: the reply`, [data.object, data.choices[0].message.content, data.choices[0].finish_reason],
		['chat.completion', 'echo: hello from the sdk', 'stop']);
	is(`${name}: usage`, [data.usage.prompt_tokens, data.usage.completion_tokens], [4, 5]);
	is(`${name}: x-request-id is sluiced's, as _request_id`,
		[hex32.test(data._request_id), response.headers.get('x-request-id') === data._request_id], [true, true]);
});

await check(`openai ${via}: streaming chat`, async (name) => {
	const t0 = performance.now();
	const stream = await client.chat.completions.create(
		{ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
		  messages: [{ role: 'user', content: 'stream me' }] },
		{ headers: { 'x-mock-tokens': '12', 'x-mock-token-interval': '30ms' } });
	let text = '', chunks = 0, usage = null, first = null, last = null;
	for await (const chunk of stream) {
		chunks++;
		const d = chunk.choices[0]?.delta?.content;
		if (d) {
			text += d;
			first ??= performance.now() - t0;
			last = performance.now() - t0;
		}
		if (chunk.usage) usage = chunk.usage;
	}
	is(`${name}: the deltas make the text`, text, Array.from({ length: 12 }, (_, i) => `tok${i + 1}`).join(' '));
	is(`${name}: role, 12 deltas, finish and usage chunks`, chunks, 15);
	is(`${name}: include_usage gives the usage chunk`, usage?.completion_tokens, 12);
	is(`${name}: tokens arrive as they are made (first well before last)`, last - first > 200, true);
});

await check(`openai ${via}: embeddings`, async (name) => {
	const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b c'] });
	is(`${name}: two vectors of the default 8 dimensions`,
		[r.object, r.data.length, r.data.map((d) => d.index), r.data.map((d) => d.embedding.length)],
		['list', 2, [0, 1], [8, 8]]);
	const norm = Math.hypot(...r.data[0].embedding);
	is(`${name}: unit vectors`, Math.abs(norm - 1) < 1e-3, true);
	const r16 = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x', dimensions: 16 });
	is(`${name}: dimensions 16`, r16.data[0].embedding.length, 16);
});

await check(`openai ${via}: models list`, async (name) => {
	const ids = [];
	for await (const m of client.models.list()) ids.push(m.id);
	is(name, ids, ['gpt-4o-mini', 'text-embedding-3-small']);
});

await check(`openai ${via}: no route`, async (name) => {
	const nope = new OpenAI({ ...opts, baseURL: base.replace(/\/v1$/, '/nope') });
	const e = await thrown(() => nope.models.list());
	is(`${name}: NotFoundError 404 with sluiced's message, type, code`,
		[e instanceof OpenAI.NotFoundError, e.status, /no route for GET \/nope\/models/.test(e.message), e.type, e.code],
		[true, 404, true, 'invalid_request_error', 'unknown_url']);
	is(`${name}: the error carries the request id`, hex32.test(e.requestID), true);
});

await check(`openai ${via}: refused route`, async (name) => {
	const e = await thrown(() => client.chat.completions.create(
		{ model: 'forbidden-1', messages: [{ role: 'user', content: 'x' }] }));
	is(name, [e instanceof OpenAI.NotFoundError, e.status, /is not served here/.test(e.message)], [true, 404, true]);
});

await check(`openai ${via}: invalid JSON`, async (name) => {
	// The SDK only sends valid JSON: a fetch that spoils the body on the way
	const bad = new OpenAI({ ...opts, fetch: (url, init) => fetch(url, { ...init, body: '{"model": "gpt-4o-mini",' }) });
	const e = await thrown(() => bad.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }));
	is(name, [e instanceof OpenAI.BadRequestError, e.status, e.code, /not valid JSON/.test(e.message)],
		[true, 400, 'invalid_json', true]);
});

await check(`openai ${via}: a backend's 429 passes through`, async (name) => {
	const e = await thrown(() => client.chat.completions.create(
		{ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
		{ headers: { 'x-mock-fault': 'status=429' } }));
	is(name, [e instanceof OpenAI.RateLimitError, e.status], [true, 429]);
});

done();

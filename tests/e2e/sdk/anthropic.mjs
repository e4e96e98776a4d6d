// The official @anthropic-ai/sdk against sluiced: messages, streaming
// events in order, and sluiced's errors in Anthropic's shape.
// usage: node anthropic.mjs BASE_URL (e.g. https://198.18.1.1:8443)
import Anthropic from '@anthropic-ai/sdk';
import { check, done, is, thrown } from './tap.mjs';

const base = process.argv[2];
const via = base.startsWith('https') ? 'tls' : 'plain';
const opts = { baseURL: base, apiKey: 'sk-ant-test', maxRetries: 0, timeout: 10000 };
const client = new Anthropic(opts);
const MODEL = 'claude-sonnet-test';

await check(`anthropic ${via}: message`, async (name) => {
	const m = await client.messages.create({ model: MODEL, max_tokens: 64,
		messages: [{ role: 'user', content: 'hello claude' }] });
	is(name, [m.type, m.role, m.content[0].type, m.content[0].text, m.stop_reason, m.usage.input_tokens],
		['message', 'assistant', 'text', 'echo: hello claude', 'end_turn', 2]);
});

await check(`anthropic ${via}: streaming events`, async (name) => {
	const stream = await client.messages.create(
		{ model: MODEL, max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] },
		{ headers: { 'x-mock-tokens': '100', 'x-mock-token-interval': '20ms' } });
	const types = [];
	let text = '';
	for await (const ev of stream) {
		types.push(ev.type);
		if (ev.type === 'content_block_delta') text += ev.delta.text;
	}
	is(`${name}: in order`, types, ['message_start', 'content_block_start', 'content_block_delta',
		'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_delta',
		'content_block_stop', 'message_delta', 'message_stop']);
	is(`${name}: the deltas make the text`, text, 'tok1 tok2 tok3 tok4 tok5');
});

await check(`anthropic ${via}: stream helper`, async (name) => {
	const s = client.messages.stream({ model: MODEL, max_tokens: 64,
		messages: [{ role: 'user', content: 'helper stream text' }] });
	const m = await s.finalMessage();
	is(name, [m.content[0].text, m.stop_reason, m.usage.output_tokens], ['echo: helper stream text', 'end_turn', 4]);
});

await check(`anthropic ${via}: no route`, async (name) => {
	const e = await thrown(() => client.messages.create({ model: 'unrouted-1', max_tokens: 8,
		messages: [{ role: 'user', content: 'x' }] }));
	is(name, [e instanceof Anthropic.NotFoundError, e.status, e.error?.type, e.error?.error?.type,
		/no route/.test(e.error?.error?.message)], [true, 404, 'error', 'not_found_error', true]);
});

await check(`anthropic ${via}: invalid JSON`, async (name) => {
	const bad = new Anthropic({ ...opts, fetch: (url, init) => fetch(url, { ...init, body: '{"model":' }) });
	const e = await thrown(() => bad.messages.create({ model: MODEL, max_tokens: 8, messages: [] }));
	is(name, [e instanceof Anthropic.BadRequestError, e.status, e.error?.type, e.error?.error?.type],
		[true, 400, 'error', 'invalid_request_error']);
});

done();

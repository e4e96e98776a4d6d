// TAP lines for gw_sdk.sh: "ok - name" / "not ok - name" with "#" details.
// check() runs one named test; a throw where none is expected fails it.
let failed = 0;

export function is(name, got, want) {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	if (g === w) {
		console.log(`ok - ${name}`);
		return;
	}
	failed++;
	console.log(`not ok - ${name}\n#   got:  ${g}\n#   want: ${w}`);
}

export async function check(name, fn) {
	try {
		await fn(name);
	} catch (e) {
		failed++;
		console.log(`not ok - ${name}\n#   threw: ${e?.constructor?.name}: ${e?.message}`);
	}
}

// The error fn throws, for tests that expect one.
export async function thrown(fn) {
	try {
		await fn();
	} catch (e) {
		return e;
	}
	throw new Error('expected an error, got a result');
}

export function done() {
	process.exitCode = failed ? 1 : 0;
}

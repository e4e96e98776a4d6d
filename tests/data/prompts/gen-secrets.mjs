// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// gen-secrets.mjs: writes secrets.txt, secrets.kinds and secrets-nearmiss.txt
// beside it, the corpora scripts/patterns-check.sh runs the "secrets" pattern
// set (etc/patterns/secrets.txt) and the built-in secret detectors over.
//
// secrets.txt holds one made-up credential a line, in the prose, config or
// code a user pastes into a prompt; secrets.kinds names its kind on the same
// line. Each has the real format, checksum and all (GitHub's CRC-32 tail, a
// JWT header that decodes to JSON), so a detector that misses one misses a
// real key. None of them is a live credential: every random part comes from
// a fixed seed. secrets-nearmiss.txt holds what must not fire: placeholders,
// wrong lengths, wrong checksums, public keys and certificates, hashes and
// UUIDs without a name that makes them secret, prefixes inside longer words.
//
// Deterministic; checked in and only run again when it changes:
//   node tests/data/prompts/gen-secrets.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

let seed = 0x5ec2e75;
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

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGIT = '0123456789';
const ALNUM = DIGIT + UPPER + LOWER;
const HEX = '0123456789abcdef';
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const BECH32 = '023456789ACDEFGHJKLMNPQRSTUVWXYZ';

// n characters of the alphabet, with an upper-case letter, a lower-case letter
// and a digit among them when the alphabet has them (random keys do)
function str(n, alpha) {
	for (;;) {
		let s = '';
		for (let i = 0; i < n; i++)
			s += alpha[rnd(alpha.length)];
		const has = (set) => [...s].some((c) => set.includes(c));
		if ((!/[A-Z]/.test(alpha) || has(UPPER)) && (!/[a-z]/.test(alpha) || has(LOWER)) &&
		    (!/[0-9]/.test(alpha) || has(DIGIT)))
			return s;
	}
}

function crc32(s) {
	let c = 0xffffffff;
	for (const ch of Buffer.from(s)) {
		c ^= ch;
		for (let k = 0; k < 8; k++)
			c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
	}
	return (~c) >>> 0;
}

function b62(v, n) {
	let s = '';
	for (let i = 0; i < n; i++) {
		s = ALNUM[v % 62] + s;
		v = Math.floor(v / 62);
	}
	return s;
}

const b64url = (s) => Buffer.from(s).toString('base64url');
const b64 = (n) => Buffer.from(Array.from({ length: n }, () => rnd(256))).toString('base64');

// --- generators, one per kind ---
const gen = {
	aws_access_key: () => pick(['AKIA', 'ASIA']) + str(16, UPPER + DIGIT),
	aws_secret_key: () => str(40, B64),
	github_token: () => {
		if (rnd(5) == 0)
			return 'github_pat_' + str(22, ALNUM) + '_' + str(59, ALNUM);
		const body = str(30, ALNUM);
		return 'gh' + pick(['p', 'o', 'u', 's', 'r']) + '_' + body + b62(crc32(body), 6);
	},
	slack_token: () => 'xox' + pick(['b', 'p', 'a']) + '-' + str(11, DIGIT) + '-' + str(12, DIGIT) +
		'-' + str(24, ALNUM),
	slack_webhook: () => 'https://hooks.slack.com/services/T' + str(10, UPPER + DIGIT) + '/B' +
		str(10, UPPER + DIGIT) + '/' + str(24, ALNUM),
	openai_key: () => pick(['sk-proj-', 'sk-svcacct-', 'sk-']) + str(pick([48, 64, 80]), ALNUM + '_-'),
	anthropic_key: () => 'sk-ant-api03-' + str(93, ALNUM + '_-') + 'AA',
	jwt: () => {
		const alg = pick(['HS256', 'RS256', 'ES256']);
		const h = b64url(JSON.stringify({ alg, typ: 'JWT' }));
		const p = b64url(JSON.stringify({ sub: String(1000 + rnd(90000)), name: pick(['Ana', 'Bo', 'Chen']),
			iat: 1700000000 + rnd(50000000) }));
		return h + '.' + p + '.' + str(43, B64URL);
	},
	pem_private_key: () => {
		const label = pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY',
			'ENCRYPTED PRIVATE KEY']);
		return `-----BEGIN ${label}----- ${b64(48)} ${b64(48)} ${b64(24)} -----END ${label}-----`;
	},
	google_api_key: () => 'AIza' + str(35, ALNUM + '_-'),
	azure_storage_key: () => 'DefaultEndpointsProtocol=https;AccountName=acme' + str(4, LOWER + DIGIT) +
		';AccountKey=' + str(86, B64) + '==;EndpointSuffix=core.windows.net',
	digitalocean_token: () => pick(['dop', 'doo', 'dor']) + '_v1_' + str(64, HEX),
	heroku_api_key: () => 'HEROKU_API_KEY=' + [8, 4, 4, 4, 12].map((n) => str(n, HEX)).join('-'),
	datadog_key: () => pick(['DD_API_KEY', 'DATADOG_API_KEY', 'DD_APP_KEY']) + '=' + str(pick([32, 40]), HEX),
	vault_token: () => pick(['hvs.', 'hvb.']) + str(pick([91, 95, 120]), ALNUM + '_-'),
	age_secret_key: () => 'AGE-SECRET-KEY-1' + str(58, BECH32),
	stripe_key: () => pick(['sk_live_', 'rk_live_']) + str(pick([24, 32, 99]), ALNUM),
	square_token: () => rnd(2) ? 'EAAA' + str(60, ALNUM + '_-') : 'sq0atp-' + str(22, ALNUM + '_-'),
	twilio_key: () => 'SK' + str(32, HEX),
	twilio_auth_token: () => 'TWILIO_AUTH_TOKEN=' + str(32, HEX),
	sendgrid_key: () => 'SG.' + str(22, ALNUM + '_-') + '.' + str(43, ALNUM + '_-'),
	mailgun_key: () => 'key-' + str(32, HEX),
	telegram_bot_token: () => str(9, '123456789') + ':AA' + str(33, ALNUM + '_-'),
	discord_bot_token: () => pick(['M', 'N', 'O']) + str(23, ALNUM) + '.' + str(6, ALNUM + '_-') + '.' +
		str(27, ALNUM + '_-'),
	npm_token: () => 'npm_' + str(36, ALNUM),
	pypi_token: () => 'pypi-AgEIcHlwaS5vcmc' + str(pick([70, 120]), ALNUM + '_-'),
	gitlab_token: () => 'glpat-' + str(20, ALNUM + '_-'),
	huggingface_token: () => 'hf_' + str(34, UPPER + LOWER),
	shopify_token: () => pick(['shpat_', 'shpss_', 'shpca_']) + str(32, HEX),
	database_url: () => pick(['postgres', 'postgresql', 'mysql', 'mongodb+srv', 'redis', 'amqps']) + '://' +
		pick(['app', 'svc_orders', 'admin', 'etl']) + ':' + str(pick([10, 16]), ALNUM + '!#%') + '@' +
		pick(['db.internal.example.com', '10.20.0.5', 'cluster0.abcde.mongodb.net', 'mq.example.org']) +
		pick([':5432/app', ':3306/shop', '/prod', ':6379', ':5671/vhost']),
	password: () => str(pick([10, 14, 18]), ALNUM + '!#&+=~@^'),
};

// --- the sentences a credential arrives in; {} is the credential ---
const contexts = {
	aws_access_key: ['My boto3 client fails with AccessDenied, I set AWS_ACCESS_KEY_ID={} in .env, what else is needed?',
		'aws configure asked for the access key, I typed {} and now s3 ls hangs. Why?',
		'Here is the IAM user we created for CI: access key {}. Write a policy for read-only S3.',
		'Terraform provider block: provider "aws" { access_key = "{}" region = "eu-west-1" } is this ok?',
		'The log line says "InvalidClientTokenId" for key {}, how do I check if it was deactivated?'],
	aws_secret_key: ['[default]\\naws_access_key_id = AKIA' + 'Q3EGRLQ2Z7XNS5HD' + ' aws_secret_access_key = {} why does the CLI ignore this profile?',
		'export AWS_SECRET_ACCESS_KEY={} then run the deploy script, it says signature mismatch',
		'In our settings.py: AWS_SECRET_KEY = "{}" - how do I move it to Secrets Manager?',
		'docker run -e aws_secret_access_key={} myimage fails to upload to S3, help',
		'The vendor sent: secret access key: {} — can you format this into a credentials file?'],
	github_token: ['git push says authentication failed even though I set GITHUB_TOKEN={} in the workflow',
		'curl -H "Authorization: token {}" https://api.github.com/user returns 401, why?',
		'Add this to .npmrc for the GitHub registry: //npm.pkg.github.com/:_authToken={}',
		'My gh CLI config has oauth_token: {} but gh auth status says not logged in',
		'Can you write a Python script that lists my repos using the token {} ?'],
	slack_token: ['The bot token is {} and chat.postMessage returns not_in_channel, what scope is missing?',
		'SLACK_BOT_TOKEN={} is in my docker-compose.yml; how do I rotate it?',
		'Using slack_sdk WebClient(token="{}") I get invalid_auth on the second workspace',
		'Our legacy integration uses {} — is that a user token or a bot token?'],
	slack_webhook: ['Post deploy notices to {} from a GitHub Action, write the step for me',
		'curl -X POST -H "Content-type: application/json" --data \'{"text":"done"}\' {} returns 404',
		'Alertmanager config: slack_configs: - api_url: {} channel: "#alerts" is the indentation right?'],
	openai_key: ['openai.OpenAI(api_key="{}") raises AuthenticationError, did I copy it wrong?',
		'OPENAI_API_KEY={} is in my .env but LangChain still asks for a key',
		'Why does curl https://api.openai.com/v1/models -H "Authorization: Bearer {}" say insufficient_quota?',
		'Please add my key {} to this Node snippet so the chat call works'],
	anthropic_key: ['anthropic.Anthropic(api_key="{}") gives 401 invalid x-api-key, what is wrong?',
		'ANTHROPIC_API_KEY={} in my shell profile, but the SDK does not pick it up in cron',
		'curl https://api.anthropic.com/v1/messages -H "x-api-key: {}" -H "anthropic-version: 2023-06-01" returns 400'],
	jwt: ['Decode this token and tell me when it expires: {}',
		'Our API returned Authorization: Bearer {} — is the signature algorithm safe?',
		'The cookie session={} keeps getting rejected by the Express middleware, why?',
		'jwt.verify fails with "invalid signature" for {} using our HS256 secret'],
	pem_private_key: ['My nginx refuses the cert, here is the key file content: {} does it match the cert?',
		'ssh says "invalid format" for this key: {}',
		'Convert this to PKCS#8 for Java please: {}',
		'Kubernetes secret tls.key contains {} and the ingress shows a default cert'],
	google_api_key: ['Maps JavaScript API says RefererNotAllowedMapError with key={} — how do I fix the restriction?',
		'GOOGLE_API_KEY={} used with the Gemini SDK returns PERMISSION_DENIED',
		'<script src="https://maps.googleapis.com/maps/api/js?key={}&callback=initMap"></script> shows a grey map'],
	azure_storage_key: ['Our connection string is {} and BlobServiceClient says AuthenticationFailed',
		'Put this in appsettings.json for me: "Storage": "{}"'],
	digitalocean_token: ['doctl auth init asked for a token, I gave {} and it says unable to authenticate',
		'Terraform digitalocean provider token = "{}" - how to read it from an env var instead?'],
	heroku_api_key: ['My CI has {} set, and heroku container:push still prompts for login',
		'In .env: {} — how do I use it with the Platform API from Python?'],
	datadog_key: ['The agent logs "API Key invalid", our docker-compose has {}',
		'helm install datadog --set datadog.apiKey from {} fails, what is the right value name?'],
	vault_token: ['VAULT_TOKEN={} vault kv get secret/app returns permission denied',
		'The Vault token I got from the UI is {}, how long is its TTL by default?'],
	age_secret_key: ['sops cannot decrypt, my keys.txt has {} — is the format right?',
		'Here is the age identity for the backup box: {} how do I use it with rage?'],
	stripe_key: ['stripe.api_key = "{}" and charges fail with "No such customer"',
		'Our webhook handler uses STRIPE_SECRET_KEY={} — can you help debug signature errors?',
		'The dashboard gave me {} for the reporting job; can it create refunds?'],
	square_token: ['Square payments API returns UNAUTHORIZED with access token {}',
		'SQUARE_ACCESS_TOKEN={} in production, the sandbox works but prod does not'],
	twilio_key: ['Twilio client = Client("{}", api_secret, account_sid) raises 20003, why?',
		'The API key SID is {} — where do I find its secret again?'],
	twilio_auth_token: ['Our .env has {} and TWILIO_ACCOUNT_SID set, SMS sends fail with 20003',
		'Put {} into the Flask config so the webhook validator works'],
	sendgrid_key: ['SENDGRID_API_KEY={} returns 403 Forbidden when sending mail',
		'sg = SendGridAPIClient("{}") — emails go to spam, what DNS records do I need?'],
	mailgun_key: ['requests.post(url, auth=("api", "{}"), data=...) returns 401 from Mailgun',
		'MAILGUN_API_KEY={} works in the US region but not EU, why?'],
	telegram_bot_token: ['My bot token is {} and getUpdates returns an empty list',
		'curl https://api.telegram.org/bot{}/sendMessage?chat_id=42&text=hi returns 404'],
	discord_bot_token: ['client.login("{}") says "An invalid token was provided"',
		'DISCORD_TOKEN={} - the bot is online but does not see message content'],
	npm_token: ['//registry.npmjs.org/:_authToken={} in .npmrc and npm publish says 403',
		'GitHub Action NODE_AUTH_TOKEN: {} — publish still fails with E404'],
	pypi_token: ['twine upload -u __token__ -p {} dist/* returns 403 invalid credentials',
		'~/.pypirc [pypi] username = __token__ password = {} is this correct?'],
	gitlab_token: ['git clone https://oauth2:{}@gitlab.example.com/team/app.git fails with 403',
		'PRIVATE-TOKEN: {} gets 401 on /api/v4/projects, what scopes does it need?'],
	huggingface_token: ['huggingface-cli login --token {} says invalid user token',
		'HF_TOKEN={} and from_pretrained still cannot download the gated model'],
	shopify_token: ['X-Shopify-Access-Token: {} returns 401 on the Admin API',
		'Our private app uses {} — how do I move to a custom app?'],
	database_url: ['DATABASE_URL={} and Django says FATAL: password authentication failed',
		'SQLAlchemy create_engine("{}") hangs on connect, firewall?',
		'The worker reads BROKER_URL={} from the environment; celery cannot connect'],
	password: ['config.yaml: db: host: 10.0.0.5 password: {} — why does the service not start?',
		'In settings: DB_PASSWORD={} and the migrations fail with access denied',
		'Our legacy PHP has $db = new mysqli($h, $u, $pass = "{}"); please rewrite with PDO',
		'connection: { user: "svc", password: "{}" } - is this YAML or JSON?'],
};

const lines = [], kinds = [];
for (const [kind, ctxs] of Object.entries(contexts)) {
	const n = Math.max(4, ctxs.length);
	for (let i = 0; i < n; i++) {
		lines.push(ctxs[i % ctxs.length].replace('{}', gen[kind]()));
		kinds.push(kind);
	}
}

const HEAD = '# generated by gen-secrets.mjs (a fixed seed): do not edit, change the generator\n';
writeFileSync(join(here, 'secrets.txt'), HEAD +
	'# one made-up credential a line, each of its real format (checksums included); none is live\n' +
	lines.join('\n') + '\n');
writeFileSync(join(here, 'secrets.kinds'), HEAD + '# the kind of each line of secrets.txt\n' +
	kinds.join('\n') + '\n');

// --- near misses: each must not fire ---
const ghBody = str(30, ALNUM);
const ghBad = ghBody + (b62(crc32(ghBody), 6) === 'AAAAAA' ? 'AAAAAB' : 'AAAAAA');
const near = [
	// placeholders in documentation
	'Set AWS_ACCESS_KEY_ID=<your-access-key-id> and AWS_SECRET_ACCESS_KEY=<your-secret-key> before running the script',
	'aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY} is read from the environment in our compose file',
	'Replace sk-... with your own key in the OPENAI_API_KEY variable',
	'export OPENAI_API_KEY=sk-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX is what the README shows',
	'The docs say: ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxx... (keep it secret)',
	'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx is the placeholder in the template',
	'Use glpat-xxxxxxxxxxxxxxxxxxxx as shown in the GitLab docs, then replace it',
	'xoxb-your-bot-token goes into SLACK_BOT_TOKEN in the .env.example',
	'stripe.api_key = "sk_live_..." is how the example is written; we load it from Vault',
	'Put your key where it says AIzaSy...YOUR_KEY in the script tag',
	'password: ${DB_PASSWORD} comes from the sealed secret',
	'password = os.environ["DB_PASSWORD"] is used in production, is that fine?',
	'password: "********" is what the admin UI shows for the stored value',
	'DB_PASSWORD=$DB_PASSWORD is passed through by docker compose',
	'passwd: <change-me> in values.yaml is overwritten by the chart',
	'postgres://user:password@localhost:5432/mydb is the example URL in the tutorial',
	'mysql://root:pass@127.0.0.1/test works in the sandbox docs',
	'mongodb://<username>:<password>@cluster0.example.mongodb.net/ is the Atlas template',
	'redis://:${REDIS_PASSWORD}@cache:6379 is in our Helm values',
	'HEROKU_API_KEY=your-api-key is what heroku docs tell you to set',
	'DD_API_KEY=<DATADOG_API_KEY> must be set for the agent container',
	'VAULT_TOKEN=hvs.example is not a real token, just the doc sample',
	'npm_TOKEN is the name of the variable, not the token',
	'hf_token = "hf_xxx" in the notebook should be replaced',
	'AGE-SECRET-KEY-1... goes into keys.txt, see the age README',
	'-----BEGIN PRIVATE KEY----- ... -----END PUBLIC KEY----- is a mismatched pair in the doc, what is it?',
	// public material
	'-----BEGIN PUBLIC KEY----- MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7yQ -----END PUBLIC KEY----- is my public key, is it P-256?',
	'-----BEGIN CERTIFICATE----- MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa -----END CERTIFICATE----- expired yesterday',
	'-----BEGIN CERTIFICATE REQUEST----- MIICvDCCAaQCAQAwdzELMAkGA1UEBhMCVVMx -----END CERTIFICATE REQUEST----- how do I read the SANs?',
	'-----BEGIN PGP PUBLIC KEY BLOCK----- mQINBGN4 -----END PGP PUBLIC KEY BLOCK----- is on my website',
	'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkQ3h0wZ1JqS4pGmQ2uYy9s5h6Kf0B8kzUqZx1yX1bC user@laptop is my public key',
	'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 is truncated in authorized_keys, how do I fix it?',
	'Our Twilio account SID is AC' + str(32, HEX) + ' (account SIDs are public identifiers)',
	'The Stripe publishable key pk_live_' + str(24, ALNUM) + ' is embedded in the checkout page on purpose',
	'Stripe test key sk_test_' + str(24, ALNUM) + ' only works in test mode, right?',
	// hashes, ids and numbers
	'The commit ' + str(40, HEX) + ' broke the build, can you explain git bisect?',
	'md5sum says ' + str(32, HEX) + ' for the ISO but the site lists a different hash',
	'sha256: ' + str(64, HEX) + ' is the digest of the container image',
	'The request id ' + [8, 4, 4, 4, 12].map((n) => str(n, HEX)).join('-') + ' appears twice in the logs',
	'Our tenant UUID is ' + [8, 4, 4, 4, 12].map((n) => str(n, HEX)).join('-') + ', where do I find it in the portal?',
	'Order SKU SK' + str(30, DIGIT) + ' is out of stock',
	'The bucket policy ARN is arn:aws:iam::' + str(12, DIGIT) + ':role/ReadOnly, is it right?',
	'S3 object key photos/2024/' + str(20, UPPER + DIGIT) + '.jpg returns 404',
	// wrong lengths and wrong checksums
	'AKIA' + str(15, UPPER + DIGIT) + ' has only 19 characters, is it a valid AWS key id format?',
	'akia' + str(16, LOWER + DIGIT) + ' in lower case came from a broken log parser',
	'AKIA' + str(17, UPPER + DIGIT) + ' is longer than an access key, what is it?',
	'aws_secret_access_key = ' + str(39, B64) + ' looks one character short',
	'aws_secret_access_key = ' + str(40, LOWER) + ' is all letters, a placeholder',
	'ghp_' + ghBad + ' fails the checksum, GitHub says it is not a token they issued',
	'ghp_' + str(35, ALNUM) + ' is one character short of a classic token',
	'ghx_' + str(36, ALNUM) + ' is not a GitHub prefix at all',
	'sk-' + str(20, ALNUM) + ' is too short to be an OpenAI key',
	'sk-ant-api03-' + str(40, ALNUM) + ' was truncated when I copied it',
	'sk-ant-api02-' + str(90, ALNUM) + ' uses a version that does not exist',
	'xoxb-123 is what the error message printed, the rest was cut',
	'https://hooks.slack.com/services/T000/B000/XXXX is the doc example webhook',
	'AIza' + str(30, ALNUM) + ' is shorter than a Google key',
	'AccountKey=' + str(40, B64) + '== is too short for Azure storage',
	'dop_v1_' + str(40, HEX) + ' seems truncated',
	'hvs.' + str(24, ALNUM) + ' is a short Vault token from an old version?',
	'sk_live_abcdefghijklmnopqrstuvwx has no digits, a doc example',
	'SK' + str(32, UPPER) + ' is not a Twilio key, those are hex',
	'SG.' + str(10, ALNUM) + '.' + str(10, ALNUM) + ' is not a full SendGrid key',
	'key-' + str(20, HEX) + ' is too short for Mailgun',
	'12345:AA' + str(33, ALNUM) + ' has a bot id that is too short',
	'npm_' + str(20, ALNUM) + ' is a partial token from a screenshot',
	'glpat-' + str(10, ALNUM) + ' is too short',
	'hf_' + str(20, LOWER) + ' looks truncated',
	'shpat_' + str(20, HEX) + ' is truncated',
	'eyJhbGciOiJIUzI1NiJ9 is only a JWT header, there is no payload or signature',
	'eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiIxIn0.' + str(20, B64URL) + ' has a header with no alg',
	'eyJ' + str(20, B64URL) + '.abc.def is not a JWT',
	'-----BEGIN RSA PRIVATE KEY----- and nothing after it, the file was cut off at the first line',
	// prefixes inside words and prose
	'The task-' + str(8, DIGIT) + ' ticket mentions sk-learn, which is how people shorten scikit-learn',
	'Use a desk-mounted monitor arm; the risk-assessment template is on the wiki',
	'The package name is ghp_utils in our internal index',
	'The model is named hf_transformer_small in the config',
	'Our SKU format is SK-2024-000123 for the spring catalogue',
	'AKIA is the prefix AWS uses for long-term access key ids, what is ASIA?',
	'What does the xoxb prefix mean on a Slack token?',
	'How are GitHub tokens with the ghp_ prefix different from github_pat_ ones?',
	'Explain what an sk-proj key is compared with a legacy sk- key',
	'How do I rotate an Anthropic key that starts with sk-ant-api03?',
	'What is a JWT and why do they start with eyJ?',
	'What is the difference between -----BEGIN PRIVATE KEY----- and -----BEGIN RSA PRIVATE KEY----- headers?',
	'How should we store passwords? bcrypt or argon2id?',
	'The password policy requires 12 characters, a digit and a symbol',
	'Reset your password at https://accounts.example.com/reset',
	'password_reset_token_ttl = 3600 in the config, is an hour too long?',
	'The field is called password in the form and pwd in the API',
	'if (password.length < 8) return error; is our validation, is it enough?',
	'passwordless login with WebAuthn: how does it work?',
	'Our DB_PASSWORD comes from AWS Secrets Manager at start',
	'The connection string Server=db;Database=app;Integrated Security=true uses Windows auth',
	'postgres://localhost/mydb with peer authentication has no password',
	'mongodb+srv://cluster0.example.mongodb.net/test?authMechanism=MONGODB-X509 uses a certificate',
	'The Authorization header should be Bearer <token>, what goes in <token>?',
	'curl -H "Authorization: Bearer $TOKEN" https://api.example.com/v1/items',
	'api_key = get_secret("openai") in our wrapper, is that safe?',
	'Where does the Telegram BotFather show the token again?',
	'The Discord developer portal hides the bot token after creation',
	'Mailgun keys used to start with key- but now they look different',
	'How long is a Google API key? They start with AIza I think',
	'Can age keys be stored in a YubiKey?',
	'Are DigitalOcean tokens scoped per project?',
	'A Vault root token should be revoked after setup, right?',
	'npm tokens can be read-only or automation, which for CI?',
	'PyPI trusted publishing means no token in GitHub secrets at all',
	'Shopify custom apps give an Admin API access token once',
	'The Datadog site is datadoghq.eu for European accounts',
	'Heroku API keys are UUIDs, how do I tell them from other ids?',
	'How do I check whether a Stripe key is live or test without calling the API?',
	'Square sandbox tokens differ from production, how?',
	'SendGrid keys have three parts separated by dots, what is each?',
	'Hugging Face tokens can be fine-grained now, is that new?',
	'GitLab deploy tokens vs personal access tokens: when to use which?',
	'Twilio recommends API keys over the auth token, why?',
	'Azure SAS tokens vs account keys: which should a web app use?',
];
// numbers and words that look like parts of keys
for (let i = 0; i < 40; i++) {
	const t = rnd(8);
	near.push([
		() => 'Invoice ' + str(12, DIGIT) + ' for order ' + str(8, UPPER + DIGIT) + ' was paid on 2024-0' + (1 + rnd(9)) + '-1' + rnd(10),
		() => 'The build hash is ' + str(12, HEX) + ' and the tag v' + rnd(10) + '.' + rnd(20) + '.' + rnd(30),
		() => 'Tracking number 1Z' + str(16, UPPER + DIGIT) + ' has not moved for a week',
		() => 'The base64 of "hello world ' + i + '" is ' + Buffer.from('hello world ' + i).toString('base64') + ', right?',
		() => 'Docker image sha256:' + str(12, HEX) + ' is 300 MB, how do I slim it?',
		() => 'The Kubernetes pod api-' + str(10, LOWER + DIGIT) + '-' + str(5, LOWER + DIGIT) + ' is in CrashLoopBackOff',
		() => 'My license plate is ' + str(3, UPPER) + '-' + str(4, DIGIT) + ', how do I renew the registration online?',
		() => 'The error code E' + str(6, DIGIT) + ' shows on the dishwasher display',
	][t]());
}
writeFileSync(join(here, 'secrets-nearmiss.txt'), HEAD +
	'# near misses: placeholders, public keys, hashes, wrong lengths and checksums; every flag is a false positive\n' +
	near.join('\n') + '\n');
console.log(`secrets ${lines.length}, near misses ${near.length}`);

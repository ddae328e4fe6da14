// Stand-in for n8n's task-runner-launcher (a Go binary from GitHub releases, which this machine cannot
// reach), in front of the REAL JavaScript runner @n8n/task-runner. It keeps the launcher's contract
// (github n8n-io/task-runner-launcher docs/setup.md; the official image's /etc/n8n-task-runners.json,
// n8n-io/n8n docker/images/runners/): arguments are runner types; N8N_RUNNERS_AUTH_TOKEN is required;
// N8N_RUNNERS_TASK_BROKER_URI (default http://127.0.0.1:5679); GET /healthz on
// N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT (default 5680); per runner: wait for the broker's /healthz,
// exchange the auth token at POST /runners/auth for a grant token, run the runner with only the
// allowed environment plus N8N_RUNNERS_GRANT_TOKEN and its health server on 5681, restart it when it
// exits. Differences: the runner starts at once rather than on the first task offer; `python` is
// logged and skipped (n8n's Python runner is not on a registry this machine reaches).
'use strict';
const http = require('node:http');
const { spawn } = require('node:child_process');

const RUNNER = '/opt/runners/task-runner-javascript/node_modules/@n8n/task-runner/dist/start.js';
const PASSED = ['PATH', 'GENERIC_TIMEZONE', 'NODE_OPTIONS', 'NODE_PATH', 'N8N_RUNNERS_AUTO_SHUTDOWN_TIMEOUT',
  'N8N_RUNNERS_GRACEFUL_SHUTDOWN_TIMEOUT', 'N8N_RUNNERS_TASK_TIMEOUT', 'N8N_RUNNERS_MAX_CONCURRENCY',
  'N8N_SENTRY_DSN', 'N8N_VERSION', 'ENVIRONMENT', 'DEPLOYMENT_NAME', 'HOME'];
const log = (level, text) => console.log(`${new Date().toISOString()} ${level} [launcher:js] ${text}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const token = process.env.N8N_RUNNERS_AUTH_TOKEN;
if (!token) {
  console.error('Failed to load config: N8N_RUNNERS_AUTH_TOKEN is required');
  process.exit(1);
}
const broker = process.env.N8N_RUNNERS_TASK_BROKER_URI || 'http://127.0.0.1:5679';
try {
  if (!/^https?:$/.test(new URL(broker).protocol)) throw new Error('not http(s)');
} catch {
  console.error(`Failed to load config: N8N_RUNNERS_TASK_BROKER_URI is not a valid URL: ${broker}`);
  process.exit(1);
}
const types = process.argv.slice(2);
if (types.length === 0) {
  console.error('Usage: task-runner-launcher <runner-type>...');
  process.exit(1);
}

const healthPort = Number(process.env.N8N_RUNNERS_LAUNCHER_HEALTH_CHECK_PORT || 5680);
http.createServer((req, res) => {
  const ok = req.method === 'GET' && req.url === '/healthz';
  res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
  res.end(ok ? '{"status":"ok"}' : '{}');
}).listen(healthPort, '0.0.0.0');

async function grantToken() {
  for (;;) {
    try {
      if ((await fetch(`${broker}/healthz`)).ok) break;
    } catch {}
    await sleep(1000);
  }
  for (;;) {
    const res = await fetch(`${broker}/runners/auth`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
    }).catch((e) => ({ ok: false, status: e.message }));
    if (res.ok) {
      const body = await res.json();
      return (body.data || body).token;
    }
    log('ERROR', `Failed to fetch grant token: ${res.status}`);
    await sleep(5000);
  }
}

async function runJavascript() {
  for (;;) {
    log('INFO', 'Waiting for task broker to be ready...');
    const grant = await grantToken();
    const env = Object.fromEntries(PASSED.filter((k) => k in process.env).map((k) => [k, process.env[k]]));
    Object.assign(env, {
      N8N_RUNNERS_TASK_BROKER_URI: broker, N8N_RUNNERS_GRANT_TOKEN: grant,
      N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED: 'true', N8N_RUNNERS_HEALTH_CHECK_SERVER_PORT: '5681',
      N8N_RUNNERS_HEALTH_CHECK_SERVER_HOST: '0.0.0.0', NODE_FUNCTION_ALLOW_BUILTIN: 'crypto',
      NODE_FUNCTION_ALLOW_EXTERNAL: 'moment',
    });
    log('INFO', 'Starting runner');
    const child = spawn(process.execPath, ['--disallow-code-generation-from-strings', '--disable-proto=delete',
      RUNNER], { cwd: '/home/runner', env, stdio: 'inherit' });
    const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
    log('INFO', `Runner exited (${code}); restarting`);
    await sleep(1000);
  }
}

for (const type of types) {
  if (type === 'javascript') void runJavascript();
  else log('WARN', `runner type ${type} is not available in this test image; skipped`);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));

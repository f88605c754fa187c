// Soak: sync load and a burst of async invocations at once, then fc-local is SIGKILLed and
// restarted on the same state; every accepted async invocation must run to success exactly once,
// or exactly to its retry limit, and no sync request may fail. Bounded: 10,000 sync requests at
// 50 connections, 2,000 async invocations (30% failing), all on loopback.
// Usage: node bench/soak.js [--backend process|docker] [--image IMG] [--sync 10000] [--async 2000]
import autocannon from 'autocannon';
import { execa } from 'execa';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'process' },
    image: { type: 'string', default: process.env.FC_LOCAL_IMAGE },
    sync: { type: 'string', default: '10000' },
    async: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '50' },
  },
});
const RETRIES = 2; // bench/soak.yml's maxAsyncRetryAttempts
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-soak-state-'));

function rssMB(pid) {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb ? Math.round(Number(kb) / 1024) : NaN;
}

async function start(name) {
  const log = path.join(os.tmpdir(), `fc-local-soak-${name}-${process.pid}.log`);
  const fd = openSync(log, 'w');
  const args = ['bin/fc-local.js', 'start', '-t', 'bench/soak.yml', '--port', '0', '--no-auth', '--no-watch', '--state-dir', stateDir, '--async-backoff', '3000', '--backend', opts.backend];
  if (opts.image) args.push('--image', opts.image);
  const proc = execa('node', args, { cwd: root, stdout: fd, stderr: fd, reject: false });
  closeSync(fd);
  for (let i = 0; i < 600; i++) {
    const m = /listening on (http:\/\/[^ \n]+)/.exec(readFileSync(log, 'utf8'));
    if (m) return { base: m[1], proc, output: () => readFileSync(log, 'utf8') };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`fc-local did not start:\n${readFileSync(log, 'utf8')}`);
}

const first = await start('first');
// Warm the sync function so that RSS "before" is a serving emulator.
await fetch(`${first.base}/2016-08-15/services/soak/functions/sync/invocations`, { method: 'POST', body: 'ok' });
const rssBefore = rssMB(first.proc.pid);

const nAsync = Number(opts.async);
const accepted = new Map(); // requestId -> 'ok' | 'fail'
let refused = 0;
const asyncBurst = (async () => {
  const workers = Array.from({ length: 20 }, async (_, w) => {
    for (let i = w; i < nAsync; i += 20) {
      const kind = i % 10 < 3 ? 'fail' : 'ok';
      const r = await fetch(`${first.base}/2016-08-15/services/soak/functions/async/invocations`, {
        method: 'POST',
        body: kind,
        headers: { 'x-fc-invocation-type': 'Async' },
      });
      if (r.status === 202) accepted.set(r.headers.get('x-fc-request-id'), kind);
      else refused++;
    }
  });
  await Promise.all(workers);
})();
const t0 = Date.now();
const sync = await autocannon({
  url: `${first.base}/2016-08-15/services/soak/functions/sync/invocations`,
  method: 'POST',
  body: 'ok',
  connections: Number(opts.connections),
  amount: Number(opts.sync),
  timeout: 30,
});
await asyncBurst;
const syncSeconds = (Date.now() - t0) / 1000;
const rssAfterLoad = rssMB(first.proc.pid);
first.proc.kill('SIGKILL');
await first.proc;

const runsOf = (text) => {
  const m = new Map();
  for (const [, id] of text.matchAll(/SOAK (\S+) (?:ok|fail)/g)) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
};
const finished = (text) => {
  let done = 0;
  for (const [id, kind] of accepted) {
    if (kind === 'ok' ? text.includes(`SOAK ${id} ok`) : (runsOf(text).get(id) ?? 0) >= RETRIES + 1) done++;
  }
  return done;
};
const pendingAtKill = accepted.size - finished(first.output());
const second = await start('second');
const deadline = Date.now() + 120_000;
while (finished(first.output() + second.output()) < accepted.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
await new Promise((r) => setTimeout(r, 1000)); // anything extra would show now
const rssSecond = rssMB(second.proc.pid);
second.proc.kill('SIGINT');
await second.proc;

const runs = runsOf(first.output() + second.output());
let exact = 0;
let rerunAfterKill = 0;
let wrong = 0;
for (const [id, kind] of accepted) {
  const want = kind === 'ok' ? 1 : RETRIES + 1;
  const got = runs.get(id) ?? 0;
  if (got === want) exact++;
  // An attempt cut by the SIGKILL (it was running) runs again: at most one extra, and only then.
  else if (got === want + 1) rerunAfterKill++;
  else wrong++;
}
const syncErrors = sync.errors + sync.non2xx + sync.timeouts;
console.log(`## Soak, ${opts.backend} backend (${new Date().toISOString().slice(0, 10)})\n`);
console.log(`- sync: ${sync.requests.total} requests at ${opts.connections} connections in ${syncSeconds.toFixed(1)} s, ${syncErrors} errors/non-2xx/timeouts, p50 ${sync.latency.p50} ms, p99 ${sync.latency.p99} ms`);
console.log(`- async: ${accepted.size} accepted (202), ${refused} refused; ${pendingAtKill} not finished when fc-local was SIGKILLed`);
console.log(`- after the restart: ${exact} ran exactly as often as they should (once, or 1 + ${RETRIES} retries when failing), ${rerunAfterKill} ran once more because the kill cut an attempt, ${wrong} wrong (lost or repeated)`);
console.log(`- fc-local RSS: ${rssBefore} MB warm before the load, ${rssAfterLoad} MB after it, ${rssSecond} MB in the restarted run after the resume`);
process.exitCode = syncErrors || wrong || refused ? 1 : 0;

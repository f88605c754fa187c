// Hot-reload benchmark: save -> first response with the new code, over repeated edits, while
// other requests keep flowing; every request must succeed. Bounded: --edits edits, then stop.
// Usage: npm run build && node bench/reload.js [--backend process|docker] [--image IMG] [--edits 20] [--lang js|ts]
// --lang ts: the handler is index.ts, compiled by fc-local on each save (TypeScript on the fly).
import { execa } from 'execa';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'process' },
    image: { type: 'string', default: process.env.FC_LOCAL_IMAGE },
    edits: { type: 'string', default: '20' },
    gap: { type: 'string', default: '150' },
    lang: { type: 'string', default: 'js' },
  },
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-reload-bench-'));
chmodSync(dir, 0o755);
mkdirSync(path.join(dir, 'code'));
writeFileSync(path.join(dir, 'fc.yml'), `services:
  s:
    functions:
      f:
        runtime: nodejs18
        handler: index.handler
        codeUri: ./code
        triggers:
          web: { type: http, config: { methods: [GET] } }
`);
const ts = opts.lang === 'ts';
const file = path.join(dir, 'code', ts ? 'index.ts' : 'index.js');
const code = ts
  ? (v) => `interface Resp { send(body: string): void }\nexport const handler = (_req: unknown, resp: Resp): void => { resp.send('${v}'); };\n`
  : (v) => `exports.handler = function (req, resp) { resp.send('${v}'); };\n`;
writeFileSync(file, code('v0'));

const log = path.join(dir, 'server.log');
const fd = openSync(log, 'w');
const args = ['bin/fc-local.js', 'start', '-t', path.join(dir, 'fc.yml'), '--port', '0', '--no-auth', '--backend', opts.backend, ...(opts.image ? ['--image', opts.image] : [])];
const proc = execa('node', args, { cwd: root, stdout: fd, stderr: fd, reject: false });
closeSync(fd);
let base;
for (let i = 0; i < 600 && !base; i++) {
  base = /listening on (http:\/\/[^ \n]+)/.exec(readFileSync(log, 'utf8'))?.[1];
  if (!base) await new Promise((r) => setTimeout(r, 100));
}
if (!base) throw new Error(`server did not start:\n${readFileSync(log, 'utf8')}`);
const url = `${base}/2016-08-15/proxy/s/f/`;

let total = 0;
const failures = [];
const get = async () => {
  total++;
  const r = await fetch(url);
  const body = await r.text();
  if (r.status !== 200) failures.push(`${r.status} ${body}`);
  return body;
};
await get();

let flowing = true;
const background = [1, 2].map(async () => {
  while (flowing) await get();
});

// The three clients for a while first, so that the pool has scaled out: starting containers is
// not what this measures, and it would take the CPU from the first reloads.
const warmUntil = performance.now() + 2000;
while (performance.now() < warmUntil) await get();

const latencies = [];
for (let i = 1; i <= Number(opts.edits); i++) {
  const t0 = performance.now();
  writeFileSync(file, code(`v${i}`));
  while ((await get()) !== `v${i}`) {
    if (performance.now() - t0 > 10_000) throw new Error(`edit ${i} not served after 10 s`);
  }
  latencies.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, Number(opts.gap)));
}
flowing = false;
await Promise.all(background);
proc.kill('SIGINT');
await proc;

if (process.env.RELOAD_DEBUG) console.error(latencies.map((l) => l.toFixed(0)).join(" "), "\n", readFileSync(log, "utf8").split("\n").filter((l) => l.includes("reloaded")).map((l) => l.replace(/.*reloaded s\/f /, "")).join("\n"));
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)].toFixed(0);
console.log(`| ${opts.backend} ${opts.lang} | ${latencies.length} | ${pct(50)} | ${pct(95)} | ${latencies.at(-1).toFixed(0)} | ${total} | ${failures.length} |`);
if (failures.length) {
  console.error(failures.slice(0, 5).join('\n'));
  process.exitCode = 1;
}

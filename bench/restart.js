// Warm restart: the first answer after `fc-local start` on the Docker backend, with the last run
// stopped with --keep-warm (its container taken over) against a plain restart (a cold start),
// alternating, several rounds; beside it one bare `docker run` of the same image.
// Usage: node bench/restart.js [--rounds 3] [--image IMG]
// Prints a markdown report. Every process and container it starts is removed at the end.
import { execa } from 'execa';
import { closeSync, cpSync, chmodSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    image: { type: 'string', default: process.env.FC_LOCAL_IMAGE ?? 'fc-local/runtime:offline-6' },
  },
});

// A copy of the bench's functions of its own: no other run of the same code takes its containers.
const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-bench-restart-'));
cpSync(path.join(root, 'bench'), dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
chmodSync(dir, 0o755);
const template = path.join(dir, 'fc.yml');

async function start(extra) {
  const log = path.join(dir, `server-${Date.now()}.log`);
  const fd = openSync(log, 'w');
  const proc = execa('node', [path.join(root, 'bin/fc-local.js'), 'start', '-t', template, '--port', '0', '--no-auth', '--no-watch', '--backend', 'docker', '--image', opts.image, '--state-dir', path.join(dir, 'state'), ...extra], { stdout: fd, stderr: fd, reject: false });
  closeSync(fd);
  for (let i = 0; i < 1200; i++) {
    const m = /listening on (http:\/\/[^ \n]+)/.exec(readFileSync(log, 'utf8'));
    if (m) return { base: m[1], log, stop: async () => { proc.kill('SIGINT'); await proc; } };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error(`fc-local did not start:\n${readFileSync(log, 'utf8')}`);
}

/** The first answer of a fresh `fc-local start` (ms from the request), and whether it was warm. */
async function firstAnswer(extra) {
  const srv = await start(extra);
  try {
    const t0 = performance.now();
    const r = await fetch(`${srv.base}/2016-08-15/proxy/bench/http/`);
    await r.arrayBuffer();
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    const log = readFileSync(srv.log, 'utf8');
    return { ms, warm: /took over/.test(log), log };
  } finally {
    await srv.stop();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const bare = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await execa('docker', ['run', '--rm', '--network', 'none', opts.image, 'node', '-e', '0']);
    bare.push(performance.now() - t0);
  }
  const cold = [];
  const warm = [];
  // Each warm restart follows a run stopped with --keep-warm (and keeps nothing itself); each cold
  // one follows a run that kept nothing.
  for (let i = 0; i < Number(opts.rounds); i++) {
    await firstAnswer(['--keep-warm', '2m']);
    const w = await firstAnswer([]);
    if (!w.warm) throw new Error(`the restart did not take the parked container over:\n${w.log}`);
    warm.push(w.ms);
    const c = await firstAnswer([]);
    if (c.warm) throw new Error('a plain restart found a parked container');
    cold.push(c.ms);
  }
  console.log(`## Warm restart on Docker (${new Date().toISOString().slice(0, 10)}, ${opts.rounds} rounds)\n`);
  console.log('| first answer after `fc-local start` | median ms | runs ms |');
  console.log('| --- | ---: | --- |');
  console.log(`| one bare \`docker run\` (reference) | ${median(bare).toFixed(0)} | ${bare.map((x) => x.toFixed(0)).join(', ')} |`);
  console.log(`| plain restart (cold start) | ${median(cold).toFixed(0)} | ${cold.map((x) => x.toFixed(0)).join(', ')} |`);
  console.log(`| after a run stopped with --keep-warm (taken over) | ${median(warm).toFixed(0)} | ${warm.map((x) => x.toFixed(0)).join(', ')} |`);
} finally {
  // The last run kept nothing; anything parked by a failed round goes with its copy of the code.
  const { stdout } = await execa('docker', ['ps', '-aq', '--filter', 'label=fc-local=1', '--filter', 'name=fc-local-parked-'], { reject: false });
  for (const id of stdout.split('\n').filter(Boolean)) {
    const info = await execa('docker', ['inspect', '--format', '{{json .Mounts}}', id], { reject: false });
    if (info.stdout.includes(dir)) await execa('docker', ['rm', '-f', id], { reject: false });
  }
  rmSync(dir, { recursive: true, force: true });
}

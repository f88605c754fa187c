// Burst: N concurrent requests to a cold function, then a short load at N connections, against
// the floor of FC's model (bench/floor.js with N single-request agents) and the engine's own
// single start (one bare `docker run`, or one bare `node` on the process backend).
// Usage: node bench/burst.js [--backend docker|process] [--burst 20] [--duration 10] [--image IMG]
// Prints a markdown report. Every process and container it starts is stopped at the end.
import { execa } from 'execa';
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'docker' },
    burst: { type: 'string', default: '20' },
    duration: { type: 'string', default: '10' },
    image: { type: 'string', default: process.env.FC_LOCAL_IMAGE ?? 'fc-local/runtime:offline-6' },
    standby: { type: 'string', default: '0' },
  },
});
const burst = Number(opts.burst);
const durationMs = Number(opts.duration) * 1000;

async function spawnServer(args, name) {
  const log = path.join(os.tmpdir(), `fc-local-burst-${name.replace(/\W/g, '-')}-${process.pid}.log`);
  const fd = openSync(log, 'w');
  const proc = execa('node', args, { cwd: root, stdout: fd, stderr: fd, reject: false });
  closeSync(fd);
  for (let i = 0; i < 1200; i++) {
    const m = /listening on (http:\/\/[^ \n]+)/.exec(readFileSync(log, 'utf8'));
    if (m) return { base: m[1], log, stop: async () => { proc.kill('SIGINT'); await proc; } };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`${name} did not start:\n${readFileSync(log, 'utf8')}`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: burst });

/** One GET; resolves with its status and time, never throws (an error is a result). */
function get(url, timeoutMs = 60_000) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200 && !res.headers['x-fc-error-type'], status: res.statusCode, ms: performance.now() - t0, at: performance.now() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ok: false, status: err.message, ms: performance.now() - t0, at: performance.now() }));
  });
}

/** `burst` requests at once: when the first and the last answered, and how many failed. */
async function coldBurst(url) {
  const results = await Promise.all(Array.from({ length: burst }, () => get(url)));
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  return { first: times[0], last: times[times.length - 1], errors: results.filter((r) => !r.ok).length, statuses: [...new Set(results.filter((r) => !r.ok).map((r) => r.status))] };
}

/** `burst` connections in a closed loop for the duration: every answer's time and when it came. */
async function closedLoad(url) {
  const results = [];
  const t0 = performance.now();
  const end = t0 + durationMs;
  await Promise.all(
    Array.from({ length: burst }, async () => {
      while (performance.now() < end) results.push(await get(url));
    }),
  );
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  const lastHalf = results.filter((r) => r.at >= t0 + durationMs / 2);
  return {
    total: results.length,
    errors: results.filter((r) => !r.ok).length,
    p99: times[Math.min(times.length - 1, Math.floor(0.99 * times.length))],
    lastRps: lastHalf.length / (durationMs / 2000),
  };
}

/** The engine's one start: a bare `docker run` of the image (or a bare `node`), median of three. */
async function singleStart() {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    if (opts.backend === 'docker') await execa('docker', ['run', '--rm', '--network', 'none', opts.image, 'node', '-e', '0']);
    else await execa('node', ['-e', '0']);
    runs.push(performance.now() - t0);
  }
  return runs.sort((a, b) => a - b)[1];
}

const started = [];
try {
  const single = await singleStart();
  const floor = await spawnServer(['bench/floor.js', String(burst)], 'floor');
  started.push(floor);
  await closedLoad(`${floor.base}/`); // warm-up
  const floorLoad = await closedLoad(`${floor.base}/`);
  await floor.stop();
  started.pop();

  const fc = await spawnServer(['bin/fc-local.js', 'start', '-t', 'bench/fc.yml', '--port', '0', '--no-auth', '--no-watch', '--backend', opts.backend, '--standby', opts.standby, ...(opts.backend === 'docker' ? ['--image', opts.image] : [])], 'fc-local');
  started.push(fc);
  const url = `${fc.base}/2016-08-15/proxy/bench/http/`;
  const cold = await coldBurst(url);
  const fcLoad = await closedLoad(url);
  // The same load again, every instance warm by now: fc-local's own steady state, for scale.
  const warmLoad = await closedLoad(url);
  const containers = opts.backend === 'docker' ? (await execa('docker', ['ps', '-q', '--filter', 'label=fc-local.function=bench/http'])).stdout.split('\n').filter(Boolean).length : undefined;

  const f = (x) => x.toFixed(0);
  console.log(`## Burst on the ${opts.backend} backend: ${burst} concurrent cold requests, then ${opts.duration} s at ${burst} connections (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores)\n`);
  console.log(`One bare ${opts.backend === 'docker' ? '`docker run`' : '`node -e 0`'} (the engine's single start): ${f(single)} ms.\n`);
  console.log('| | first answer ms | last answer ms | errors | p99 ms over the load | req/s, last half | of floor |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(`| floor: minimal gateway + ${burst} single-request agents | | | ${floorLoad.errors} | ${f(floorLoad.p99)} | ${f(floorLoad.lastRps)} | 100% |`);
  console.log(`| fc-local, HTTP trigger | ${f(cold.first)} (${(cold.first / single).toFixed(2)}x one start) | ${f(cold.last)} | ${cold.errors + fcLoad.errors}${cold.statuses.length ? ` (${cold.statuses.join(', ')})` : ''} | ${f(fcLoad.p99)} | ${f(fcLoad.lastRps)} | ${((100 * fcLoad.lastRps) / floorLoad.lastRps).toFixed(0)}% |`);
  console.log(`| fc-local, the same load again (warm) | | | ${warmLoad.errors} | ${f(warmLoad.p99)} | ${f(warmLoad.lastRps)} | ${((100 * warmLoad.lastRps) / floorLoad.lastRps).toFixed(0)}% |`);
  console.log(`\nThe burst's last half reached ${((100 * fcLoad.lastRps) / warmLoad.lastRps).toFixed(0)}% of fc-local's warm throughput.`);
  if (containers !== undefined) console.log(`\nContainers running at the end: ${containers} (for ${burst} connections).`);
} finally {
  for (const s of started.reverse()) await s.stop().catch(() => undefined);
  agent.destroy();
}

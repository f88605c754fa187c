// Benchmarks: fc-local against a bare Node server in the same run, on loopback, bounded in time.
// Usage: npm run bench [-- --duration 5 --connections 10 --backend process]
// Prints a markdown report; ratios matter, absolute numbers depend on the machine.
import autocannon from 'autocannon';
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '10' },
    backend: { type: 'string', default: 'process' },
    invocations: { type: 'string', default: '300' },
    image: { type: 'string', default: process.env.FC_LOCAL_IMAGE },
    cold: { type: 'string', default: '7' },
    'workbench-rounds': { type: 'string', default: '2' },
    warmup: { type: 'string', default: '5' },
    // `workbench`: only the workbench on/off comparison, both servers fresh, the order swapped each round.
    only: { type: 'string' },
    // With `--only workbench`: load both servers at once in each round (same machine state for both).
    'side-by-side': { type: 'boolean', default: false },
  },
});
const duration = Number(opts.duration);
const connections = Number(opts.connections);

/** Starts a server with its output going to a file: reading it here would load autocannon's loop. */
async function spawnServer(args, name) {
  const log = path.join(os.tmpdir(), `fc-local-bench-${name.replace(/\W/g, '-')}-${process.pid}.log`);
  const fd = openSync(log, 'w');
  const proc = execa('node', args, { cwd: root, stdout: fd, stderr: fd, reject: false });
  closeSync(fd);
  for (let i = 0; i < 600; i++) {
    const m = /listening on (http:\/\/[^ \n]+)/.exec(readFileSync(log, 'utf8'));
    if (m) return { base: m[1], pid: proc.pid, stop: async () => { proc.kill('SIGINT'); await proc; } };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`${name} did not start:\n${readFileSync(log, 'utf8')}`);
}

const TICK_MS = 1000 / 100; // USER_HZ on Linux

/** CPU ms used so far by `pid` (the gateway) and by its descendants or, on Docker, its containers. */
function cpuOf(pid) {
  const stats = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(d), { ppid: Number(rest[1]), ms: (Number(rest[11]) + Number(rest[12])) * TICK_MS });
    } catch {
      // gone meanwhile
    }
  }
  const below = (p) => {
    for (let q = stats.get(p)?.ppid; q; q = stats.get(q)?.ppid) if (q === pid) return true;
    return false;
  };
  let instances = 0;
  for (const [p, st] of stats) if (below(p)) instances += st.ms;
  // Containers are not our descendants: their cgroups count their CPU.
  try {
    for (const d of readdirSync('/sys/fs/cgroup/system.slice')) {
      if (!d.startsWith('docker-')) continue;
      const usec = /usage_usec (\d+)/.exec(readFileSync(`/sys/fs/cgroup/system.slice/${d}/cpu.stat`, 'utf8'))?.[1];
      instances += Number(usec ?? 0) / 1000;
    }
  } catch {
    // no cgroup v2 Docker layout here
  }
  try {
    for (const d of readdirSync('/sys/fs/cgroup/cpuacct/docker')) {
      if (!/^[0-9a-f]{64}$/.test(d)) continue;
      instances += Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${d}/cpuacct.usage`, 'utf8')) / 1e6;
    }
  } catch {
    // no cgroup v1 Docker layout here
  }
  return { gateway: stats.get(pid)?.ms ?? 0, instances };
}

async function load(target, url, init = {}) {
  // Warm up (cold starts, JIT), then measure.
  // Ten instances take a few seconds of traffic before their JIT settles: warm up long enough.
  await autocannon({ url, connections, duration: Number(opts.warmup), ...init });
  const before = cpuOf(target.pid);
  // autocannon's own percentiles are whole milliseconds: each response's time is kept instead.
  const times = [];
  const run = autocannon({ url, connections, duration, ...init });
  run.on('response', (_client, _status, _bytes, ms) => times.push(ms));
  const r = await run;
  const after = cpuOf(target.pid);
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  const per1k = (k) => ((after[k] - before[k]) * 1000) / r.requests.total;
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
  return { rps: r.requests.average, p50: at(0.5), p99: at(0.99), gatewayCpu: per1k('gateway'), instanceCpu: per1k('instances') };
}

/** Sequential warm invocations through the invoker vs calling the handler in-process. */
async function invokeOverhead(n) {
  const { loadTemplate } = await import(path.join(root, 'dist/template/load.js'));
  const { createExecutor: createRuntime } = await import(path.join(root, 'dist/runtime/index.js'));
  const { selectBackend } = await import(path.join(root, 'dist/runtime/select-backend.js'));
  const { createRequire } = await import('node:module');
  const tpl = loadTemplate(path.join(root, 'bench/fc.yml')).template;
  const fn = tpl.services[0].functions.find((f) => f.name === 'event');
  const { backend } = await selectBackend(opts.backend, { template: tpl, image: opts.image });
  const rt = createRuntime({ backend, credentials: { accessKeyId: '', accessKeySecret: '', securityToken: '', source: 'none' }, template: () => tpl });
  const event = Buffer.from('{}');
  await rt.invoker.invokeEvent(fn, event); // cold start
  const warm = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await rt.invoker.invokeEvent(fn, event);
    warm.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await rt.close();
  const handler = createRequire(import.meta.url)(path.join(root, 'bench/functions/index.js')).event;
  const local = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => handler(event, {}, resolve));
    local.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  return { warmP50: pct(warm, 50), warmP99: pct(warm, 99), localP50: pct(local, 50) };
}

/** A cold instance's first answer: start (process or container), initialize, invoke; n times. */
async function coldStarts(n) {
  const { loadTemplate } = await import(path.join(root, 'dist/template/load.js'));
  const { createExecutor: createRuntime } = await import(path.join(root, 'dist/runtime/index.js'));
  const { selectBackend } = await import(path.join(root, 'dist/runtime/select-backend.js'));
  const tpl = loadTemplate(path.join(root, 'bench/fc.yml')).template;
  const fn = tpl.services[0].functions.find((f) => f.name === 'event');
  const times = [];
  for (let i = 0; i < n; i++) {
    const { backend } = await selectBackend(opts.backend, { template: tpl, image: opts.image });
    const rt = createRuntime({ backend, credentials: { accessKeyId: '', accessKeySecret: '', securityToken: '', source: 'none' }, template: () => tpl });
    const t0 = process.hrtime.bigint();
    const out = await rt.invoker.invokeEvent(fn, Buffer.from('{}'));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (out.errorType) throw new Error(`cold start failed: ${out.body}`);
    await rt.close();
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n / 2)], max: times[n - 1] };
}

if (opts.only === 'workbench') {
  const start = (extra, name) => spawnServer(['bin/fc-local.js', 'start', '-t', 'bench/fc.yml', '--port', '0', '--no-auth', ...extra, '--backend', opts.backend, ...(opts.image ? ['--image', opts.image] : [])], name);
  const [wbOn, wbOff] = [await start([], 'fc-local on'), await start(['--no-workbench'], 'fc-local off')];
  try {
    const on = [];
    const off = [];
    const run = async (srv, into) => into.push(await load(srv, `${srv.base}/2016-08-15/proxy/bench/http/`));
    for (let i = 0; i < Number(opts['workbench-rounds']); i++) {
      // Side by side, both share the cores as the machine's speed drifts: what each gets is its cost.
      if (opts['side-by-side']) await Promise.all([run(wbOn, on), run(wbOff, off)]);
      else if (i % 2 === 0) await run(wbOn, on).then(() => run(wbOff, off));
      else await run(wbOff, off).then(() => run(wbOn, on));
    }
    const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // Each round's two runs are minutes' neighbours: their ratio cancels most of a noisy machine's
    // drift, which swings whole runs by 2x here. The gateway's CPU per request is steadier still.
    const pairs = on.map((r, i) => r.rps / off[i].rps);
    const rps = (xs) => xs.map((x) => x.rps.toFixed(0)).join(' / ');
    const how = opts['side-by-side'] ? 'both loaded at once in each round' : 'order swapped each round';
    console.log(`Workbench on vs off (HTTP trigger, warm, fresh servers, ${on.length} rounds, ${how}): on ${rps(on)} req/s, off ${rps(off)} req/s.`);
    console.log(`On as a share of off: mean of all runs ${((100 * avg(on.map((x) => x.rps))) / avg(off.map((x) => x.rps))).toFixed(1)}%; median of the rounds' ratios ${(100 * median(pairs)).toFixed(1)}% (${pairs.map((x) => `${(100 * x).toFixed(0)}%`).join(' ')}).`);
    console.log(`Gateway CPU per 1,000 requests: on ${avg(on.map((x) => x.gatewayCpu)).toFixed(0)} ms, off ${avg(off.map((x) => x.gatewayCpu)).toFixed(0)} ms (on costs ${((100 * avg(on.map((x) => x.gatewayCpu))) / avg(off.map((x) => x.gatewayCpu))).toFixed(1)}% of off).`);
  } finally {
    await wbOn.stop();
    await wbOff.stop();
  }
  process.exit(0);
}

const bare = await spawnServer(['bench/bare-server.js'], 'bare server');
const floor = await spawnServer(['bench/floor.js', String(connections)], 'floor');
const fc = await spawnServer(['bin/fc-local.js', 'start', '-t', 'bench/fc.yml', '--port', '0', '--no-auth', '--backend', opts.backend, ...(opts.image ? ['--image', opts.image] : [])], 'fc-local');
try {
  const baseline = await load(bare, `${bare.base}/`);
  const floorGet = await load(floor, `${floor.base}/`);
  const floorPost = await load(floor, `${floor.base}/`, { method: 'POST', body: '{}' });
  await floor.stop();
  const trigger = await load(fc, `${fc.base}/2016-08-15/proxy/bench/http/`);
  const multi = await load(fc, `${fc.base}/2016-08-15/proxy/bench/http-multi/`);
  const api = await load(fc, `${fc.base}/2016-08-15/services/bench/functions/event/invocations`, { method: 'POST', body: '{}' });
  // The workbench's recording on the hot path: the same trigger with it on and off, alternately.
  const fcOff = await spawnServer(['bin/fc-local.js', 'start', '-t', 'bench/fc.yml', '--port', '0', '--no-auth', '--no-workbench', '--backend', opts.backend, ...(opts.image ? ['--image', opts.image] : [])], 'fc-local off');
  const on = [];
  const off = [];
  for (let i = 0; i < Number(opts['workbench-rounds']); i++) {
    on.push((await load(fc, `${fc.base}/2016-08-15/proxy/bench/http/`)).rps);
    off.push((await load(fcOff, `${fcOff.base}/2016-08-15/proxy/bench/http/`)).rps);
  }
  await fcOff.stop();
  await fc.stop();
  const overhead = await invokeOverhead(Number(opts.invocations));
  const cold = await coldStarts(Number(opts.cold));
  const f = (x) => x.toFixed(0);
  const pct = (a, b) => `${((100 * a) / b).toFixed(0)}%`;
  const row = (name, r, ref) =>
    `| ${name} | ${f(r.rps)} | ${pct(r.rps, baseline.rps)} | ${ref ? pct(r.rps, ref.rps) : ''} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)}${ref ? ` (${(r.p99 / ref.p99).toFixed(1)}x)` : ''} | ${f(r.gatewayCpu)} | ${f(r.instanceCpu)} | ${ref ? ((r.gatewayCpu + r.instanceCpu) / (ref.gatewayCpu + ref.instanceCpu)).toFixed(2) + 'x' : ''} |`;
  console.log(`## ${opts.backend} backend, ${connections} connections, ${duration} s per run (${new Date().toISOString().slice(0, 10)})\n`);
  console.log('| target | req/s | of bare | of floor | p50 ms | p99 ms (vs floor) | gateway CPU ms / 1k req | instances CPU ms / 1k req | CPU / req vs floor |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(row('bare Node http server', baseline));
  console.log(row(`floor: minimal gateway + ${connections} single-request agents (GET)`, floorGet, floorGet));
  console.log(row('floor, POST {}', floorPost, floorPost));
  console.log(row('HTTP trigger (warm)', trigger, floorGet));
  console.log(row('HTTP trigger, instanceConcurrency 10', multi, floorGet));
  console.log(row('invoke API (warm)', api, floorPost));
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\nWorkbench on vs off (HTTP trigger, warm, ${on.length} alternating runs each): on ${on.map(f).join(' / ')} req/s, off ${off.map(f).join(' / ')} req/s; on is ${((100 * avg(on)) / avg(off)).toFixed(1)}% of off.`);
  console.log(`\nWarm invoke through the invoker, ${opts.invocations} sequential calls: p50 ${overhead.warmP50.toFixed(2)} ms, p99 ${overhead.warmP99.toFixed(2)} ms; the same handler called in-process: p50 ${(overhead.localP50 * 1000).toFixed(1)} µs. Overhead per warm invocation ≈ ${(overhead.warmP50 - overhead.localP50).toFixed(2)} ms.`);
  console.log(`\nCold start to first answer (${opts.cold} fresh instances): p50 ${cold.p50.toFixed(0)} ms, max ${cold.max.toFixed(0)} ms.`);
} finally {
  await bare.stop();
  await floor.stop().catch(() => {});
  await fc.stop().catch(() => {});
}

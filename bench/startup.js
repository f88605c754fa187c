// CLI start-up: whole processes, median of N runs each, against `node -e 0` in the same run.
// Usage: npm run build && node bench/startup.js [--runs 5]
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const bin = path.join(root, 'bin/fc-local.js');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall time and peak RSS of one process (GNU time's %M when /usr/bin/time exists). */
function timeRun(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'node', ...args], { cwd: root, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const kb = Number(/(\d+)\s*$/.exec(r.stderr ?? '')?.[1]);
  if (r.status !== 0 && !args.includes('--help')) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return { ms, mb: kb / 1024 };
}

/** Time from launch to the `listening on` line of `start`. */
function bannerTime() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('node', [bin, 'start', '-t', 'fc.yml.example', '--port', '0', '--backend', 'process', '--no-auth', '--no-watch'], { cwd: root });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        p.kill('SIGINT');
        p.on('exit', () => resolve(ms));
      }
    });
    p.on('error', reject);
  });
}

const rows = [
  ['node -e 0', ['-e', '0']],
  ['fc-local --version', [bin, '--version']],
  ['fc-local --help', [bin, '--help']],
  ['fc-local validate -t fc.yml.example', [bin, 'validate', '-t', 'fc.yml.example']],
  ['fc-local events generate oss', [bin, 'events', 'generate', 'oss']],
  ['fc-local invoke demo/hello (process backend)', [bin, 'invoke', 'demo/hello', '-t', 'fc.yml.example', '--backend', 'process', '--event', '{}']],
];
console.log(`## CLI start-up, median of ${runs} (${new Date().toISOString().slice(0, 10)})\n`);
console.log('| command | wall ms | peak RSS MB |');
console.log('| --- | ---: | ---: |');
for (const [name, args] of rows) {
  const samples = Array.from({ length: runs }, () => timeRun(args));
  console.log(`| ${name} | ${median(samples.map((s) => s.ms)).toFixed(0)} | ${median(samples.map((s) => s.mb)).toFixed(0)} |`);
}
const banners = [];
for (let i = 0; i < runs; i++) banners.push(await bannerTime());
console.log(`| fc-local start: launch to banner (process backend) | ${median(banners).toFixed(0)} | |`);

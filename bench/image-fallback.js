// One-shot `invoke` on the Docker backend when the runtime's image cannot be pulled: the first run
// tries the registry and falls back to the offline image; the next ones remember the failure and
// do not try again. Against the same invoke with the image named and present, in the same run.
// Usage: npm run build && node bench/image-fallback.js [--runs 5] [--image fc-local/runtime:offline-6]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, image: { type: 'string', default: 'fc-local/runtime:offline-6' } } });
const runs = Number(values.runs);
const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-bench-pull-'));
mkdirSync(path.join(dir, 'code'));
writeFileSync(path.join(dir, 'code', 'index.js'), "exports.handler = (e, c, cb) => cb(null, 'ok');\n");
writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  s:\n    functions:\n      f:\n        runtime: nodejs18\n        handler: index.handler\n        codeUri: ./code\n');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const invoke = (...extra) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('node', [path.join(root, 'bin/fc-local.js'), 'invoke', 's/f', '-t', path.join(dir, 'fc.yml'), '--backend', 'docker', '--event', '{}', ...extra], { encoding: 'utf8' });
  if (r.stdout !== 'ok') throw new Error(`invoke failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
// A registry on a refused loopback port: the engine's pull fails at once, as offline.
const unreachable = ['--registry', '127.0.0.1:9/mirror'];
const present = [];
const remembered = [];
rmSync(path.join(dir, '.fc-local'), { recursive: true, force: true });
const first = invoke(...unreachable);
for (let i = 0; i < runs; i++) {
  present.push(invoke('--image', values.image));
  remembered.push(invoke(...unreachable));
}
console.log('| invoke | median ms |');
console.log('| --- | ---: |');
console.log(`| image named and present (--image ${values.image}) | ${median(present).toFixed(0)} |`);
console.log(`| unreachable registry, first run (pull tried, offline image used) | ${first.toFixed(0)} |`);
console.log(`| unreachable registry, next runs (failure remembered) | ${median(remembered).toFixed(0)} |`);
console.log(`ratio remembered / present: ${(median(remembered) / median(present)).toFixed(2)}x (target <= 1.2x)`);
rmSync(dir, { recursive: true, force: true });

// Bundles the CLI (src/cli/index.ts and what it loads, dependencies included) into
// dist/cli/cli-bundle.js and its chunks, which bin/fc-local.js runs: one file to read and
// compile per command instead of hundreds, so that every command starts sooner
// (docs/benchmarks.md). Dependencies with native or optional parts stay outside.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Chunk names carry hashes: old ones would pile up.
rmSync(path.join(root, 'dist', 'cli', 'chunks'), { recursive: true, force: true });
await build({
  entryPoints: { 'cli-bundle': path.join(root, 'src', 'cli', 'index.ts') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: path.join(root, 'dist', 'cli'),
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  legalComments: 'none',
  // jsonc-parser's CommonJS build is a UMD wrapper that requires its parts dynamically.
  external: ['dockerode', 'chokidar', 'fsevents', 'cpu-features', 'ssh2', 'puppeteer-core', 'esbuild', 'jsonc-parser'],
  // Bundled CommonJS dependencies call require() for Node's modules.
  banner: { js: "import { createRequire as __fcLocalRequire } from 'node:module'; const require = __fcLocalRequire(import.meta.url);" },
  logLevel: 'warning',
});

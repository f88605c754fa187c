// Bundles the workbench page (web/) into dist/web with esbuild: one script, one stylesheet.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: path.join(root, 'web', 'src', 'main.js') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outdir: out,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(path.join(root, 'web', 'index.html'), path.join(out, 'index.html'));
copyFileSync(path.join(root, 'web', 'favicon.svg'), path.join(out, 'favicon.svg'));

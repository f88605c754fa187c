#!/usr/bin/env node
// Runs the built CLI; `npm ci` builds it through the `prepare` script. The bundle
// (scripts/build-cli.mjs) starts sooner; the plain build is the fallback.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/cli/cli-bundle.js', import.meta.url);
const entry = existsSync(fileURLToPath(bundle)) ? bundle : new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('fc-local is not built: run `npm run build` in the fc-local folder');
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);

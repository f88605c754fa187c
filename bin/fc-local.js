#!/usr/bin/env node
// Runs the built CLI; `npm ci` builds it through the `prepare` script.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('fc-local is not built: run `npm run build` in the fc-local folder');
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);

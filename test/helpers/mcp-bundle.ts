import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.js';

/**
 * Bundles MCP server sources (written with the official SDK) into `outdir`, as an MCP template's
 * build step would: one ES module per entry, the SDK inside, runnable by the offline image's Node
 * 18 (whose global crypto the SDK's server needs; the SSE transport's CommonJS dependencies
 * require Node's modules).
 */
export async function bundleMcpServers(entries: Record<string, string>, outdir: string): Promise<void> {
  await build({
    entryPoints: entries,
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    nodePaths: [path.join(ROOT, 'node_modules')],
    banner: { js: "import { webcrypto as __webcrypto } from 'node:crypto'; import { createRequire as __createRequire } from 'node:module'; globalThis.crypto ??= __webcrypto; const require = __createRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  writeFileSync(path.join(outdir, 'package.json'), '{ "type": "module" }\n');
}

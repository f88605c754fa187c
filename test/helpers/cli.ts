import { execa, type Options } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/fc-local.js');
export const fixture = (...p: string[]) => path.join(ROOT, 'fixtures', ...p);

/** Runs the real CLI; never throws on a non-zero exit. */
export function runCli(args: string[], opts: Options = {}) {
  return execa('node', [BIN, ...args], { cwd: ROOT, reject: false, timeout: 60_000, ...opts });
}

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Small helpers every layer may use.

/**
 * Resolves after `ms`. The timer does not keep the process alive (a race against a timeout
 * must not delay exit) unless `keepAlive` says the wait is what the process is doing.
 */
export function delay(ms: number, keepAlive = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (!keepAlive) t.unref();
  });
}

let root: string | undefined;

/**
 * fc-local's package folder (package.json, runtimes/, templates/, dist/), found upward from this
 * file, so that paths hold whether the code runs from dist/ as built or from the CLI bundle.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'runtimes')))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`fc-local's package folder is not above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  root = dir;
  return dir;
}

/** fc-local.json is not what fc-local reads: the message names the file and what is wrong. */
export class ProjectConfigError extends Error {}

/**
 * `fc-local.json` beside the template (fc-local's own settings: images, build, layers), parsed;
 * an empty object when there is none. A file that is not JSON throws, naming it.
 */
export function readProjectConfig(templateFile: string): { file: string; config: Record<string, unknown> } {
  const file = path.join(path.dirname(templateFile), 'fc-local.json');
  if (!existsSync(file)) return { file, config: {} };
  try {
    const config: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return { file, config: typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : {} };
  } catch (err) {
    throw new ProjectConfigError(`${file}: ${(err as Error).message}`);
  }
}

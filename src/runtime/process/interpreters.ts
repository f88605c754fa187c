import { accessSync, constants, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Interpreters on the host for the process backend, found the way a user's machine has them:
// on PATH (pyenv's shims skipped: a shim for a version that is not installed answers with
// pyenv's own error), then pyenv's installed versions.

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface Lookup {
  found?: string;
  /** What was looked for, for the error when nothing is found. */
  lookedFor: string;
}

/** A Python 2.7 interpreter: python2.7 or python2 on PATH, else pyenv's newest 2.7.x. */
export function findPython27(env: NodeJS.ProcessEnv = process.env): Lookup {
  const dirs = (env.PATH ?? '').split(':').filter((d) => d && !d.includes(`${path.sep}shims`));
  for (const name of ['python2.7', 'python2']) {
    for (const d of dirs) {
      const file = path.join(d, name);
      if (executable(file)) return { found: file, lookedFor: '' };
    }
  }
  const root = env.PYENV_ROOT ?? path.join(env.HOME ?? os.homedir(), '.pyenv');
  let versions: string[] = [];
  try {
    versions = readdirSync(path.join(root, 'versions')).filter((v) => /^2\.7(\.\d+)?$/.test(v));
  } catch {
    // no pyenv
  }
  versions.sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
  for (const v of versions) {
    const file = path.join(root, 'versions', v, 'bin', 'python2.7');
    if (executable(file)) return { found: file, lookedFor: '' };
  }
  return { lookedFor: `python2.7 and python2 on PATH, and pyenv's ${path.join(root, 'versions', '2.7.*')}` };
}

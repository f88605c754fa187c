import { accessSync, constants, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
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

const debugpyCache = new Map<string, boolean>();

function hasDebugpy(python: string, pythonPath?: string): boolean {
  const key = `${python}\0${pythonPath ?? ''}`;
  let ok = debugpyCache.get(key);
  if (ok === undefined) {
    const r = spawnSync(python, ['-c', 'import debugpy'], { env: { ...process.env, ...(pythonPath ? { PYTHONPATH: pythonPath } : {}) }, stdio: 'ignore', timeout: 10_000 });
    ok = r.status === 0;
    debugpyCache.set(key, ok);
  }
  return ok;
}

/**
 * The interpreter a Python function is debugged with: the usual one when it can import debugpy
 * (with --debugger-path on its path), else a python3 of this machine's that has debugpy (Debian's
 * python3-debugpy lives in the system python), else undefined and how to get debugpy.
 */
export function findDebugPython(python: string, debuggerPath?: string): { found?: string; how: string } {
  if (hasDebugpy(python, debuggerPath)) return { found: python, how: '' };
  const candidates = python.includes('2.7') ? [] : ['/usr/bin/python3', '/usr/local/bin/python3'];
  for (const c of candidates) if (c !== python && executable(c) && hasDebugpy(c, debuggerPath)) return { found: c, how: '' };
  return {
    how: `${python} cannot import debugpy: install it (pip install debugpy${python.includes('2.7') ? '==1.5.1, the last for Python 2.7' : ', or apt install python3-debugpy'}), or give a folder holding it with --debugger-path`,
  };
}

import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

// Run as root, fc-local starts process-backend instances as an unprivileged user, so that a
// function cannot read fc-local's memory or environment, write the code dir or /etc. It can only
// do so where that user reaches the interpreter, the agent and the code; otherwise the instance
// runs as root and fc-local says why.

export const UNPRIVILEGED = { uid: 65534, gid: 65534, name: 'nobody' };

export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The executable `command` names, looked up on `PATH` as execve would. */
export function resolveCommand(command: string, pathVar: string): string | undefined {
  if (command.includes('/')) return command;
  for (const dir of pathVar.split(':')) {
    const candidate = path.join(dir || '.', command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Whether `who` may reach `file` (search on every folder above it, then read, and execute if asked). */
function reachable(file: string, who: { uid: number; gid: number }, exec: boolean): boolean {
  const allowed = (p: string, bits: number): boolean => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return false;
    const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
    return ((st.mode >> shift) & bits) === bits;
  };
  const abs = path.resolve(file);
  const parts = abs.split('/').filter(Boolean);
  let dir = '/';
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    if (!allowed(dir, 1)) return false;
  }
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) return false;
  return allowed(abs, st.isDirectory() ? 5 : exec ? 5 : 4);
}

/**
 * The first of `paths` the unprivileged user cannot reach (symlinks followed, as the kernel
 * would), or undefined when it reaches them all.
 */
export function unreachable(paths: { path: string; exec?: boolean }[]): string | undefined {
  for (const p of paths) {
    const targets = [p.path];
    try {
      const real = realpathSync(p.path);
      if (real !== p.path) targets.push(real);
    } catch {
      // reported by the start itself
    }
    for (const t of targets) if (!reachable(t, UNPRIVILEGED, p.exec ?? false)) return t;
  }
  return undefined;
}

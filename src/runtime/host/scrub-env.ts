import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

// A function on the process backend runs as a process of the same machine and, unless fc-local
// runs as root, of the same user: it could read fc-local's environment from /proc/<pid>/environ,
// which shows the block the process was started with, not process.env. Once the credentials are
// read, their values are overwritten in that block (through /proc/self/mem) and deleted from
// process.env, so that neither fc-local nor what it starts carries them any more.

/** Overwrites the values of `names` in this process's initial environment; best effort, Linux only. */
export function scrubEnvironment(names: string[]): void {
  const present = names.filter((n) => process.env[n] !== undefined);
  for (const n of present) delete process.env[n];
  if (process.platform !== 'linux' || present.length === 0) return;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command: the first is field 3 (state); env_start and env_end are 50, 51.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const envStart = Number(fields[50 - 3]);
    const block = readFileSync('/proc/self/environ');
    if (!Number.isSafeInteger(envStart) || envStart <= 0) return;
    const fd = openSync('/proc/self/mem', 'r+');
    try {
      let offset = 0;
      for (const entry of block.toString('latin1').split('\0')) {
        const eq = entry.indexOf('=');
        if (eq > 0 && present.includes(entry.slice(0, eq))) {
          const valueAt = offset + eq + 1;
          const length = entry.length - eq - 1;
          if (length > 0) writeSync(fd, Buffer.alloc(length, 0x2a), 0, length, envStart + valueAt);
        }
        offset += entry.length + 1;
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not permitted here (a hardened kernel): the README says what the process backend isolates.
  }
}

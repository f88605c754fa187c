import { readdirSync, readFileSync } from 'node:fs';

// Finds processes by a marker in their environment, through /proc (Linux). Instances carry
// FC_LOCAL_RUN and FC_LOCAL_INSTANCE in theirs, and so does whatever they start, even a child
// that left the instance's process group: that is how such escapees are found and ended.

export const RUN_VAR = 'FC_LOCAL_RUN';
export const INSTANCE_VAR = 'FC_LOCAL_INSTANCE';

/** Pids whose environment has `name=value` for which `match(value)` holds. */
export function processesWith(name: string, match: (value: string) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const prefix = `${name}=`;
  const found: number[] = [];
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone, or another user's
    }
    const at = env.startsWith(prefix) ? 0 : env.indexOf(`\0${prefix}`);
    if (at < 0) continue;
    const start = (at === 0 && env.startsWith(prefix) ? 0 : at + 1) + prefix.length;
    const end = env.indexOf('\0', start);
    if (match(env.slice(start, end < 0 ? undefined : end))) found.push(pid);
  }
  return found;
}

/** SIGKILLs every process whose environment carries `name=value` matching; returns how many. */
export function killProcessesWith(name: string, match: (value: string) => boolean): number {
  let n = 0;
  for (const pid of processesWith(name, match)) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // already gone
    }
  }
  return n;
}

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/** Inodes of the sockets listening on `port` (any address), from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  let readAny = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
      readAny = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && f[1]!.endsWith(`:${hexPort}`)) inodes.add(f[9]!);
    }
  }
  return readAny ? inodes : undefined;
}

/**
 * Whether the socket listening on `port` belongs to one of `pids` (Linux; elsewhere it cannot
 * be told, and the answer is yes). Tells "our instance listens on its fixed port" from "another
 * program answers there".
 */
export function listenerBelongsTo(port: number, pids: number[]): boolean {
  const inodes = listeningInodes(port);
  if (!inodes) return true;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}

import { readFileSync, readlinkSync } from 'node:fs';

// Which fc-local run owns something (a journal, an instance process), in a form that survives
// pid reuse and pid namespaces: `<pid>-<start time>-<pid namespace>` from /proc where the system
// has one. A run in another pid namespace (fc-local in a container, seen from the host, or the
// reverse) is never judged dead from here: its pid means nothing in ours.

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from the field after the command, which may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

let mine: string | undefined;

/** This process's run id. */
export function thisRun(): string {
  if (!mine) {
    const start = startTimeOf(process.pid);
    const ns = pidNamespace();
    mine = start ? `${process.pid}-${start}${ns ? `-${ns}` : ''}` : String(process.pid);
  }
  return mine;
}

/** Whether the run that wrote `id` is still alive (a reused pid does not count). */
export function runIsAlive(id: string): boolean {
  const [pidText, start, ns] = id.split('-', 3);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (ns !== undefined && ns !== pidNamespace()) return true;
  if (pid === process.pid) return id === thisRun();
  if (start !== undefined) return startTimeOf(pid) === start;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { readFileSync } from 'node:fs';

// Which fc-local run owns something (a journal, an instance process), in a form that survives
// pid reuse: the pid plus the process's start time from /proc where the system has one.

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from the field after the command, which may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let mine: string | undefined;

/** This process's run id: `<pid>-<start time>` (or `<pid>` without /proc). */
export function thisRun(): string {
  if (!mine) {
    const start = startTimeOf(process.pid);
    mine = start ? `${process.pid}-${start}` : String(process.pid);
  }
  return mine;
}

/** Whether the run that wrote `id` is still alive (a reused pid does not count). */
export function runIsAlive(id: string): boolean {
  const [pidText, start] = id.split('-', 2);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return id === thisRun();
  if (start !== undefined) return startTimeOf(pid) === start;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

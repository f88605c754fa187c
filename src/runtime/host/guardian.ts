import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../util.js';

// The handle on fc-local's guardian (guardian-main.ts): started once per fc-local process, told
// about what is started, and left to clean up when fc-local ends, however it ends.

const MAIN = path.join(packageRoot(), 'dist', 'runtime', 'host', 'guardian-main.js');

class Guardian {
  private readonly child: ChildProcess;

  constructor() {
    this.child = spawn(process.execPath, [MAIN], {
      // Its own session: a terminal's Ctrl-C reaches fc-local, which shuts down in order.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      // Nothing of fc-local's environment (credentials among it).
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    this.child.on('error', () => undefined);
    this.child.stdin?.on('error', () => undefined);
    // Neither the process nor its pipe keeps fc-local running.
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  tell(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }
}

let shared: Guardian | undefined;

/** Tells the guardian (started on first use) about something to clean up after fc-local. */
export function guard(line: string): void {
  shared ??= new Guardian();
  shared.tell(line);
}

/** The guardian's pid, once it runs (a parked container's record names it: see parking.ts). */
export function guardianPid(): number | undefined {
  return shared?.pid;
}

/**
 * Tells another run's guardian that one of the containers it waits on was taken over (SIGUSR2), so
 * that it need not wait for that one's time; only a process that is a guardian, as far as /proc tells.
 */
export function nudgeGuardian(pid: number | undefined): void {
  if (!pid) return;
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('guardian-main')) return;
    process.kill(pid, 'SIGUSR2');
  } catch {
    // gone, not ours, or no /proc here: it leaves at the parked container's time
  }
}

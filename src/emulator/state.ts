import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AsyncQueue } from '../runtime/async/queue.js';
import type { PoolSet } from '../runtime/pool.js';
import type { Recorder, RecorderHistory } from './recorder.js';
import { clearState, installState, packState, unpackState, type StateLayout } from './state-archive.js';

// The state of a serving emulator, kept under its state dir and surviving restarts: the local
// OSS's objects, the async journal, the workbench's history (written at stop, read at start).
// save, load and reset wait for what runs to finish (nothing running, nothing ready; retries
// waiting for their back-off are in the journal, so in the state), and run one at a time. The
// OSS folder watcher is paused meanwhile: a load's or reset's files fire no triggers. Sessions end
// with a reset or load; warm instances stay (their memory is the function's, not fc-local's).

export interface StateParts {
  layout: StateLayout;
  template: string;
  /** Resolves when nothing runs and nothing is ready to run. */
  settled(): Promise<void>;
  pauseOss(): Promise<void>;
  resumeOss(): Promise<void>;
  asyncQueue: AsyncQueue;
  recorder?: Recorder;
  pools: PoolSet;
}

export class EmulatorState {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly p: StateParts) {}

  /** Tells `fc-local state` that this emulator serves the state (it then goes through the API). */
  markRunning(file: string, url: string, token?: string): () => void {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ pid: process.pid, url, ...(token ? { token } : {}) }), { mode: 0o600 });
    return () => rmSync(file, { force: true });
  }

  /** Takes back the history a previous run wrote (a corrupt file is left out, with a note). */
  restoreHistory(note: (line: string) => void): void {
    const file = this.p.layout.history;
    if (!this.p.recorder || !existsSync(file)) return;
    try {
      this.p.recorder.restoreHistory(JSON.parse(readFileSync(file, 'utf8')) as RecorderHistory);
    } catch (err) {
      note(`the workbench's saved history (${file}) is unreadable, left out: ${(err as Error).message}`);
    }
  }

  /** Writes the workbench's history (at stop, and into a saved archive). */
  writeHistory(): void {
    if (this.p.recorder) writeFileSync(this.p.layout.history, JSON.stringify(this.p.recorder.history()));
  }

  save(): Promise<Buffer> {
    return this.serial(async () => {
      await this.p.settled();
      this.writeHistory();
      return packState(this.p.layout, this.p.template);
    });
  }

  /** Replaces the state with an archive's; a corrupt or foreign one throws StateArchiveError and changes nothing. */
  load(archive: Buffer): Promise<void> {
    return this.serial(async () => {
      const unpacked = await unpackState(archive, path.dirname(this.p.layout.async));
      await this.replace(() => installState(unpacked, this.p.layout)).catch((err: unknown) => {
        rmSync(unpacked, { recursive: true, force: true });
        throw err;
      });
    });
  }

  reset(): Promise<void> {
    return this.serial(() => this.replace(() => clearState(this.p.layout)));
  }

  private async replace(change: () => void): Promise<void> {
    await this.p.settled();
    await this.p.pauseOss();
    try {
      await this.p.asyncQueue.replaceState(change);
      for (const pool of this.p.pools.all()) pool.endAllSessions();
      this.p.recorder?.clearHistory();
      if (this.p.recorder && existsSync(this.p.layout.history)) this.restoreHistory(() => undefined);
    } finally {
      await this.p.resumeOss();
    }
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.chain.then(step);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

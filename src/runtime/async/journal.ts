import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { runIsAlive, thisRun } from '../host/run-identity.js';

// The async queue's journal: an append-only file of JSON lines, one per fact (accepted, attempt
// failed, finished), written and synced before the caller is told. Each fc-local run appends to
// a file of its own (`queue-<run>.jsonl`), so two runs on one template never share one; a run
// that starts adopts the files of runs that are gone, which is how accepted invocations survive
// a crash. Replaying is idempotent: a fact seen twice changes nothing.

export type AsyncStatus = 'Enqueued' | 'Running' | 'Succeeded' | 'Failed' | 'Expired' | 'Stopped';

export interface AsyncRecord {
  /** The invocation id (x-fc-stateful-async-invocation-id, else the request id). */
  id: string;
  requestId: string;
  /** service/function */
  fn: string;
  acceptedAt: number;
  event: Buffer;
  /** Attempts that ended in a function error. */
  failedAttempts: number;
  status: AsyncStatus;
  startedAt?: number;
  endedAt?: number;
  error?: string;
  destinationStatus?: string;
  /** The request id of the async invocation whose result record this is (a destination's delivery). */
  destinationOf?: string;
  /** The request id of the invocation that asked for this one (a function's call, for traces). */
  parent?: string;
}

type Entry =
  | { t: 'enq'; id: string; rid: string; fn: string; at: number; ev: string; dst?: string; par?: string }
  | { t: 'try'; id: string; n: number; err?: string }
  | { t: 'end'; id: string; st: AsyncStatus; at: number; err?: string; ds?: string };

const COMPACT_AFTER_LINES = 5_000;

interface Waiter {
  line: string;
  durable: boolean;
  done: (err?: Error) => void;
}

export class AsyncJournal {
  private fh?: FileHandle;
  private waiting: Waiter[] = [];
  private flushing?: Promise<void>;
  private linesSinceCompaction = 0;

  private constructor(
    private readonly file: string,
    /** The records whose facts the file must keep at a compaction. */
    private readonly snapshot: () => AsyncRecord[],
  ) {}

  /**
   * Opens this run's journal under `dir` and adopts the journals of dead runs: returns every
   * record they hold (unfinished ones first to resume), already rewritten into this run's file.
   */
  static open(dir: string, snapshot: () => AsyncRecord[]): { journal: AsyncJournal; records: AsyncRecord[] } {
    const file = path.join(dir, `queue-${thisRun()}.jsonl`);
    const records = new Map<string, AsyncRecord>();
    const adopted: string[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // No folder yet: nothing to adopt.
    }
    for (const name of names.sort()) {
      const m = /^queue-(.+)\.jsonl$/.exec(name);
      if (!m || (m[1] !== thisRun() && runIsAlive(m[1]!))) continue;
      replay(readFileSync(path.join(dir, name), 'utf8'), records);
      if (name !== path.basename(file)) adopted.push(path.join(dir, name));
    }
    const journal = new AsyncJournal(file, snapshot);
    const list = [...records.values()];
    if (adopted.length) {
      // Ours first, durably; only then are theirs removed (a crash between leaves duplicates,
      // which replaying ignores).
      mkdirSync(dir, { recursive: true });
      writeWhole(file, list);
      for (const f of adopted) rmSync(f, { force: true });
    }
    return { journal, records: list };
  }

  accepted(r: AsyncRecord): Promise<void> {
    return this.append({ t: 'enq', id: r.id, rid: r.requestId, fn: r.fn, at: r.acceptedAt, ev: r.event.toString('base64'), ...(r.destinationOf ? { dst: r.destinationOf } : {}), ...(r.parent ? { par: r.parent } : {}) }, true);
  }

  attemptFailed(r: AsyncRecord): Promise<void> {
    return this.append({ t: 'try', id: r.id, n: r.failedAttempts, err: r.error }, false);
  }

  finished(r: AsyncRecord): Promise<void> {
    return this.append({ t: 'end', id: r.id, st: r.status, at: r.endedAt ?? Date.now(), err: r.error, ds: r.destinationStatus }, false);
  }

  /** Waits for what was appended so far, then closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = undefined;
  }

  private append(entry: Entry, durable: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ line: `${JSON.stringify(entry)}\n`, durable, done: (err) => (err ? reject(err) : resolve()) });
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
  }

  /** Group commit: everything appended while one write is under way goes out in the next one. */
  private async flush(): Promise<void> {
    while (this.waiting.length) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        if (!this.fh) {
          mkdirSync(path.dirname(this.file), { recursive: true });
          this.fh = await open(this.file, 'a');
        }
        await this.fh.write(batch.map((w) => w.line).join(''));
        if (batch.some((w) => w.durable)) await this.fh.datasync();
        this.linesSinceCompaction += batch.length;
        if (this.linesSinceCompaction >= COMPACT_AFTER_LINES) await this.compact();
        for (const w of batch) w.done();
      } catch (err) {
        for (const w of batch) w.done(err as Error);
      }
    }
  }

  /** Rewrites the file with only the facts of the records still kept in memory. */
  private async compact(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    writeWhole(this.file, this.snapshot());
    this.linesSinceCompaction = 0;
  }
}

function writeWhole(file: string, records: AsyncRecord[]): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (const r of records) {
      const lines = [JSON.stringify({ t: 'enq', id: r.id, rid: r.requestId, fn: r.fn, at: r.acceptedAt, ev: r.event.toString('base64'), ...(r.destinationOf ? { dst: r.destinationOf } : {}), ...(r.parent ? { par: r.parent } : {}) })];
      if (r.failedAttempts) lines.push(JSON.stringify({ t: 'try', id: r.id, n: r.failedAttempts, err: r.error }));
      if (isFinal(r.status)) lines.push(JSON.stringify({ t: 'end', id: r.id, st: r.status, at: r.endedAt, err: r.error, ds: r.destinationStatus }));
      writeSync(fd, `${lines.join('\n')}\n`);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function isFinal(status: AsyncStatus): boolean {
  return status !== 'Enqueued' && status !== 'Running';
}

function replay(text: string, into: Map<string, AsyncRecord>): void {
  for (const line of text.split('\n')) {
    if (!line) continue;
    let e: Entry;
    try {
      e = JSON.parse(line) as Entry;
    } catch {
      continue; // a line torn by a crash mid-write: its caller was never answered
    }
    const r = into.get(e.id);
    if (e.t === 'enq') {
      if (!r) {
        into.set(e.id, { id: e.id, requestId: e.rid, fn: e.fn, acceptedAt: e.at, event: Buffer.from(e.ev, 'base64'), failedAttempts: 0, status: 'Enqueued', ...(e.dst ? { destinationOf: e.dst } : {}), ...(e.par ? { parent: e.par } : {}) });
      }
    } else if (r && e.t === 'try') {
      r.failedAttempts = Math.max(r.failedAttempts, e.n);
      if (e.err) r.error = e.err;
    } else if (r && e.t === 'end') {
      r.status = e.st;
      r.endedAt = e.at;
      if (e.err) r.error = e.err;
      if (e.ds) r.destinationStatus = e.ds;
    }
  }
}

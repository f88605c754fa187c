import { fnKey } from '../model.js';
import type { InvocationRecord, InvocationSource } from '../runtime/invoker.js';

// Finished invocations for tests to wait on (`invocations.next()`), instead of sleeping. Each
// reader has a cursor: `next()` returns the first match finished after the previous one it
// returned (or after the reader was made), whether it finished before the call or after, so
// `await put(); await next()` never misses an invocation that finished in between. The feed keeps
// the last MAX finished invocations.

const MAX = 1000;
/** An answer larger than this is not kept (the feed holds up to MAX of them). */
const MAX_RESULT_BYTES = 1024 * 1024;

export interface FinishedInvocation {
  /** `service/function`, or an FC 3.0 function's name. */
  function: string;
  requestId: string;
  source: InvocationSource;
  /** Epoch ms when it was asked for. */
  at: number;
  status: 'succeeded' | 'failed' | 'throttled';
  errorType?: string;
  /** The function's answer (an HTTP function's body). */
  result?: Buffer;
  statusCode?: number;
  logs: string[];
  /** 1 for the first attempt of an async invocation, 2 for its first retry, ... */
  attempt?: number;
}

export interface InvocationFilter {
  /** `service/function` or the function's name. */
  function?: string;
  source?: InvocationSource | InvocationSource[];
  filter?: (inv: FinishedInvocation) => boolean;
  /** Milliseconds to wait at most (default 30 s). */
  timeout?: number;
}

export class InvocationTimeoutError extends Error {}

interface Waiter {
  reader: Reader;
  match: (i: FinishedInvocation) => boolean;
  resolve: (i: FinishedInvocation) => void;
}

interface Reader {
  /** The seq of the last invocation it consumed. */
  cursor: number;
}

export class InvocationFeed {
  /** `onFirstReader`: called when the first reader comes (the emulator starts feeding it then). */
  constructor(private readonly onFirstReader: () => void) {}

  private readonly entries: { seq: number; inv: FinishedInvocation }[] = [];
  private seq = 0;
  private readonly waiters = new Set<Waiter>();

  /** Whether anyone reads the feed: until then nothing is kept (`fc-local start` without a test). */
  get reading(): boolean {
    return this.readers > 0;
  }

  private readers = 0;

  /** Takes an invocation as the invoker reports it; its logs are complete once it is in the feed. */
  async add(r: InvocationRecord): Promise<void> {
    const o = r.outcome;
    const inv: FinishedInvocation = {
      function: fnKey(r.fn),
      requestId: r.requestId,
      source: r.source,
      at: r.at,
      status: !o ? 'throttled' : o.errorType ? 'failed' : 'succeeded',
      ...(o?.errorType ? { errorType: o.errorType } : {}),
      ...(o && !o.streamed && o.body.length <= MAX_RESULT_BYTES ? { result: o.body } : {}),
      ...(o?.statusCode !== undefined ? { statusCode: o.statusCode } : {}),
      logs: await r.logs.catch(() => []),
      ...(r.attempt ? { attempt: r.attempt } : {}),
    };
    const entry = { seq: ++this.seq, inv };
    this.entries.push(entry);
    if (this.entries.length > MAX) this.entries.splice(0, this.entries.length - MAX);
    for (const w of this.waiters) {
      if (w.reader.cursor < entry.seq && w.match(inv)) {
        this.waiters.delete(w);
        w.reader.cursor = entry.seq;
        w.resolve(inv);
      }
    }
  }

  /** The seq of the last finished invocation: a cursor for readers that keep their own (the HTTP feed). */
  get cursor(): number {
    return this.seq;
  }

  /** A reader whose cursor starts now: it sees invocations that finish from here on. */
  reader(): Reader {
    if (this.readers++ === 0) this.onFirstReader();
    return { cursor: this.seq };
  }

  /** The next invocation matching `f` after the reader's cursor; rejects after the timeout. */
  next(reader: Reader, f: InvocationFilter = {}): Promise<FinishedInvocation> {
    const match = matcher(f);
    const found = this.entries.find((e) => e.seq > reader.cursor && match(e.inv));
    if (found) {
      reader.cursor = found.seq;
      return Promise.resolve(found.inv);
    }
    const timeout = f.timeout ?? 30_000;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        reader,
        match,
        resolve: (i) => {
          clearTimeout(timer);
          resolve(i);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new InvocationTimeoutError(`no invocation${describe(f)} finished within ${timeout} ms`));
      }, timeout);
      this.waiters.add(waiter);
    });
  }

  /** Every invocation matching `f` as it finishes, from now on (break out of the loop to stop). */
  async *iterate(f: Omit<InvocationFilter, 'timeout'> = {}): AsyncGenerator<FinishedInvocation> {
    const reader = this.reader();
    for (;;) yield await this.next(reader, { ...f, timeout: 2 ** 31 - 1 });
  }
}

function matcher(f: InvocationFilter): (i: FinishedInvocation) => boolean {
  const sources = f.source === undefined ? undefined : Array.isArray(f.source) ? f.source : [f.source];
  return (i) =>
    (f.function === undefined || i.function === f.function || i.function.endsWith(`/${f.function}`)) &&
    (sources === undefined || sources.includes(i.source)) &&
    (f.filter === undefined || f.filter(i));
}

function describe(f: InvocationFilter): string {
  const parts = [f.function ? `of ${f.function}` : '', f.source ? `from ${[f.source].flat().join(' or ')}` : '', f.filter ? 'matching the filter' : ''].filter(Boolean);
  return parts.length ? ` ${parts.join(' ')}` : '';
}

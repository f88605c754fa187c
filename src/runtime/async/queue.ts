import { randomUUID } from 'node:crypto';
import type { FunctionSpec } from '../../model.js';
import { delay } from '../../util.js';
import { realClock, type Clock } from '../clock.js';
import { fnKey } from '../../model.js';
import type { Invoker, Outcome } from '../invoker.js';
import { ThrottledError, type ConcurrencyGate } from '../pool.js';
import { AsyncJournal, isFinal, type AsyncRecord } from './journal.js';

// FC's async invocations: accepted only once journaled on disk, then run in the background by a
// bounded number of workers so that a burst of queued work leaves room for sync callers. A
// function error is retried after a backoff (maxAsyncRetryAttempts, FC's default 3) without
// holding a worker; throttling waits for a free slot and is not an attempt; an event older than
// maxAsyncEventAgeInSeconds is dropped; the result record goes to the configured destination
// function. Unfinished invocations survive a crash and resume at the next start.

export interface AsyncQueueOptions {
  /** Folder of the journals, e.g. `.fc-local/async` beside the template. */
  dir: string;
  /** Invocations run at once at most. */
  concurrency: number;
  /** First delay before a retry; it doubles with each. */
  backoffMs: number;
  /** How long a throttled invocation keeps waiting for a slot (FC: hours). */
  maxThrottledMs: number;
  gate: ConcurrencyGate;
  /** The function as the live template has it now. */
  lookup(service: string, fn: string): FunctionSpec | undefined;
  region: string;
  accountId: string;
  log(line: string): void;
  /** What retries' back-off and events' age follow (default: the real clock). */
  clock?: Clock;
}

/** Finished invocations kept for the query API, newest last. */
const HISTORY = 1_000;

export class DuplicateInvocationError extends Error {}

export class AsyncQueue {
  private readonly records = new Map<string, AsyncRecord>();
  private readonly ready: AsyncRecord[] = [];
  /** Retries waiting for their back-off: each one's cancel. */
  private readonly retryTimers = new Set<() => void>();
  private readonly quietWaiters: (() => void)[] = [];
  private readonly clock: Clock;
  private readonly runs = new Set<Promise<void>>();
  private readonly settledWaiters: (() => void)[] = [];
  private finishedOrder: string[] = [];
  private running = 0;
  private closing = false;
  private journal: AsyncJournal;

  constructor(
    private readonly invoker: Invoker,
    private readonly opts: AsyncQueueOptions,
  ) {
    this.clock = opts.clock ?? realClock;
    this.journal = this.load();
  }

  /** Opens the journal: finished records for the query API, unfinished ones ready to run again. */
  private load(): AsyncJournal {
    const opts = this.opts;
    const { journal, records } = AsyncJournal.open(opts.dir, () => [...this.records.values()]);
    const resumed = records.filter((r) => !isFinal(r.status)).sort((a, b) => a.acceptedAt - b.acceptedAt);
    for (const r of records) {
      if (isFinal(r.status)) this.remember(r);
    }
    for (const r of resumed) {
      r.status = 'Enqueued';
      this.records.set(r.id, r);
      this.makeReady(r);
    }
    if (resumed.length) opts.log(`async: resuming ${resumed.length} accepted invocation(s) left by an earlier run`);
    return journal;
  }

  /**
   * Replaces the journal's folder (a state reset or load): with nothing running, the journal is
   * closed, `change` rewrites the folder, and the queue takes up what is there then; retries
   * waiting for their back-off are in the journal and run again at once.
   */
  async replaceState(change: () => void | Promise<void>): Promise<void> {
    await this.quiet();
    for (const cancel of this.retryTimers) cancel();
    this.retryTimers.clear();
    await this.journal.close();
    this.records.clear();
    this.ready.length = 0;
    this.finishedOrder = [];
    try {
      await change();
    } finally {
      this.journal = this.load();
      this.pump();
      this.notify();
    }
  }

  /** Starts the workers on what was resumed (after the template and pools are up). */
  start(): void {
    this.pump();
  }

  /** Since when each ready invocation waits for a worker (real ms): its trace's async-queue span. */
  private readonly readySince = new WeakMap<AsyncRecord, number>();

  private makeReady(r: AsyncRecord): void {
    this.readySince.set(r, Date.now());
    this.ready.push(r);
  }

  /** Invocations ready or running (not those waiting for a retry's back-off). */
  get readyOrRunning(): number {
    return this.ready.length + this.running;
  }

  get pending(): number {
    return this.ready.length + this.running + this.retryTimers.size;
  }

  /**
   * Accepts an invocation: resolves once it is on disk (then the caller may answer 202).
   * Throws DuplicateInvocationError for an invocation id already in use.
   */
  async enqueue(fn: FunctionSpec, event: Buffer, ids: { requestId: string; invocationId?: string; destinationOf?: string; parent?: string }): Promise<AsyncRecord> {
    const id = ids.invocationId ?? ids.requestId;
    if (this.records.has(id)) throw new DuplicateInvocationError(`an async invocation with id '${id}' already exists`);
    const r: AsyncRecord = { id, requestId: ids.requestId, fn: `${fnKey(fn)}`, acceptedAt: this.clock.now(), event, failedAttempts: 0, status: 'Enqueued', ...(ids.destinationOf ? { destinationOf: ids.destinationOf } : {}), ...(ids.parent ? { parent: ids.parent } : {}) };
    this.records.set(id, r);
    try {
      await this.journal.accepted(r);
    } catch (err) {
      this.records.delete(id);
      throw err;
    }
    if (!this.closing) {
      this.makeReady(r);
      this.pump();
    }
    return r;
  }

  get(id: string): AsyncRecord | undefined {
    return this.records.get(id);
  }

  /** Invocations of one function, oldest first. */
  list(service: string, fn: string): AsyncRecord[] {
    const key = `${service}/${fn}`;
    return [...this.records.values()].filter((r) => r.fn === key).sort((a, b) => a.acceptedAt - b.acceptedAt);
  }

  /** Resolves when nothing is ready or running (retries may wait for their back-off): a manual clock's settle. */
  async quiet(): Promise<void> {
    while (this.ready.length + this.running > 0 && !this.closing) await new Promise<void>((r) => this.quietWaiters.push(r));
  }

  /** Resolves when nothing is queued, waiting for a retry, or running (tests, soak). */
  async idle(): Promise<void> {
    while (this.pending) await new Promise<void>((r) => this.settledWaiters.push(r));
  }

  /**
   * Stops taking work: running invocations finish (their outcome is journaled), queued ones and
   * those waiting for a retry stay in the journal for the next start.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const cancel of this.retryTimers) cancel();
    this.retryTimers.clear();
    while (this.runs.size) await Promise.allSettled([...this.runs]);
    await this.journal.close();
    this.notify();
  }

  private pump(): void {
    while (!this.closing && this.running < this.opts.concurrency && this.ready.length) {
      const r = this.ready.shift()!;
      this.running++;
      const run = this.run(r)
        .catch((err: unknown) => this.opts.log(`async ${r.fn} ${r.requestId}: internal error: ${(err as Error).message}`))
        .finally(() => {
          this.running--;
          this.runs.delete(run);
          this.pump();
          this.notify();
        });
      this.runs.add(run);
    }
  }

  private notify(): void {
    if (this.ready.length + this.running === 0 || this.closing) this.quietWaiters.splice(0).forEach((w) => w());
    if (this.pending && !this.closing) return;
    this.settledWaiters.splice(0).forEach((w) => w());
  }

  private async run(r: AsyncRecord): Promise<void> {
    const [service, name] = splitKey(r.fn);
    const fn = this.opts.lookup(service, name);
    if (!fn) return this.finish(r, 'Failed', `function ${r.fn} is not in the template any more`);
    if (this.clock.now() - r.acceptedAt > fn.asyncConfig.maxAsyncEventAgeInSeconds * 1000) {
      return this.finish(r, 'Expired', `the event is older than maxAsyncEventAgeInSeconds (${fn.asyncConfig.maxAsyncEventAgeInSeconds} s)`, fn);
    }
    r.status = 'Running';
    r.startedAt ??= this.clock.now();
    let outcome: Outcome | undefined;
    let failure: { errorType: string; message: string } | undefined;
    for (;;) {
      try {
        // Traced as caused by what asked for it: a destination by its async invocation.
        const parent = r.destinationOf ?? r.parent;
        const since = this.readySince.get(r);
        outcome = await this.invoker.invokeEvent(fn, r.event, r.requestId, r.destinationOf ? 'destination' : 'async', { attempt: r.failedAttempts + 1, ...(parent ? { cause: { parent } } : {}), ...(since !== undefined ? { queuedMs: Date.now() - since } : {}) });
        if (outcome.errorType) failure = { errorType: outcome.errorType, message: outcome.body.toString('utf8') };
        break;
      } catch (err) {
        if (!(err instanceof ThrottledError)) {
          failure = { errorType: 'InternalError', message: (err as Error).message };
          break;
        }
        // Throttled: wait for a slot, without using up an attempt, as FC does for hours.
        if (this.clock.now() - r.acceptedAt > this.opts.maxThrottledMs) return this.finish(r, 'Failed', `throttled for longer than ${this.opts.maxThrottledMs} ms`, fn);
        if (this.closing) {
          r.status = 'Enqueued';
          return;
        }
        await Promise.race([this.opts.gate.whenFree(), delay(250)]);
      }
    }
    if (!failure) return this.finish(r, 'Succeeded', undefined, fn, outcome);

    r.failedAttempts++;
    r.error = `${failure.errorType}: ${failure.message.slice(0, 1000)}`;
    const max = fn.asyncConfig.maxAsyncRetryAttempts;
    if (r.failedAttempts > max) {
      this.opts.log(`async ${r.fn} ${r.requestId}: failed after ${r.failedAttempts} attempts (${r.error.slice(0, 300)})`);
      return this.finish(r, 'Failed', r.error, fn, outcome);
    }
    await this.journal.attemptFailed(r);
    const backoff = this.opts.backoffMs * 2 ** (r.failedAttempts - 1);
    this.opts.log(`async ${r.fn} ${r.requestId}: ${failure.errorType}; retry ${r.failedAttempts}/${max} in ${backoff} ms`);
    r.status = 'Enqueued';
    // The retry waits outside the workers, so that a failing function does not hold them.
    const cancel = this.clock.after(backoff, () => {
      this.retryTimers.delete(cancel);
      this.makeReady(r);
      this.pump();
    });
    this.retryTimers.add(cancel);
  }

  private async finish(r: AsyncRecord, status: 'Succeeded' | 'Failed' | 'Expired', error?: string, fn?: FunctionSpec, outcome?: Outcome): Promise<void> {
    r.status = status;
    r.endedAt = this.clock.now();
    if (error) r.error = error;
    const target = fn && (status === 'Succeeded' ? fn.asyncConfig.destination.onSuccess : fn.asyncConfig.destination.onFailure);
    if (fn && target) r.destinationStatus = await this.sendToDestination(fn, r, target, outcome);
    await this.journal.finished(r);
    this.remember(r);
  }

  /** FC's result record, as an async invocation of the destination function. */
  private async sendToDestination(fn: FunctionSpec, r: AsyncRecord, arn: string, outcome?: Outcome): Promise<string> {
    // FC 2.0: services/{s}[.{q}]/functions/{f}; FC 3.0: functions/{f}[:{q}] (no service).
    const m = /:(?:services\/([^/.]+)(?:\.[^/]+)?\/)?functions\/([^/:]+)/.exec(arn);
    const target = m ? this.opts.lookup(m[1] ?? '', m[2]!) : undefined;
    if (!target) {
      this.opts.log(`async ${r.fn} ${r.requestId}: destination ${arn} is not a function of the template; result not delivered`);
      return 'Failed';
    }
    const record = {
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: r.requestId,
        functionArn: fn.service
          ? `acs:fc:${this.opts.region}:${this.opts.accountId}:services/${fn.service}.LATEST/functions/${fn.name}`
          : `acs:fc:${this.opts.region}:${this.opts.accountId}:functions/${fn.name}`,
        condition: r.status === 'Succeeded' ? '' : r.status === 'Expired' ? 'EventAgeExceeded' : (outcome?.errorType ?? 'UnhandledInvocationError'),
        approximateInvokeCount: r.failedAttempts + (r.status === 'Succeeded' ? 1 : 0),
      },
      requestPayload: r.event.toString('utf8'),
      responseContext: { statusCode: 200, functionError: r.status === 'Succeeded' ? '' : (outcome?.errorType ?? '') },
      responsePayload: outcome?.body.toString('utf8') ?? '',
    };
    await this.enqueue(target, Buffer.from(JSON.stringify(record)), { requestId: randomUUID(), destinationOf: r.requestId });
    return 'Succeeded';
  }

  /** Keeps a finished record for queries, forgetting the oldest past HISTORY. */
  private remember(r: AsyncRecord): void {
    this.records.set(r.id, r);
    this.finishedOrder.push(r.id);
    if (this.finishedOrder.length > HISTORY * 2) {
      const drop = this.finishedOrder.slice(0, this.finishedOrder.length - HISTORY);
      this.finishedOrder = this.finishedOrder.slice(-HISTORY);
      for (const id of drop) {
        const old = this.records.get(id);
        if (old && isFinal(old.status)) this.records.delete(id);
      }
    }
  }
}

/** fnKey back to service and function: an FC 3.0 function has no service (no slash). */
function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return i < 0 ? ['', key] : [key.slice(0, i), key.slice(i + 1)];
}

import type { FunctionSpec } from '../model.js';
import type { Invoker, Outcome } from '../runtime/invoker.js';
import { ThrottledError } from '../runtime/pool.js';

// Async invocations, in memory: accepted at once, run in the background with FC's retry
// behaviour: a failed invocation is retried up to `maxRetries` times with backoff, a throttled
// one waits and tries again (FC keeps trying for hours; locally `maxThrottledMs`).

export interface AsyncOptions {
  maxRetries: number;
  /** First backoff; it doubles each retry. */
  backoffMs: number;
  maxThrottledMs: number;
  log: (line: string) => void;
  onDone?: (fn: FunctionSpec, requestId: string, outcome: Outcome | undefined) => void;
}

export class AsyncInvocations {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly invoker: Invoker,
    private readonly opts: AsyncOptions,
  ) {}

  enqueue(fn: FunctionSpec, event: Buffer, requestId: string): void {
    const p = this.run(fn, event, requestId).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves when every accepted invocation has finished (used on shutdown and in tests). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private async run(fn: FunctionSpec, event: Buffer, requestId: string): Promise<void> {
    const name = `${fn.service}/${fn.name}`;
    const started = Date.now();
    let delay = this.opts.backoffMs;
    for (let attempt = 0; ; ) {
      let outcome: Outcome;
      try {
        outcome = await this.invoker.invokeEvent(fn, event, requestId);
      } catch (err) {
        if (err instanceof ThrottledError && Date.now() - started < this.opts.maxThrottledMs) {
          await sleep(delay);
          delay = Math.min(delay * 2, 30_000);
          continue;
        }
        this.opts.log(`async ${name} ${requestId}: dropped: ${(err as Error).message}`);
        this.opts.onDone?.(fn, requestId, undefined);
        return;
      }
      if (!outcome.errorType) {
        this.opts.onDone?.(fn, requestId, outcome);
        return;
      }
      if (attempt >= this.opts.maxRetries) {
        this.opts.log(`async ${name} ${requestId}: failed after ${attempt + 1} attempts (${outcome.errorType}: ${outcome.body.toString().slice(0, 300)})`);
        this.opts.onDone?.(fn, requestId, outcome);
        return;
      }
      attempt++;
      this.opts.log(`async ${name} ${requestId}: ${outcome.errorType}; retry ${attempt}/${this.opts.maxRetries} in ${delay} ms`);
      await sleep(delay);
      delay *= 2;
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

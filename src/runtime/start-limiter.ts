// Bounds how many instances start at once on one backend. Ten containers started together on a
// small machine each take as long as the ten in a row, so that the first request waits for all of
// them; a few at a time, the first is ready in about one start time and serves the queue meanwhile.
// The bound adapts to the engine: it grows while starts stay near the fastest seen and halves when
// they slow down (additive increase, multiplicative decrease, as TCP finds a link's capacity).

export interface StartLimits {
  /** Starts allowed at once before anything is measured. */
  initial: number;
  /** Never more at once than this. */
  max: number;
}

export class StartLimiter {
  private running = 0;
  private limit: number;
  private fastestMs = Infinity;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limits: StartLimits) {
    this.limit = Math.max(1, Math.min(limits.initial, limits.max));
  }

  /** Starts allowed at once now. */
  get current(): number {
    return this.limit;
  }

  /** Resolves with a release once a start may begin; FIFO. */
  async turn(): Promise<(outcome?: { ms: number; ok: boolean }) => void> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      if (outcome?.ok) this.learn(outcome.ms);
      this.running--;
      this.admit();
    };
  }

  private learn(ms: number): void {
    this.fastestMs = Math.min(this.fastestMs, ms);
    if (ms <= 2 * this.fastestMs) this.limit = Math.min(this.limits.max, this.limit + 1);
    else if (ms > 4 * this.fastestMs) this.limit = Math.max(1, Math.floor(this.limit / 2));
  }

  private admit(): void {
    while (this.running < this.limit && this.queue.length) {
      this.running++;
      this.queue.shift()!();
    }
  }
}

// fc-local's clock: what timer triggers, async retries and event ages, idle reaping and session
// lifetimes follow. The real one is the default; a manual one (tests: startEmulator({ clock:
// 'manual' }), `start --clock manual`) stands still until advanced, and an advance fires what
// falls due in time order, each once what the previous one started has settled. Functions keep
// the real clock: their own Date.now() is the machine's.

export interface Clock {
  readonly manual: boolean;
  now(): number;
  /** Runs `fn` once, `ms` from now on this clock; returns the cancel. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  manual: false,
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** A duration as tests write it: ms as a number, or `500ms`, `30s`, `15m`, `1h`, `1d`, `1h30m`. */
export function parseDuration(d: string | number): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new RangeError(`a duration is a number of milliseconds, 0 or more (got ${d})`);
    return d;
  }
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const s = d.trim();
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!s || parts.map((p) => p[0]).join('') !== s) throw new RangeError(`'${d}' is not a duration: use e.g. 500ms, 30s, 15m, 1h, 1d or 1h30m (no sign)`);
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]!]!, 0);
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  readonly manual = true;
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();
  /** Advances run one at a time, in the order asked. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Resolves once what a fired timer started has settled (the emulator: nothing running or ready). */
  settle: () => Promise<void> = async () => undefined;
  /** Called after each advance or set, at its end time (the pools' reaper). */
  private readonly ticks: ((now: number) => void)[] = [];
  private readonly jumps: (() => void)[] = [];

  constructor(start = Date.now()) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: ++this.seq, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  onTick(fn: (now: number) => void): void {
    this.ticks.push(fn);
  }

  /** Called when the clock is set back: schedules armed for later times are armed again (timer triggers). */
  onJumpBack(fn: () => void): void {
    this.jumps.push(fn);
  }

  /** Moves the clock forward, firing what falls due in order; resolves once all of it has settled. */
  advance(d: string | number): Promise<void> {
    const ms = parseDuration(d);
    return this.serial(() => this.runTo(this.t + ms));
  }

  /** Sets the clock: forward as an advance does; backward moves it only (nothing fires twice). */
  set(to: Date | string | number): Promise<void> {
    const when = to instanceof Date ? to.getTime() : typeof to === 'number' ? to : Date.parse(to);
    if (!Number.isFinite(when)) throw new RangeError(`'${String(to)}' is not a date`);
    return this.serial(async () => {
      if (when >= this.t) return this.runTo(when);
      this.t = when;
      for (const jump of this.jumps) jump();
    });
  }

  private serial(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async runTo(end: number): Promise<void> {
    // Settled first: what was already running is not mistaken for what this advance fires.
    await this.settle();
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await this.settle();
    }
    this.t = end;
    for (const tick of this.ticks) tick(end);
    await this.settle();
  }
}

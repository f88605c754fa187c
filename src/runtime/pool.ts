import type { RequestListener } from 'node:http';
import type { FunctionSpec } from '../model.js';
import { fnKey, TRACE_PARENT_HEADER } from '../model.js';
import type { Backend, InstanceHandle, InstanceRequest, InstanceService, LogStream } from './backend.js';
import { Instance } from './instance.js';
import { onDebuggerListening, type DebugTarget } from './debug.js';
import { StartLimiter } from './start-limiter.js';
import { SessionGoneError, SessionTable, type Session, type SessionClaim } from './sessions.js';
import { ManualClock, realClock, type Clock } from './clock.js';

export { Instance } from './instance.js';

// Warm instances per function. A request leases an instance with a free slot (one slot per
// instance unless instanceConcurrency says more), scale-out starts another, and an account-wide
// gate answers throttling past the concurrency limit. There is no lock on the request path: a
// lease is bookkeeping on plain counters.

export class ThrottledError extends Error {
  constructor(limit: number, what = "the account's concurrency limit") {
    super(`Reached ${what} of ${limit} concurrent executions; retry later`);
  }
}

/** Counts executions in flight across all functions, as FC's per-account limit does. */
export class ConcurrencyGate {
  active = 0;
  private waiters: (() => void)[] = [];
  constructor(readonly limit: number) {}

  tryEnter(): boolean {
    if (this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
    if (this.waiters.length) {
      const w = this.waiters;
      this.waiters = [];
      w.forEach((f) => f());
    }
  }

  /** Resolves at the next free slot: a throttled background caller waits here, not in a backoff. */
  whenFree(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** CreateSession named the ID of a live session. */
export class SessionExistsError extends Error {
  constructor(readonly sessionId: string) {
    super(`Session ${sessionId} already exists`);
  }
}

/** A request waited for an instance longer than its function's timeout (every instance busy, none could start). */
export class QueueTimeoutError extends Error {
  constructor(
    readonly timeoutSeconds: number,
    readonly waitedMs: number,
  ) {
    super(`Function timed out after ${timeoutSeconds} seconds waiting for an instance (every instance was busy and no other could be started)`);
  }
}

interface Waiter {
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  since: number;
  timer?: NodeJS.Timeout;
  /** A request of a bound session: this instance only. */
  target?: Instance;
  /** A request that begins a session: an instance with room for one more. */
  room?: boolean;
  /** The session it begins (bound to the instance it gets). */
  bindTo?: Session;
}

export interface Lease {
  readonly instance: Instance;
  /** Whether this lease started the instance (a cold start). */
  readonly cold: boolean;
  /** The session this request belongs to, once it has one. */
  readonly session?: string;
  /**
   * Binds a session the function's answer named (MCP's Mcp-Session-Id, an SSE endpoint event) to
   * this instance; it takes the room the request reserved. False when the function has no
   * session affinity.
   */
  bindSession(id: string): boolean;
  /** Names the invocation this lease runs (until it is released): traces attribute the instance's calls to it. */
  serves(requestId: string): void;
  /** Gives the slot back; `discard` stops the instance (timed out, broken, or stale). */
  release(opts?: { discard?: boolean }): void;
}

export type PoolEvent =
  | { type: 'starting'; fn: FunctionSpec; debugPort?: number }
  /** The debugger of a starting instance accepts clients (custom bootstraps: at 'starting'). */
  | { type: 'debugger-listening'; fn: FunctionSpec; debugPort: number }
  /** `adopted`: taken over from an earlier run (a warm restart), not started. */
  | { type: 'started'; fn: FunctionSpec; instance: Instance; adopted?: boolean }
  | { type: 'restarted'; fn: FunctionSpec; instance: Instance }
  | { type: 'stopped'; fn: FunctionSpec; instance: Instance; why: StopReason }
  | { type: 'exited'; fn: FunctionSpec; instance: Instance; code: number | null; signal: string | null };

/** Why an instance stopped: `session`, its one session ended (instanceIsolationMode SESSION_EXCLUSIVE). */
export type StopReason = 'idle' | 'discarded' | 'stale' | 'closed' | 'session';

export interface PoolOptions {
  region: string;
  accountId: string;
  /** Idle instances are stopped after this long. */
  idleTimeoutMs: number;
  onLine?: (fn: FunctionSpec, line: string, stream: LogStream) => void;
  onEvent?: (event: PoolEvent) => void;
  /** The function being debugged, if any: one instance, no time limits, no idle reaping. */
  debug?: DebugTarget;
  /** fc-local's variables for new instances (e.g. the local OSS's endpoint), read at each start. */
  instanceEnv?: () => Record<string, string>;
  /** fc-local's services a container reaches on a socket of its own (see InstanceRequest.services). */
  instanceServices?: () => InstanceService[];
  /** Runs the function's preStop hook on an instance about to stop (the invoker sets it). */
  beforeStop?: (inst: Instance, fn: FunctionSpec) => Promise<void>;
  /**
   * Builds what the function needs before an instance of it starts (build steps, TypeScript);
   * resolves with its compiled code's folder, if any (InstanceRequest.compiledDir), and throws the
   * build's failure, which the request then answers.
   */
  prepare?: (fn: FunctionSpec) => Promise<string | undefined>;
  /** Idle instances each function keeps beyond its traffic once it has scaled out (--standby), so the next scale-out is warm. */
  standby?: number;
  /** Bounds the starts of all pools on one backend (the PoolSet makes it from the backend's startLimits). */
  startLimiter?: StartLimiter;
  /** What idle reaping and session lifetimes follow (default: the real clock). */
  clock?: Clock;
}

export class FunctionPool {
  private readonly instanceSet = new Set<Instance>();
  /** Instances started ahead of traffic (reload, --warm); a request claims one rather than start its own. */
  private readonly warming: { ready: Promise<Instance | undefined>; inPlace?: boolean }[] = [];
  /** Requests waiting for an instance, first come first served. */
  private readonly waiters: Waiter[] = [];
  /** Starts launched for waiting requests and not yet begun or dropped. */
  private launches = 0;
  private planning = false;
  private closed = false;
  /** Instances being started or stopped: they hold resources (a port) as much as live ones. */
  private starting = 0;
  private stopping = 0;
  /** Requests holding or waiting for an instance of this function (reservedConcurrency counts these). */
  private leased = 0;
  private changeWaiters: (() => void)[] = [];
  /** FC 3.0 sessions, for a function with session affinity. */
  private sessionTable?: SessionTable;

  constructor(
    private spec: FunctionSpec,
    private readonly backend: Backend,
    private readonly gate: ConcurrencyGate,
    private readonly opts: PoolOptions,
  ) {
    this.configureSessions(spec);
  }

  private readonly now = (): number => (this.opts.clock ?? realClock).now();

  /** The function's sessions (none without session affinity). */
  get sessions(): SessionTable | undefined {
    return this.sessionTable;
  }

  private configureSessions(spec: FunctionSpec): void {
    if (!spec.session) this.sessionTable = undefined;
    else if (this.sessionTable) this.sessionTable.configure(spec.session);
    else this.sessionTable = new SessionTable(spec.session, this.now);
  }

  get fn(): FunctionSpec {
    return this.spec;
  }

  /** Whether this function runs under the debugger (its requests have no time limit). */
  get debugging(): boolean {
    const debug = this.opts.debug;
    return debug !== undefined && debug.fn === fnKey(this.spec);
  }

  /** Instances being started now (the workbench shows them). */
  get startingCount(): number {
    return this.starting;
  }

  get size(): number {
    return this.instanceSet.size;
  }

  get instances(): readonly Instance[] {
    return [...this.instanceSet];
  }

  get busy(): number {
    let n = 0;
    for (const i of this.instanceSet) n += i.busySlots;
    return n;
  }

  /**
   * Throws ThrottledError at the concurrency limit, QueueTimeoutError past the function's timeout
   * in the queue, or the backend's error if a start made for it fails.
   */
  async acquire(claim?: SessionClaim): Promise<Lease> {
    if (this.closed) throw new Error(`function ${fnKey(this.spec)} is no longer served`);
    // concurrencyConfig.reservedConcurrency caps the function's instances (0 turns it off), as
    // FC counts concurrency: in instances, each taking instanceConcurrency requests. Past that, 429.
    const reserved = this.spec.reservedConcurrency;
    if (reserved !== undefined && this.leased >= reserved * this.spec.instanceConcurrency) {
      throw new ThrottledError(reserved * this.spec.instanceConcurrency, `${fnKey(this.spec)}'s reserved concurrency (${reserved} x instanceConcurrency ${this.spec.instanceConcurrency})`);
    }
    if (!this.gate.tryEnter()) throw new ThrottledError(this.gate.limit);
    this.leased++;
    let wants: ReturnType<typeof this.sessionWants>;
    try {
      wants = this.sessionWants(claim);
      // A new session with no instance that has room, none coming and none that may start: FC's 429,
      // as for any concurrency limit (the session made for it is forgotten, below).
      if (wants?.room && (this.atCapacity() || this.instanceSet.size + this.starting >= this.gate.limit) && !this.roomComing()) {
        const per = this.spec.session!.perInstance;
        throw new ThrottledError(this.instanceSet.size * per, `${fnKey(this.spec)}'s sessions (${this.instanceSet.size} instance(s) at most x sessionConcurrencyPerInstance ${per})`);
      }
      // Nobody queued ahead and an instance free: no queue at all on the warm path.
      if (!this.waiters.length) {
        const idle = this.sessionTable ? this.fit(wants ?? {}) : this.pickIdle();
        if (idle) {
          const lease = this.lease(idle, wants);
          if (this.opts.standby) this.plan();
          return lease;
        }
      }
      return await new Promise<Lease>((resolve, reject) => {
        const waiter: Waiter = { resolve, reject, since: Date.now(), ...wants };
        this.waiters.push(waiter);
        this.armQueueTimer(waiter);
        this.plan();
      });
    } catch (err) {
      this.gate.leave();
      this.leased--;
      if (wants?.bindTo) {
        wants.bindTo.inFlight--;
        // A session this request began, never bound: nothing of it stays.
        if (wants.created && !wants.bindTo.instance) this.sessionTable?.remove(wants.bindTo.id);
      }
      throw err;
    }
  }

  /**
   * Hands free instances to waiting requests in order, then starts as many instances as the
   * requests still waiting need beyond those already coming (starts in flight, restarts, warming).
   * A request takes the first instance that becomes free or ready, not the one started for it.
   */
  private plan(): void {
    if (this.planning) return;
    this.planning = true;
    try {
      if (this.sessionTable) this.handOutBySession();
      else {
        while (this.waiters.length) {
          const inst = this.pickIdle();
          if (!inst) break;
          const w = this.waiters.shift()!;
          clearTimeout(w.timer);
          w.resolve(this.lease(inst));
        }
      }
      if (this.closed) return;
      for (;;) {
        const coming = this.launches + this.warming.length;
        // A standby: one started instance more than the traffic needs, once it has scaled out.
        const standby = this.opts.standby && this.instanceSet.size > 0 && !this.debugging ? this.standbyShort() : 0;
        if (this.instancesWanted() + standby <= coming || this.atCapacity()) break;
        this.launch();
      }
    } finally {
      this.planning = false;
    }
  }

  /**
   * With sessions, each waiting request fits its own instances: a bound session's request its
   * instance only, a beginning session an instance with room, the rest any. A request that cannot
   * be served yet does not hold back those behind it that can.
   */
  private handOutBySession(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      const inst = this.fit(w);
      if (!inst) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(this.lease(inst, w));
    }
  }

  /**
   * Instances the waiting requests need beyond those running: requests without a session by
   * free slots (a busy instance does not count, as FC scales out), beginning sessions by rooms
   * for sessions; a bound session's request waits for its own instance.
   */
  private instancesWanted(): number {
    const slots = this.spec.instanceConcurrency;
    if (!this.sessionTable) return Math.ceil(this.waiters.length / slots);
    let plain = 0;
    let beginning = 0;
    // Requests of one session still to be bound begin it once.
    const counted = new Set<Session>();
    for (const w of this.waiters) {
      if (w.room && w.bindTo) {
        if (!counted.has(w.bindTo) && !w.bindTo.instance) beginning++;
        counted.add(w.bindTo);
      } else if (w.room) beginning++;
      else if (!w.target) plain++;
    }
    const perInstance = this.spec.session?.perInstance ?? slots;
    let rooms = 0;
    for (const inst of this.instanceSet) if (inst.state !== 'retiring' && inst.state !== 'gone') rooms += this.roomFor(inst);
    return Math.ceil(plain / slots) + Math.ceil(Math.max(0, beginning - rooms) / perInstance);
  }

  /** Sessions an instance may still take. */
  private roomFor(inst: Instance): number {
    const per = this.spec.session?.perInstance ?? Infinity;
    return per - inst.sessions.size - inst.reservedSessions;
  }

  /** The instance a request can have now, by its session. */
  private fit(w: Pick<Waiter, 'target' | 'room' | 'bindTo'>): Instance | undefined {
    const slots = this.spec.instanceConcurrency;
    // Its session was bound meanwhile (an earlier request of it got an instance): there only.
    const bound = w.bindTo?.instance;
    if (!w.target && bound && bound.state !== 'gone' && bound.state !== 'retiring') {
      w.target = bound;
      w.room = false;
    }
    if (w.target) {
      if (w.target.state !== 'gone' && w.target.state !== 'retiring') return w.target.canTake(slots) ? w.target : undefined;
      // Its instance ended (or has old code): the session begins again elsewhere.
      w.target = undefined;
      w.room = true;
    }
    const exclusive = this.spec.session?.exclusive;
    let best: Instance | undefined;
    for (const inst of this.instanceSet) {
      if (!inst.canTake(slots)) continue;
      if (w.room && this.roomFor(inst) <= 0) continue;
      // An instance of an exclusive session serves that session alone.
      if (!w.room && exclusive && (inst.sessions.size > 0 || inst.reservedSessions > 0)) continue;
      if (!best || inst.lastUsed > best.lastUsed) best = inst;
    }
    return best;
  }

  /** Whether an instance has room for one more session, or one is on its way. */
  private roomComing(): boolean {
    if (this.starting > 0 || this.launches > 0 || this.warming.length > 0) return true;
    for (const inst of this.instanceSet) if (inst.state !== 'retiring' && inst.state !== 'gone' && this.roomFor(inst) > 0) return true;
    return false;
  }

  /** What a request's session claim means for the instance it may have. */
  private sessionWants(claim: SessionClaim | undefined): (Pick<Waiter, 'target' | 'room' | 'bindTo'> & { created?: boolean }) | undefined {
    const table = this.sessionTable;
    if (!table || !claim) return undefined;
    if ('fresh' in claim) return { room: true };
    const s = table.active(claim.id);
    if (s) {
      s.inFlight++;
      s.lastUsedAt = this.now();
      return s.instance && s.instance.state !== 'gone' && s.instance.state !== 'retiring' ? { target: s.instance, bindTo: s } : { room: true, bindTo: s };
    }
    if (table.refused(claim.id)) throw new SessionGoneError(claim.id);
    if (!claim.create) return undefined;
    const fresh = table.create(claim.id);
    fresh.inFlight++;
    return { room: true, bindTo: fresh, created: true };
  }

  /** How many idle instances the standby setting still wants. */
  private standbyShort(): number {
    let idle = 0;
    for (const inst of this.instanceSet) if (inst.canTake(this.spec.instanceConcurrency) && inst.busySlots === 0) idle++;
    return Math.max(0, (this.opts.standby ?? 0) - idle);
  }

  /** Starts one instance in the background; it joins the pool and goes to whoever waits first. */
  private launch(): void {
    this.launches++;
    this.starting++;
    void (async () => {
      let done: ((outcome?: { ms: number; ok: boolean }) => void) | undefined;
      try {
        // Bounded with the other starts on this backend (not a debugged one: it waits for a person).
        if (!this.debugging) done = await this.opts.startLimiter?.turn();
        // By its turn, the instances started before it may have served the queue: then it is dropped.
        if (this.closed || !this.stillWanted()) return;
        const t0 = Date.now();
        try {
          await this.startOne();
          done?.({ ms: Date.now() - t0, ok: true });
        } catch (err) {
          done?.({ ms: Date.now() - t0, ok: false });
          // The start failed for whoever waits first: FC answers the request that needed it.
          const w = this.waiters.shift();
          if (w) {
            clearTimeout(w.timer);
            w.reject(err);
          }
        }
      } finally {
        done?.();
        this.launches--;
        this.starting--;
        this.changed();
      }
    })();
  }

  /** Whether a launched start (this one among `launches`) is still needed by the queue or the standby. */
  private stillWanted(): boolean {
    const standby = this.opts.standby && this.instanceSet.size > 0 ? this.standbyShort() : 0;
    // The others coming: launches but this one, and instances warming or restarting.
    const others = this.launches - 1 + this.warming.length;
    if (this.sessionTable) return this.instancesWanted() + standby > others;
    const slots = this.spec.instanceConcurrency;
    let free = 0;
    for (const inst of this.instanceSet) if (inst.canTake(slots)) free += slots - inst.busySlots;
    return this.waiters.length + standby * slots > others * slots + free;
  }

  /**
   * A request may wait in the queue as long as the function's timeout while no instance can be
   * started for it (at a limit), then gets FC's timeout answer; while a start is coming for it,
   * that start's own limit bounds the wait.
   */
  private armQueueTimer(w: Waiter): void {
    const limitMs = this.debugging ? Infinity : this.spec.timeout * 1000;
    if (!Number.isFinite(limitMs)) return;
    w.timer = setTimeout(() => {
      const i = this.waiters.indexOf(w);
      if (i < 0) return;
      // A start under way bounds the wait itself (its own limit); so does one that may still begin.
      if (!this.atCapacity() || this.starting > 0) return this.armQueueTimer(w);
      this.waiters.splice(i, 1);
      w.reject(new QueueTimeoutError(this.spec.timeout, Date.now() - w.since));
    }, limitMs);
    w.timer.unref?.();
  }

  /** Starts instances ahead of traffic until `n` current (not stale) ones are up. */
  async warm(n: number): Promise<void> {
    let fresh = 0;
    for (const i of this.instanceSet) if (i.state === 'idle' || i.state === 'busy') fresh++;
    const missing = Math.max(0, n - fresh - this.warming.length);
    const started = Array.from({ length: missing }, () => {
      // Started ahead of traffic: its first request is not a cold start.
      const entry = { ready: this.startInstance().then((inst) => ((inst.warmed = true), inst)).catch(() => undefined) };
      this.warming.push(entry);
      void entry.ready.then(() => this.doneWarming(entry));
      return entry.ready;
    });
    const results = await Promise.all(started);
    if (results.some((r) => r === undefined)) throw new Error(`an instance of ${fnKey(this.spec)} failed to start`);
  }

  /** Stops the instance with this handle, at once if idle, else after its request; false if not ours. */
  async reclaim(handle: InstanceHandle): Promise<boolean> {
    const inst = [...this.instanceSet].find((i) => i.handle === handle);
    if (!inst) return false;
    if (inst.retire()) await this.stop(inst, 'stale');
    while (inst.state !== 'gone') await this.nextChange();
    return true;
  }

  /** New code or config: idle instances go now, busy ones when their request ends. */
  replaceSpec(spec: FunctionSpec): void {
    this.spec = spec;
    this.configureSessions(spec);
    this.markStale();
  }

  /**
   * Hot reload: retire every instance (idle now, busy after their request) and start as many
   * fresh ones as were live, so that the next request finds new code already warm.
   * Resolves with how many were started once they are ready.
   */
  async refresh(spec: FunctionSpec = this.spec): Promise<number> {
    // Only current instances count: retiring ones were already replaced once.
    const current = [...this.instanceSet].filter((i) => i.state === 'idle' || i.state === 'busy');
    const before = this.spec;
    const restart = this.backend.restartInPlace?.bind(this.backend);
    // Those the backend cannot restart in place (a new container is needed, or no such thing as
    // a restart in place) keep serving until their replacements are up, as FC swaps instances:
    // requests during the swap neither wait for a start nor pile up to the concurrency limit.
    const replaced = current.filter((i) => !restart || this.backend.canRestartInPlace?.(i.handle, i.spec ?? before, spec) === false);
    this.spec = spec;
    this.configureSessions(spec);
    const swap = replaced.length ? this.replaceAfterStart(replaced) : Promise.resolve(true);
    if (replaced.length === current.length) {
      if (!(await swap)) throw new Error(`an instance of ${fnKey(spec)} failed to start`);
      return current.length;
    }
    current.splice(0, current.length, ...current.filter((i) => !replaced.includes(i)));
    // In place where the backend can: every instance restarts its runtime as soon as it is idle
    // (a busy one finishes its request on the old code first). Meanwhile it takes no request, and
    // each restart is offered like a warming instance, so that requests wait for it instead of
    // starting a container of their own. One that cannot restart after all is replaced.
    // A runtime still restarting from an earlier save of the same spec loads the code only at
    // its first request, after this save: it is new enough, and restarting it again would only
    // take CPU from the others.
    const pending = spec === before ? current.filter((i) => i.restarting) : [];
    if (pending.length) current.splice(0, current.length, ...current.filter((i) => !pending.includes(i)));
    // An idle instance restarts first, alone, so that the first request after a save gets it
    // without sharing the CPU; the others restart once it is back (or when they are idle).
    const order = [...current].sort((a, b) => a.busySlots - b.busySlots);
    let lead: Promise<unknown> | undefined;
    const restarts = order.map((inst, i) => {
      inst.restarting = true;
      const after = i === 0 ? undefined : lead;
      const ready = (async (): Promise<Instance | undefined> => {
        while (inst.busySlots > 0 && inst.state !== 'gone') await this.nextChange();
        if (after) await after;
        if (inst.state === 'gone') return undefined;
        inst.take();
        // To the function a restart in place ends this instance: its preStop runs first.
        const ran = inst.spec ?? before;
        if (this.opts.beforeStop && ran.lifecycle?.preStop) await this.opts.beforeStop(inst, ran).catch(() => undefined);
        const watch = this.debugging ? this.announceDebugger(spec) : undefined;
        const unwatch = watch ? inst.handle.onLine(watch) : undefined;
        const ok = await restart!(inst.handle, before, spec)
          .catch(() => false)
          .finally(() => unwatch?.());
        inst.restarting = false;
        if (ok) this.opts.onEvent?.({ type: 'restarted', fn: spec, instance: inst });
        if (ok) {
          inst.reset();
          inst.spec = spec;
        }
        else inst.retire();
        inst.give();
        this.changed();
        if (ok) return inst;
        await this.stop(inst, 'stale');
        return this.startInstance().catch(() => undefined);
      })();
      if (i === 0) lead = ready;
      const entry = { ready, inPlace: true };
      this.warming.push(entry);
      void ready.then(() => this.doneWarming(entry));
      return ready;
    });
    await Promise.all(restarts);
    if (!(await swap)) throw new Error(`an instance of ${fnKey(spec)} failed to start`);
    return current.length + replaced.length;
  }

  /** Starts one instance per old one (of the current spec), then retires the old ones; false if a start failed. */
  private async replaceAfterStart(old: Instance[]): Promise<boolean> {
    // Where instances are capped (the debugger's one and its port, a fixed port, reservedConcurrency)
    // the old ones must go first, or the new ones could never start.
    const capped = this.debugging || this.backend.maxInstances?.(this.spec) !== undefined || this.spec.reservedConcurrency !== undefined;
    if (capped) await Promise.all(old.map((inst) => (inst.retire() ? this.stop(inst, 'stale') : undefined)));
    const fresh = await Promise.all(
      old.map(() => {
        const entry = { ready: this.startInstance().catch(() => undefined) };
        this.warming.push(entry);
        void entry.ready.then(() => this.doneWarming(entry));
        return entry.ready;
      }),
    );
    // Idle ones go now (the swap is done when they are gone); busy ones after their request.
    await Promise.all(old.map((inst) => (inst.retire() ? this.stop(inst, 'stale') : undefined)));
    return fresh.every((f) => f !== undefined);
  }

  markStale(): void {
    for (const inst of this.instanceSet) if (inst.retire()) void this.stop(inst, 'stale');
  }

  reapIdle(now = this.now()): void {
    if (this.debugging) return; // the developer may look at the code for a long time
    // Sessions whose time is up end first: an exclusive session's instance ends with it.
    const freed = this.sessionTable?.sweep(now) ?? [];
    if (this.spec.session?.exclusive) for (const inst of freed) this.endExclusive(inst);
    for (const inst of this.instanceSet) {
      // An instance holding live sessions stays, however idle, as on FC.
      if (inst.sessions.size > 0 || inst.reservedSessions > 0) continue;
      if (inst.idleLongerThan(this.opts.idleTimeoutMs, now)) void this.stop(inst, 'idle');
    }
  }

  /** An exclusive session's instance, its session over: it ends (after its requests). */
  private endExclusive(inst: Instance): void {
    if (inst.sessions.size === 0 && inst.reservedSessions === 0 && inst.retire()) void this.stop(inst, 'session');
  }

  /**
   * CreateSession: a session bound to an instance now (one started for it if none has room).
   * Throws SessionExistsError for the ID of a live session.
   */
  async createSession(opts: { id: string; ttlSeconds?: number; idleTimeoutSeconds?: number; disableIdReuse?: boolean; qualifier?: string }): Promise<Session> {
    const table = this.sessionTable;
    if (!table) throw new Error(`${fnKey(this.spec)} has no session affinity`);
    if (table.active(opts.id)) throw new SessionExistsError(opts.id);
    const s = table.create(opts.id, opts);
    const lease = await this.acquire({ id: s.id, create: false });
    lease.release();
    return s;
  }

  /** Ends every session (a state reset or load). */
  endAllSessions(): void {
    for (const s of this.sessionTable?.list() ?? []) this.endSession(s.id);
  }

  /** Ends a session now (DeleteSession, an MCP client's DELETE, an SSE stream's end): its ID may start a new one. */
  endSession(id: string, how: 'delete' | 'expire' = 'delete'): boolean {
    const table = this.sessionTable;
    const s = table?.get(id);
    if (!table || !s) return false;
    const inst = how === 'delete' ? table.remove(id) : table.expire(s);
    if (inst && this.spec.session?.exclusive) this.endExclusive(inst);
    this.changed();
    return true;
  }

  /** Stops its instances; with `parkUntil` (--keep-warm) the idle ones that have served are left running for the next run instead. */
  async close(parkUntil?: number): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`function ${fnKey(this.spec)} is no longer served`));
    }
    this.changed();
    await Promise.all(
      [...this.instanceSet].map(async (i) => {
        if (parkUntil !== undefined && (await this.park(i, parkUntil))) return;
        await this.stop(i, 'closed');
      }),
    );
  }

  /** Leaves an idle instance of the current code running for the next run (no preStop: it is not stopped). */
  private async park(inst: Instance, until: number): Promise<boolean> {
    const park = this.backend.park;
    if (!park || this.debugging || inst.state !== 'idle' || inst.spec !== this.spec || inst.served === 0 || inst.sessions.size > 0) return false;
    if (!(await park.call(this.backend, inst.handle, inst.initialized, until))) return false;
    if (!inst.end()) return false;
    this.instanceSet.delete(inst);
    this.changed();
    return true;
  }

  /**
   * Takes over the instances an earlier run parked for this function (a warm restart): they serve
   * as warm instances, their initializer already run. Resolves with how many.
   */
  async adoptParked(): Promise<number> {
    if (!this.backend.parkedFor || this.debugging) return 0;
    const spec = this.spec;
    const found = await this.backend.parkedFor(this.request(spec, this.opts.instanceServices?.()));
    let adopted = 0;
    await Promise.all(
      found.map(async (p) => {
        const t0 = Date.now();
        let owner: Instance | undefined;
        const services = this.servicesFor(() => owner);
        this.starting++;
        try {
          const inst = (owner = this.register(await p.take(services), spec, t0, true));
          inst.warmed = true;
          if (p.initialized) inst.markInitialized();
          adopted++;
        } catch {
          // It no longer answered: it was removed, a request starts a fresh one.
        } finally {
          this.starting--;
          this.changed();
        }
      }),
    );
    return adopted;
  }

  /** The services one instance reaches through doors of its own: a call through them is a child of the invocation it runs. */
  private servicesFor(owner: () => Instance | undefined): InstanceService[] | undefined {
    return this.opts.instanceServices?.().map((s) => ({ ...s, listener: markedBy(s.listener, owner) }));
  }

  /** What a start of `spec` asks the backend for (without a debugger or compiled code). */
  private request(spec: FunctionSpec, services: InstanceService[] | undefined): InstanceRequest {
    return {
      fn: spec,
      region: this.opts.region,
      accountId: this.opts.accountId,
      ...(this.opts.instanceEnv ? { env: this.opts.instanceEnv() } : {}),
      ...(services ? { services } : {}),
    };
  }

  private pickIdle(): Instance | undefined {
    // Prefer the most recently used instance so that surplus ones go idle and get reaped.
    let best: Instance | undefined;
    for (const inst of this.instanceSet) {
      if (inst.canTake(this.spec.instanceConcurrency) && (!best || inst.lastUsed > best.lastUsed)) best = inst;
    }
    return best;
  }

  private atCapacity(): boolean {
    // A debugger holds one instance: requests queue for it, and the debug port has one owner.
    // reservedConcurrency caps instances too: a request past a full one waits for a slot in it.
    const limits = [this.debugging ? 1 : this.backend.maxInstances?.(this.spec), this.spec.reservedConcurrency].filter((n) => n !== undefined);
    return limits.length > 0 && this.instanceSet.size + this.starting + this.stopping >= Math.min(...limits);
  }

  /**
   * An instance warming or restarting is no longer coming: requests that counted on it (one that
   * failed to start) get a start of their own.
   */
  private doneWarming(entry: (typeof this.warming)[number]): void {
    this.warming.splice(this.warming.indexOf(entry), 1);
    this.changed();
  }

  /** Resolves at the next release, start or stop of an instance of this pool. */
  private nextChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  private changed(): void {
    this.changeWaiters.splice(0).forEach((w) => w());
    if (this.waiters.length || this.opts.standby) this.plan();
  }

  private async startInstance(): Promise<Instance> {
    while (this.atCapacity()) await this.nextChange();
    this.starting++;
    try {
      return await this.startOne();
    } finally {
      this.starting--;
      this.changed();
    }
  }

  /**
   * Takes an instance of this function that was started before the pool could start it (a
   * one-shot `invoke` starts it while the rest of fc-local loads); the next request claims it.
   */
  adopt(started: Promise<InstanceHandle>): void {
    const t0 = Date.now();
    const spec = this.spec;
    this.starting++;
    const ready = started
      .then((handle) => this.register(handle, spec, t0))
      .catch(() => undefined)
      .finally(() => {
        this.starting--;
        this.changed();
      });
    const entry = { ready };
    this.warming.push(entry);
    void ready.then(() => this.doneWarming(entry));
  }

  private async startOne(): Promise<Instance> {
    const spec = this.spec;
    const t0 = Date.now();
    const debug = this.debugging ? this.opts.debug : undefined;
    if (!debug) this.opts.onEvent?.({ type: 'starting', fn: spec });
    const watch = debug ? this.announceDebugger(spec) : undefined;
    // Code that needs building first (TypeScript): built before the instance starts, once per change.
    const compiledDir = await this.opts.prepare?.(spec);
    let owner: Instance | undefined;
    const services = this.servicesFor(() => owner);
    const handle = await this.backend.start({
      ...this.request(spec, services),
      ...(debug ? { debug: { port: debug.port, args: debug.args, debuggerPath: debug.debuggerPath } } : {}),
      ...(watch ? { onBootLine: watch } : {}),
      ...(compiledDir ? { compiledDir } : {}),
    });
    return (owner = this.register(handle, spec, t0));
  }

  /**
   * Says 'starting', then 'debugger-listening' once the debugger accepts clients: a line the
   * runtime prints inside the instance (see debuggerListeningLine), or at once for a custom
   * bootstrap. Returns the listener for the instance's lines.
   */
  private announceDebugger(spec: FunctionSpec): ((line: string) => void) | undefined {
    const port = this.opts.debug!.port;
    this.opts.onEvent?.({ type: 'starting', fn: spec, debugPort: port });
    const listening = () => this.opts.onEvent?.({ type: 'debugger-listening', fn: spec, debugPort: port });
    const watch = onDebuggerListening(spec, listening);
    if (!watch) listening();
    return watch;
  }

  private register(handle: InstanceHandle, spec: FunctionSpec, t0: number, adopted = false): Instance {
    const inst = new Instance(handle, Date.now() - t0);
    inst.now = this.now;
    inst.lastUsed = this.now();
    inst.spec = spec;
    // Code changed while this one was starting: it must not serve.
    if (spec !== this.spec) inst.retire();
    this.instanceSet.add(inst);
    if (this.opts.onLine) {
      const onLine = this.opts.onLine;
      handle.onLine((line, stream) => onLine(spec, line, stream));
    }
    void handle.exited.then((exit) => {
      if (!inst.end()) return;
      this.instanceSet.delete(inst);
      this.sessionTable?.unbindAll(inst);
      this.changed();
      this.opts.onEvent?.({ type: 'exited', fn: spec, instance: inst, code: exit.code, signal: exit.signal });
    });
    this.opts.onEvent?.({ type: 'started', fn: spec, instance: inst, ...(adopted ? { adopted } : {}) });
    if (this.closed) {
      void this.stop(inst, 'closed');
      throw new Error(`function ${fnKey(spec)} is no longer served`);
    }
    return inst;
  }

  private lease(inst: Instance, w?: Pick<Waiter, 'target' | 'room' | 'bindTo'>): Lease {
    // Cold: the instance's first request (its initializer runs), whoever started it.
    const cold = inst.leases === 0 && !inst.warmed;
    inst.take();
    let released = false;
    let serving: string | undefined;
    const table = this.sessionTable;
    let session = w?.bindTo;
    // A beginning session holds a room on its instance until it is bound (now, or by the answer) or the request ends.
    let reserved = false;
    if (w?.room) {
      if (session && table) table.bind(session, inst);
      else {
        inst.reservedSessions++;
        reserved = true;
      }
    }
    const unreserve = () => {
      if (reserved) {
        reserved = false;
        inst.reservedSessions--;
      }
    };
    return {
      instance: inst,
      cold,
      get session() {
        return session?.id;
      },
      bindSession: (id: string) => {
        if (!table) return false;
        const s = table.active(id) ?? table.create(id);
        if (s !== session) {
          if (session) session.inFlight--;
          s.inFlight++;
          session = s;
        }
        s.lastUsedAt = this.now();
        if (inst.state !== 'gone') table.bind(s, inst);
        unreserve();
        return true;
      },
      serves: (requestId: string) => {
        if (released || serving !== undefined) return;
        serving = requestId;
        inst.requests.push(requestId);
      },
      release: (opts) => {
        if (released) return;
        released = true;
        if (serving !== undefined) inst.requests.splice(inst.requests.indexOf(serving), 1);
        unreserve();
        if (session) {
          session.inFlight--;
          session.lastUsedAt = this.now();
        }
        const retiredAndIdle = inst.give();
        this.gate.leave();
        this.leased--;
        // Gone before anyone waiting is handed an instance (stop marks it at once).
        if (opts?.discard) void this.stop(inst, 'discarded');
        else if (retiredAndIdle) void this.stop(inst, 'stale');
        this.changed();
      },
    };
  }

  private async stop(inst: Instance, why: StopReason): Promise<void> {
    if (!inst.end(true)) return;
    this.instanceSet.delete(inst);
    this.sessionTable?.unbindAll(inst);
    this.stopping++;
    this.opts.onEvent?.({ type: 'stopped', fn: this.spec, instance: inst, why });
    // preStop, for any stop but of an instance that broke (its runtime is not there to ask). Without
    // a hook the stop begins at once.
    const runs = inst.spec ?? this.spec;
    if (why !== 'discarded' && this.opts.beforeStop && runs.lifecycle?.preStop) await this.opts.beforeStop(inst, runs).catch(() => undefined);
    inst.closeChannel();
    try {
      await inst.handle.stop();
    } finally {
      this.stopping--;
      this.changed();
    }
  }
}

/** The pools of one running emulator: one per function, created on first use. */
export class PoolSet {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly reaper: NodeJS.Timeout;
  readonly gate: ConcurrencyGate;

  constructor(
    readonly backend: Backend,
    private readonly opts: PoolOptions & { concurrencyLimit: number },
  ) {
    this.gate = new ConcurrencyGate(opts.concurrencyLimit);
    if (backend.startLimits && !opts.startLimiter) opts.startLimiter = new StartLimiter(backend.startLimits);
    backend.setReclaimer?.(async (handle) => {
      for (const p of this.pools.values()) if (await p.reclaim(handle)) return;
    });
    const every = Math.max(50, Math.min(opts.idleTimeoutMs / 2, 5_000));
    this.reaper = setInterval(() => this.pools.forEach((p) => p.reapIdle()), every);
    this.reaper.unref();
    // A manual clock reaps (and ends sessions) as it is moved, not as real time goes by.
    if (opts.clock instanceof ManualClock) opts.clock.onTick(() => this.pools.forEach((p) => p.reapIdle()));
  }

  pool(fn: FunctionSpec): FunctionPool {
    const key = `${fnKey(fn)}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new FunctionPool(fn, this.backend, this.gate, this.opts);
      this.pools.set(key, pool);
    }
    return pool;
  }

  all(): FunctionPool[] {
    return [...this.pools.values()];
  }

  /** Whether `fn` runs under the debugger (no key is built on the request path otherwise). */
  debugging(fn: FunctionSpec): boolean {
    return this.opts.debug !== undefined && this.opts.debug.fn === fnKey(fn);
  }

  /** The pool of a function, if it has served anything yet. */
  /** Sets the preStop runner every pool calls before stopping an instance. */
  setBeforeStop(run: (inst: Instance, fn: FunctionSpec) => Promise<void>): void {
    this.opts.beforeStop = run;
  }

  existing(service: string, fn: string): FunctionPool | undefined {
    // Keyed as fnKey names functions: FC 3.0's (no service) by their name alone.
    return this.pools.get(fnKey({ service, name: fn }));
  }

  async remove(service: string, fn: string): Promise<void> {
    const key = fnKey({ service, name: fn });
    const pool = this.pools.get(key);
    this.pools.delete(key);
    await pool?.close();
  }

  /** Stops every instance; with `parkUntil` (epoch ms, --keep-warm) idle ones stay for the next run until then. */
  async close(parkUntil?: number): Promise<void> {
    clearInterval(this.reaper);
    this.backend.closing?.();
    await Promise.all(this.all().map((p) => p.close(parkUntil)));
    await this.backend.close();
  }

  /** Takes over what an earlier run parked for these functions (a warm restart); resolves with how many per function key. */
  async adoptParked(fns: FunctionSpec[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (!this.backend.parkedFor) return counts;
    await Promise.all(
      fns.map(async (fn) => {
        const n = await this.pool(fn).adoptParked().catch(() => 0);
        if (n) counts.set(fnKey(fn), n);
      }),
    );
    return counts;
  }
}

/**
 * A service's listener for one instance: a request that carries no trace mark of its own (an
 * agent marks its calls where it can tell which invocation makes them) gets the invocation the
 * instance runs, when it runs exactly one, whatever the function's language.
 */
function markedBy(listener: RequestListener, owner: () => Instance | undefined): RequestListener {
  return (req, res) => {
    if (req.headers[TRACE_PARENT_HEADER] === undefined) {
      const id = owner()?.soleRequest();
      if (id) req.headers[TRACE_PARENT_HEADER] = id;
    }
    listener(req, res);
  };
}

import type { FunctionSpec } from '../model.js';
import type { InstanceHandle } from './backend.js';
import { AgentChannel } from './channel.js';
import { LIMITS } from '../model.js';

// One instance's life, in one place:
//
//   start ──> idle <──> busy            (take / give: requests lease a slot)
//              │         │
//              └─retire──┴──> retiring  (new code or config: no new requests; stops when idle)
//                                │
//   any state ── end ──────────> gone   (stopped, discarded, reaped, or it exited by itself)
//
// The initializer runs once per instance, before its first request, however many requests
// arrive together (instanceConcurrency > 1).

export type InstanceState = 'idle' | 'busy' | 'retiring' | 'gone';

export class Instance {
  served = 0;
  /** Requests given to it since it (re)started: the first one is its cold start. */
  leases = 0;
  /** Started ahead of traffic (--warm, provisioned): its first request does not count as a cold start. */
  warmed = false;
  /** The clock its idle time is read on (the pool's: real, or a test's manual one). */
  now: () => number = Date.now;
  lastUsed = Date.now();
  /** Its runtime is being started again in place: it takes no request meanwhile. */
  restarting = false;
  /** The function as this instance runs it (its hooks are this spec's, whatever the template says now). */
  spec?: FunctionSpec;
  /** FC 3.0 sessions bound to it (session affinity): it is not reaped while it holds any. */
  readonly sessions = new Set<string>();
  /** Requests that may begin a session here (MCP initialize, an SSE stream), holding a session's room until they do or end. */
  reservedSessions = 0;
  /** The invocations it runs now, by request ID (see soleRequest). */
  readonly requests: string[] = [];
  private active = 0;
  private retiring = false;
  private gone = false;
  private init?: Promise<unknown>;
  private agentChannel?: AgentChannel | null;
  private exited = false;
  private exitListeners: Array<() => void> = [];

  constructor(
    readonly handle: InstanceHandle,
    /** How long the backend took to start it. */
    readonly startedMs: number,
  ) {
    // One reaction on the backend's promise, however many requests wait on the exit.
    void handle.exited.then(() => {
      this.exited = true;
      const listeners = this.exitListeners;
      this.exitListeners = [];
      for (const l of listeners) l();
    });
  }

  /**
   * Calls `listener` once when the instance has exited (at once if it has); the returned
   * function cancels. Unlike racing `handle.exited`, a cancelled wait leaves nothing behind.
   */
  onExit(listener: () => void): () => void {
    if (this.exited) {
      listener();
      return () => undefined;
    }
    this.exitListeners.push(listener);
    return () => {
      const i = this.exitListeners.indexOf(listener);
      if (i >= 0) this.exitListeners.splice(i, 1);
    };
  }

  get state(): InstanceState {
    if (this.gone) return 'gone';
    if (this.retiring) return 'retiring';
    return this.active > 0 ? 'busy' : 'idle';
  }

  /** Requests running on it now. */
  get busySlots(): number {
    return this.active;
  }

  /**
   * The request it runs, when it runs exactly one: a call that reaches fc-local's services through
   * this instance's own door (its socket) belongs to that invocation.
   */
  soleRequest(): string | undefined {
    return this.active === 1 && this.requests.length === 1 ? this.requests[0] : undefined;
  }

  /** Whether it can take one more request, with `slots` requests at once at most. */
  canTake(slots: number): boolean {
    return !this.gone && !this.retiring && !this.restarting && this.active < slots;
  }

  take(): void {
    this.active++;
    this.leases++;
  }

  /** A request is done with it; true when it must stop now (it was retiring and is now idle). */
  give(): boolean {
    this.active--;
    this.served++;
    this.lastUsed = this.now();
    return this.retiring && this.active === 0 && !this.gone;
  }

  /** No new requests; true when it must stop now (it is idle). */
  retire(): boolean {
    this.retiring = true;
    return this.active === 0 && !this.gone;
  }

  /** Marks it gone; true the first time only, so that it is stopped and reported once. */
  end(keepChannel = false): boolean {
    if (this.gone) return false;
    this.gone = true;
    // A stop keeps the channel for the instance's preStop hook, then closes it.
    if (!keepChannel) this.agentChannel?.close();
    return true;
  }

  closeChannel(): void {
    this.agentChannel?.close();
  }

  /** fc-local's channel to its agent, when the backend gave it one (channel.ts); else HTTP on the port. */
  channel(): AgentChannel | undefined {
    if (this.agentChannel === undefined) {
      this.agentChannel = this.handle.channelPath && !this.gone ? new AgentChannel(this.handle.channelPath, LIMITS.payloadBytes) : null;
    }
    return this.agentChannel ?? undefined;
  }

  idleLongerThan(ms: number, now = this.now()): boolean {
    return !this.gone && this.active === 0 && now - this.lastUsed >= ms;
  }

  /** Its runtime was started again in place: to the function it is a new instance (initializer again). */
  reset(): void {
    this.init = undefined;
    this.served = 0;
    this.leases = 0;
    this.lastUsed = this.now();
  }

  /** Whether its initializer has run (or been asked to: a request that began it is running it). */
  get initialized(): boolean {
    return this.init !== undefined;
  }

  /** Taken over already initialized (a warm restart): no initializer runs again. */
  markInitialized(): void {
    this.init = Promise.resolve(undefined);
  }

  /**
   * Runs `initialize` the first time it is asked, and gives every caller that one run's result
   * (concurrent first requests wait for the same run). A failed run is not retried: the caller
   * discards the instance, as FC does.
   */
  initializeOnce<T>(initialize: () => Promise<T>): Promise<T> {
    this.init ??= initialize();
    return this.init as Promise<T>;
  }
}

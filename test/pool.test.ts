import { describe, expect, it } from 'vitest';
import type { Backend, ExitInfo, InstanceHandle, InstanceRequest } from '../src/runtime/backend.js';
import { ConcurrencyGate, FunctionPool, QueueTimeoutError, ThrottledError, type PoolEvent, type PoolOptions } from '../src/runtime/pool.js';
import { StartLimiter } from '../src/runtime/start-limiter.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_ASYNC_CONFIG, TRACE_PARENT_HEADER, type FunctionSpec } from '../src/model.js';

// A backend whose instances are plain objects: the pool's bookkeeping without processes.
class FakeBackend implements Backend {
  readonly name = 'process' as const;
  maxInstances?: () => number | undefined;
  started: FakeInstance[] = [];
  failNext = false;
  /** How long a start takes (ms); `startsAtOnce` counts the starts running together. */
  startMs = 1;
  running = 0;
  mostAtOnce = 0;
  requests: InstanceRequest[] = [];
  async start(req: InstanceRequest): Promise<InstanceHandle> {
    this.requests.push(req);
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    await new Promise((r) => setTimeout(r, this.startMs)).finally(() => this.running--);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('boom');
    }
    const inst = new FakeInstance(`i${this.started.length}`);
    this.started.push(inst);
    return inst;
  }
  async close() {}
}

class FakeInstance implements InstanceHandle {
  readonly host = '127.0.0.1';
  readonly port = 1;
  stopped = false;
  private end!: (e: ExitInfo) => void;
  readonly exited = new Promise<ExitInfo>((r) => (this.end = r));
  constructor(readonly id: string) {}
  onLine() {
    return () => {};
  }
  async maxMemoryMB() {
    return undefined;
  }
  async stop() {
    this.stopped = true;
    this.end({ code: null, signal: 'SIGKILL' });
  }
  crash() {
    this.end({ code: 1, signal: null });
  }
}

const spec = (over: Partial<FunctionSpec> = {}): FunctionSpec => ({
  service: 's', name: 'f', runtime: 'nodejs18', handler: 'index.handler', codeUri: '/tmp', timeout: 3, memorySize: 128,
  initializationTimeout: 3, environmentVariables: {}, instanceConcurrency: 1, asyncConfig: DEFAULT_ASYNC_CONFIG, caPort: 9000, layers: [], mounts: [], provisioned: 0, triggers: [], ...over,
});

function setup(limit = 10, idleTimeoutMs = 60_000, over: Partial<FunctionSpec> = {}, opts: Partial<PoolOptions> = {}) {
  const backend = new FakeBackend();
  const gate = new ConcurrencyGate(limit);
  const events: PoolEvent[] = [];
  const pool = new FunctionPool(spec(over), backend, gate, { region: 'r', accountId: 'a', idleTimeoutMs, onEvent: (e) => events.push(e), ...opts });
  return { backend, gate, pool, events };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('FunctionPool', () => {
  it('scales out when all instances are busy and reuses warm ones after', async () => {
    const { backend, pool } = setup();
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(backend.started).toHaveLength(3);
    expect(new Set(leases.map((l) => l.instance)).size).toBe(3);
    expect(leases.every((l) => l.cold)).toBe(true);
    leases.forEach((l) => l.release());
    const again = await pool.acquire();
    expect(again.cold).toBe(false);
    expect(backend.started).toHaveLength(3);
    expect(pool.size).toBe(3);
    again.release();
  });

  it('lets one instance take instanceConcurrency requests at once', async () => {
    const { backend, pool } = setup(10, 60_000, { instanceConcurrency: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const c = await pool.acquire();
    expect(a.instance).toBe(b.instance);
    expect(c.instance).not.toBe(a.instance);
    expect(backend.started).toHaveLength(2);
  });

  it('throttles past the account concurrency limit and recovers when a slot frees', async () => {
    const { pool, gate } = setup(2);
    const a = await pool.acquire();
    await pool.acquire();
    await expect(pool.acquire()).rejects.toBeInstanceOf(ThrottledError);
    expect(gate.active).toBe(2);
    a.release();
    const c = await pool.acquire();
    expect(c.cold).toBe(false);
    expect(gate.active).toBe(2);
  });

  it('gives the slot back when an instance fails to start', async () => {
    const { pool, gate, backend } = setup(1);
    backend.failNext = true;
    await expect(pool.acquire()).rejects.toThrow('boom');
    expect(gate.active).toBe(0);
    const ok = await pool.acquire();
    expect(ok.cold).toBe(true);
  });

  it('reaps instances idle longer than the idle timeout, never busy ones', async () => {
    const { pool, backend, events } = setup(10, 1_000);
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.release();
    pool.reapIdle(Date.now() + 500);
    expect(pool.size).toBe(2);
    pool.reapIdle(Date.now() + 1_500);
    expect(pool.size).toBe(1);
    expect(backend.started[0]!.stopped).toBe(true);
    expect(backend.started[1]!.stopped).toBe(false);
    expect(events.filter((e) => e.type === 'stopped').map((e) => (e as { why: string }).why)).toEqual(['idle']);
    b.release();
  });

  it('replaces an instance that died between requests', async () => {
    const { pool, backend, events } = setup();
    const a = await pool.acquire();
    a.release();
    backend.started[0]!.crash();
    await tick();
    expect(pool.size).toBe(0);
    expect(events.some((e) => e.type === 'exited')).toBe(true);
    const b = await pool.acquire();
    expect(b.cold).toBe(true);
    expect(b.instance.handle).toBe(backend.started[1]);
  });

  it('discards an instance on request and recycles stale ones after their request', async () => {
    const { pool, backend } = setup();
    const a = await pool.acquire();
    a.release({ discard: true });
    expect(backend.started[0]!.stopped).toBe(true);
    const busy = await pool.acquire();
    const idle = await pool.acquire();
    idle.release();
    pool.replaceSpec(spec({ handler: 'index.other' }));
    expect(backend.started[2]!.stopped).toBe(true); // idle: at once
    expect(backend.started[1]!.stopped).toBe(false); // busy: finishes first
    const fresh = await pool.acquire();
    expect(fresh.cold).toBe(true);
    busy.release();
    expect(backend.started[1]!.stopped).toBe(true);
    expect(pool.fn.handler).toBe('index.other');
  });

  it('lets a request claim an instance that is already warming instead of starting another', async () => {
    const { pool, backend } = setup();
    const warming = pool.warm(2);
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    await warming;
    expect(backend.started).toHaveLength(2);
    expect(a.instance).not.toBe(b.instance);
    const c = await pool.acquire(); // both busy: scale out
    expect(backend.started).toHaveLength(3);
    [a, b, c].forEach((l) => l.release());
  });

  it('refresh replaces current instances once, never the retiring ones again', async () => {
    const { pool, backend } = setup();
    const busy = await pool.acquire();
    await pool.refresh();
    expect(backend.started).toHaveLength(2);
    await pool.refresh(); // the busy stale one does not count again
    expect(backend.started).toHaveLength(3);
    busy.release();
    expect(pool.size).toBe(1);
  });

  it('warms instances ahead of traffic and stops all on close', async () => {
    const { pool, backend } = setup();
    await pool.warm(3);
    expect(pool.size).toBe(3);
    const l = await pool.acquire();
    expect(l.cold).toBe(false);
    await pool.close();
    expect(backend.started.every((i) => i.stopped)).toBe(true);
    await expect(pool.acquire()).rejects.toThrow(/no longer served/);
  });
});

describe('FunctionPool under a burst', () => {
  // A slow engine: each start takes START ms. Limits below are counted in starts, never in time.
  const START = 40;

  it('bounds starts and serves the whole burst from the first instances ready', async () => {
    const limiter = new StartLimiter({ initial: 2, max: 2 });
    const { pool, backend } = setup(100, 60_000, {}, { startLimiter: limiter });
    backend.startMs = START;
    const order: number[] = [];
    // 20 requests at once, each holding its instance for a moment.
    const served = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const l = await pool.acquire();
        order.push(i);
        await tick();
        l.release();
        return l;
      }),
    );
    expect(served).toHaveLength(20);
    expect(backend.mostAtOnce).toBeLessThanOrEqual(2);
    // Requests are served first come first served, whichever instance frees first.
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // Far fewer instances than requests: the queue went to the first ones ready.
    expect(backend.started.length).toBeLessThan(20);
    expect(served.filter((l) => l.cold)).toHaveLength(backend.started.length);
  });

  it('gives a waiting request the instance that frees first, not the one started for it', async () => {
    const { pool, backend } = setup();
    const first = await pool.acquire();
    backend.startMs = 10_000; // the start made for the next request never finishes in this test
    const next = pool.acquire();
    await tick();
    expect(backend.running).toBe(1);
    first.release();
    const lease = await next;
    expect(lease.instance).toBe(first.instance);
    expect(lease.cold).toBe(false);
    lease.release();
  });

  it('never hands a waiting request the instance released with discard', async () => {
    const { pool, backend } = setup();
    const broken = await pool.acquire();
    backend.startMs = 20;
    const next = pool.acquire();
    await tick();
    broken.release({ discard: true });
    const lease = await next;
    expect(lease.instance).not.toBe(broken.instance);
    expect(lease.instance.state).toBe('busy');
    lease.release();
  });

  it('starts an instance for a request that counted on an adopted start that failed', async () => {
    const { pool, backend } = setup();
    let fail!: (err: Error) => void;
    pool.adopt(new Promise((_, reject) => (fail = reject)));
    const lease = pool.acquire();
    await tick();
    expect(backend.started).toHaveLength(0); // it waits for the adopted one
    fail(new Error('no'));
    (await lease).release();
    expect(backend.started).toHaveLength(1);
  });

  it('drops a start that is no longer needed by its turn', async () => {
    const limiter = new StartLimiter({ initial: 1, max: 1 });
    const { pool, backend } = setup(100, 60_000, {}, { startLimiter: limiter });
    const first = await pool.acquire(); // one instance, busy
    backend.startMs = START;
    const waiting = [pool.acquire(), pool.acquire()]; // two starts launched, one at a time
    await tick();
    first.release(); // serves the first waiter; the second still waits for the start running
    const leases = await Promise.all(waiting);
    leases.forEach((l) => l.release());
    await tick();
    // The first instance and the one start that ran; the second start found nobody waiting.
    expect(backend.started.length).toBeLessThanOrEqual(2);
  });

  it('answers a request queued past the function timeout when no instance can start', async () => {
    const { pool } = setup(10, 60_000, { timeout: 0.05, reservedConcurrency: 1 });
    const held = await pool.acquire();
    // reservedConcurrency 1 with instanceConcurrency 1: the second request is over the limit at once (429).
    await expect(pool.acquire()).rejects.toBeInstanceOf(ThrottledError);
    held.release();
    const { pool: capped, backend } = setup(10, 60_000, { timeout: 0.05 });
    backend.maxInstances = () => 1;
    const busy = await capped.acquire();
    const t0 = Date.now();
    const err = await capped.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueTimeoutError);
    expect((err as Error).message).toContain('Function timed out after 0.05 seconds waiting for an instance');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    busy.release();
    // The slot came back: the next request is served.
    (await capped.acquire()).release();
  });

  it('fails only the request that waited first when a start fails', async () => {
    const { pool, backend } = setup();
    backend.failNext = true;
    const results = await Promise.allSettled([pool.acquire(), pool.acquire()]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[0]!.status).toBe('rejected');
    for (const r of results) if (r.status === 'fulfilled') r.value.release();
  });

  it('keeps a standby instance once the function has scaled out', async () => {
    const { pool, backend } = setup(10, 60_000, {}, { standby: 1 });
    const a = await pool.acquire();
    await until(() => pool.size === 2);
    const b = await pool.acquire();
    expect(b.cold).toBe(true);
    expect(b.instance).not.toBe(a.instance);
    // Both busy: another standby comes up.
    await until(() => pool.size === 3);
    expect(backend.started).toHaveLength(3);
    a.release();
    b.release();
  });
});

describe('StartLimiter', () => {
  it('grows while starts stay fast, halves when they slow down', async () => {
    const l = new StartLimiter({ initial: 2, max: 8 });
    (await l.turn())({ ms: 100, ok: true });
    expect(l.current).toBe(3);
    (await l.turn())({ ms: 150, ok: true });
    expect(l.current).toBe(4);
    (await l.turn())({ ms: 500, ok: true });
    expect(l.current).toBe(2);
    (await l.turn())({ ms: 300, ok: false }); // a failure teaches nothing
    expect(l.current).toBe(2);
    const a = await l.turn();
    await l.turn();
    let third = false;
    void l.turn().then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    a();
    await tick();
    expect(third).toBe(true);
  });
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await tick();
}

describe('ConcurrencyGate', () => {
  it('counts in-flight executions', () => {
    const g = new ConcurrencyGate(1);
    expect(g.tryEnter()).toBe(true);
    expect(g.tryEnter()).toBe(false);
    g.leave();
    expect(g.tryEnter()).toBe(true);
  });
});

describe('FunctionPool sessions (FC 3.0 session affinity)', () => {
  const affinity = (over: Partial<NonNullable<FunctionSpec['session']>> = {}): Partial<FunctionSpec> => ({
    instanceConcurrency: 4,
    session: { type: 'HEADER_FIELD', headerName: 'session-key', perInstance: 2, idleTimeoutSeconds: 1800, ttlSeconds: 21_600, disableIdReuse: false, exclusive: false, ...over },
  });

  it('keeps a session on its instance, fills an instance up to sessionConcurrencyPerInstance, then starts another', async () => {
    const { backend, pool } = setup(10, 60_000, affinity());
    const a = await pool.acquire({ id: 'a', create: true });
    const b = await pool.acquire({ id: 'b', create: true });
    expect(b.instance).toBe(a.instance);
    const c = await pool.acquire({ id: 'c', create: true });
    expect(c.instance).not.toBe(a.instance);
    expect(backend.started).toHaveLength(2);
    [a, b, c].forEach((l) => l.release());
    // The session's next requests, even two at once, go to its own instance.
    const again = await Promise.all([pool.acquire({ id: 'c', create: true }), pool.acquire({ id: 'c', create: true })]);
    expect(again.map((l) => l.instance)).toEqual([c.instance, c.instance]);
    again.forEach((l) => l.release());
    expect(pool.sessions!.size).toBe(3);
  });

  it('a bound session waits for its busy instance instead of starting another', async () => {
    const { backend, pool } = setup(10, 60_000, affinity({ perInstance: 1 }), {});
    const held = await Promise.all([1, 2, 3, 4].map(() => pool.acquire({ id: 's', create: true })));
    expect(new Set(held.map((l) => l.instance)).size).toBe(1);
    const fifth = pool.acquire({ id: 's', create: true });
    await tick();
    expect(backend.started).toHaveLength(1);
    held[0]!.release();
    expect((await fifth).instance).toBe(held[0]!.instance);
  });

  it('does not reap an idle instance that holds a live session; reaps it once the session ends', async () => {
    const { pool } = setup(10, 1, affinity());
    const l = await pool.acquire({ id: 'keep', create: true });
    l.release();
    await tick();
    pool.reapIdle(Date.now() + 10_000);
    expect(pool.size).toBe(1);
    expect(pool.endSession('keep')).toBe(true);
    pool.reapIdle(Date.now() + 10_000);
    await tick();
    expect(pool.size).toBe(0);
  });

  it('a session whose instance crashed begins again on another; a fresh claim reserves room until the answer binds it', async () => {
    const { backend, pool } = setup(10, 60_000, affinity({ perInstance: 1 }));
    const first = await pool.acquire({ fresh: true });
    // The reserved room is taken: a second beginning session gets an instance of its own.
    const second = await pool.acquire({ fresh: true });
    expect(second.instance).not.toBe(first.instance);
    expect(first.bindSession('mcp-1')).toBe(true);
    first.release();
    second.release();
    backend.started[0]!.crash();
    await tick();
    const after = await pool.acquire({ id: 'mcp-1', create: false });
    expect(after.instance).not.toBe(first.instance);
    expect(after.session).toBe('mcp-1');
    after.release();
  });

  it('expires a session after its idle timeout; with disableSessionIdReuse its ID is refused afterwards', async () => {
    const { pool } = setup(10, 60_000, affinity({ idleTimeoutSeconds: 1, disableIdReuse: true }));
    (await pool.acquire({ id: 'once', create: true })).release();
    const s = pool.sessions!.get('once')!;
    s.lastUsedAt -= 2_000;
    await expect(pool.acquire({ id: 'once', create: true })).rejects.toThrow(/may not be reused/);
    expect(s.status).toBe('Expired');
  });

  it('SESSION_EXCLUSIVE: an instance per session, stopped when its session ends', async () => {
    const { backend, pool, events } = setup(10, 60_000, affinity({ exclusive: true, perInstance: 1 }));
    const l = await pool.acquire({ id: 'x', create: true });
    l.release();
    // A request without a session does not share the session's instance.
    const plain = await pool.acquire();
    expect(plain.instance).not.toBe(l.instance);
    plain.release();
    pool.endSession('x');
    await tick();
    expect(backend.started[0]!.stopped).toBe(true);
    expect(events.some((e) => e.type === 'stopped' && e.why === 'session')).toBe(true);
  });
});

describe('FunctionPool sessions at their limits', () => {
  it('answers 429 to a new session when no instance has room and none may start, and keeps nothing of it', async () => {
    const { backend, pool } = setup(10, 60_000, {
      instanceConcurrency: 2,
      reservedConcurrency: 1,
      session: { type: 'HEADER_FIELD', headerName: 'session-key', perInstance: 1, idleTimeoutSeconds: 1800, ttlSeconds: 21_600, disableIdReuse: false, exclusive: false },
    });
    (await pool.acquire({ id: 'first', create: true })).release();
    await expect(pool.acquire({ id: 'second', create: true })).rejects.toThrow(ThrottledError);
    await expect(pool.acquire({ fresh: true })).rejects.toThrow(/sessionConcurrencyPerInstance 1/);
    expect(pool.sessions!.get('second')).toBeUndefined();
    expect(pool.sessions!.size).toBe(1);
    expect(backend.started).toHaveLength(1);
    // The first session's requests still go through.
    (await pool.acquire({ id: 'first', create: true })).release();
  });

  it("marks a call through an instance's own service door with the invocation it runs, when it runs one", async () => {
    const seen: (string | string[] | undefined)[] = [];
    const listener = (req: IncomingMessage) => seen.push(req.headers[TRACE_PARENT_HEADER]);
    const { backend, pool } = setup(10, 60_000, { instanceConcurrency: 2 }, { instanceServices: () => [{ name: 'oss', envVar: 'X', listener }] });
    const call = (headers: Record<string, string> = {}) => backend.requests[0]!.services![0]!.listener({ headers } as IncomingMessage, {} as ServerResponse);
    const first = await pool.acquire();
    first.serves('req-1');
    call();
    // The agent's own mark wins (it knows which of several requests calls).
    call({ [TRACE_PARENT_HEADER]: 'req-agent' });
    const second = await pool.acquire();
    expect(second.instance).toBe(first.instance);
    second.serves('req-2');
    // Two requests at once: whose call it is cannot be told at the door.
    call();
    // The one still running.
    second.release();
    call();
    first.release();
    // Idle: nobody's.
    call();
    expect(seen).toEqual(['req-1', 'req-agent', undefined, 'req-1', undefined]);
  });
});

import { describe, expect, it } from 'vitest';
import type { Backend, ExitInfo, InstanceHandle, InstanceRequest } from '../src/runtime/backend.js';
import { ConcurrencyGate, FunctionPool, ThrottledError, type PoolEvent } from '../src/runtime/pool.js';
import { DEFAULT_ASYNC_CONFIG, type FunctionSpec } from '../src/model.js';

// A backend whose instances are plain objects: the pool's bookkeeping without processes.
class FakeBackend implements Backend {
  readonly name = 'process' as const;
  started: FakeInstance[] = [];
  failNext = false;
  async start(_req: InstanceRequest): Promise<InstanceHandle> {
    await new Promise((r) => setTimeout(r, 1));
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

function setup(limit = 10, idleTimeoutMs = 60_000, over: Partial<FunctionSpec> = {}) {
  const backend = new FakeBackend();
  const gate = new ConcurrencyGate(limit);
  const events: PoolEvent[] = [];
  const pool = new FunctionPool(spec(over), backend, gate, { region: 'r', accountId: 'a', idleTimeoutMs, onEvent: (e) => events.push(e) });
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

describe('ConcurrencyGate', () => {
  it('counts in-flight executions', () => {
    const g = new ConcurrencyGate(1);
    expect(g.tryEnter()).toBe(true);
    expect(g.tryEnter()).toBe(false);
    g.leave();
    expect(g.tryEnter()).toBe(true);
  });
});

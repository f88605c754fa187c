import { describe, expect, it } from 'vitest';
import { BYTES_KEPT, Recorder, RING_SIZE } from '../src/emulator/recorder.js';
import { DEFAULT_ASYNC_CONFIG, type FunctionSpec } from '../src/model.js';
import type { InvocationRecord } from '../src/runtime/invoker.js';

// The workbench's recorder on its own: its history is bounded in count and in bytes, and FC's
// metrics are counted in plain numbers and read out in Prometheus's format when scraped.

const fn: FunctionSpec = {
  service: 's', name: 'f', runtime: 'nodejs18', handler: 'index.handler', codeUri: '/tmp', timeout: 3, memorySize: 128,
  initializationTimeout: 3, environmentVariables: {}, instanceConcurrency: 1, asyncConfig: DEFAULT_ASYNC_CONFIG, caPort: 9000, layers: [], mounts: [], provisioned: 0, triggers: [],
};

function record(i: number, opts: { result?: Buffer; lines?: string[]; durationMs?: number; errorType?: 'HandledInvocationError' } = {}): InvocationRecord {
  return {
    fn,
    requestId: `req-${i}`,
    source: 'api',
    at: Date.now(),
    request: { event: Buffer.from(`{"i":${i}}`) },
    outcome: { requestId: `req-${i}`, logs: [], body: opts.result ?? Buffer.from('ok'), durationMs: opts.durationMs ?? 3, billedDurationMs: 100, coldStart: i === 0, ...(opts.errorType ? { errorType: opts.errorType } : {}) },
    logs: Promise.resolve(opts.lines ?? [`line of ${i}`]),
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('the recorder', () => {
  it("keeps its bodies and logs within BYTES_KEPT: the oldest invocations keep their figures, not their bodies and log", async () => {
    const r = new Recorder(() => 0);
    const big = Buffer.alloc(64 * 1024, 'x');
    const lines = [`${'y'.repeat(60 * 1024)}`];
    for (let i = 0; i < RING_SIZE; i++) r.record(record(i, { result: big, lines }));
    await settle();
    const all = r.invocations();
    expect(all).toHaveLength(RING_SIZE);
    const held = all.reduce((n, e) => n + e.payload.length + (e.result?.length ?? 0) + e.logs.reduce((c, l) => c + l.length + 1, 0), 0);
    expect(held).toBeLessThanOrEqual(BYTES_KEPT);
    // Newest first: the newest whole, the oldest trimmed with a word on why.
    expect(all[0]).toMatchObject({ requestId: `req-${RING_SIZE - 1}`, logs: lines });
    expect(all[0]!.result!.length).toBe(big.length);
    const oldest = all[all.length - 1]!;
    expect(oldest).toMatchObject({ requestId: 'req-0', trimmed: true, durationMs: 3, status: 'succeeded' });
    expect(oldest.result!.length).toBe(0);
    expect(oldest.logs[0]).toMatch(/dropped to keep the workbench's history within 64 MB/);
    // Small invocations push the big ones out and nothing is trimmed any more.
    for (let i = RING_SIZE; i < 2 * RING_SIZE; i++) r.record(record(i));
    await settle();
    expect(r.invocations().filter((e) => e.trimmed)).toEqual([]);
  });

  it("counts FC's metrics per function and reads them out in Prometheus's format", async () => {
    const r = new Recorder(() => 0);
    r.record(record(0, { durationMs: 1 }));
    r.record(record(1, { durationMs: 7 }));
    r.record(record(2, { durationMs: 40_000, errorType: 'HandledInvocationError' }));
    const text = await r.registry.metrics();
    expect(text).toContain('fc_invocations_total{function="s/f"} 3');
    expect(text).toContain('fc_cold_starts_total{function="s/f"} 1');
    expect(text).toContain('fc_function_errors_total{function="s/f",type="Handled"} 1');
    expect(text).toContain('fc_duration_milliseconds_bucket{le="1",function="s/f"} 1');
    expect(text).toContain('fc_duration_milliseconds_bucket{le="10",function="s/f"} 2');
    expect(text).toContain('fc_duration_milliseconds_bucket{le="30000",function="s/f"} 2');
    expect(text).toContain('fc_duration_milliseconds_bucket{le="+Inf",function="s/f"} 3');
    expect(text).toContain('fc_duration_milliseconds_sum{function="s/f"} 40008');
    expect(text).toContain('fc_duration_milliseconds_count{function="s/f"} 3');
    expect(text).toMatch(/# TYPE fc_duration_milliseconds histogram/);
    r.clearHistory();
    expect(await r.registry.metrics()).not.toContain('function="s/f"');
  });
});

describe('the ByteRing under the recorder', () => {
  it('keeps the last `capacity` bytes across page ends, and says when older ones are gone', async () => {
    const { ByteRing } = await import('../src/emulator/byte-ring.js');
    const ring = new ByteRing(32, 16);
    const a = ring.write(Buffer.from('0123456789'));
    const b = ring.writeString('héllo wörld, é'); // crosses the first page's end
    expect(ring.read(a, 10)!.toString()).toBe('0123456789');
    expect(ring.read(b.at, b.length)!.toString()).toBe('héllo wörld, é');
    const c = ring.write(Buffer.from('abcdefg')); // wraps over the first two bytes
    expect(ring.read(a, 10)).toBeUndefined();
    expect(ring.holds(b.at)).toBe(true);
    expect(ring.read(b.at, b.length)!.toString()).toBe('héllo wörld, é');
    expect(ring.read(c, 7)!.toString()).toBe('abcdefg');
  });
});

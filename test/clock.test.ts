import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { fixture } from './helpers/cli.js';
import { scaled } from './helpers/time-scale.js';
import { startServer } from './helpers/server.js';

// A clock that tests move (startEmulator({ clock: 'manual' })): timers, async retries, idle
// reaping and session lifetimes follow it; an advance fires what falls due, in order, and
// resolves once it has all finished. No test here sleeps for what the clock decides.

const copy = (name: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `fc-local-clock-${name}-`));
  cpSync(fixture(name), dir, { recursive: true });
  return dir;
};

describe('a manual clock', () => {
  it("fires an hourly timer 24 times on advance('1d'), in order, on the clock's hours", async () => {
    await using fc = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process', clock: 'manual' });
    await fc.clock.set('2026-03-01T00:30:00Z');
    expect(fc.clock.now().toISOString()).toBe('2026-03-01T00:30:00.000Z');
    const t0 = performance.now();
    await fc.clock.advance('1d');
    const took = performance.now() - t0;
    expect(fc.clock.now().toISOString()).toBe('2026-03-02T00:30:00.000Z');
    const times: string[] = [];
    for (let i = 0; i < 24; i++) {
      const inv = await fc.invocations.next({ function: 'clock/tick', source: 'timer', timeout: scaled(5000) });
      times.push((JSON.parse(inv.result!.toString()) as { triggerTime: string }).triggerTime);
    }
    expect(times[0]).toBe('2026-03-01T01:00:00Z');
    expect(times[23]).toBe('2026-03-02T00:00:00Z');
    expect(times.map((t) => Date.parse(t)).every((t, i, all) => i === 0 || t - all[i - 1]! === 3_600_000)).toBe(true);
    // All had finished when the advance resolved: nothing more came.
    await expect(fc.invocations.next({ function: 'clock/tick', timeout: 1 })).rejects.toThrow(/no invocation/);
    expect(took).toBeLessThan(scaled(2000));
  });

  it('retries a failing async invocation after its back-off only as the clock moves, then calls its destination', async () => {
    await using fc = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process', clock: 'manual' });
    await fc.invoke('clock/flaky', 'order-1', { async: true });
    expect(await fc.invocations.next({ function: 'clock/flaky', source: 'async' })).toMatchObject({ status: 'failed', attempt: 1 });
    // Idle on a manual clock: the retry waits for the clock, not for time.
    await fc.idle();
    await fc.clock.advance('999ms');
    await expect(fc.invocations.next({ function: 'clock/flaky', timeout: 1 })).rejects.toThrow(/no invocation/);
    await fc.clock.advance(1);
    expect(await fc.invocations.next({ function: 'clock/flaky', timeout: 1 })).toMatchObject({ status: 'failed', attempt: 2 });
    // The back-off doubles: 2 s.
    await fc.clock.advance('1s');
    await expect(fc.invocations.next({ function: 'clock/flaky', timeout: 1 })).rejects.toThrow(/no invocation/);
    await fc.clock.advance('1s');
    expect(await fc.invocations.next({ function: 'clock/flaky', timeout: 1 })).toMatchObject({ status: 'succeeded', attempt: 3 });
    const audit = await fc.invocations.next({ function: 'clock/audit', source: 'destination', timeout: scaled(10_000) });
    expect(audit.result!.toString()).toBe('heard: done on attempt 3');
  });

  it('reaps idle instances and ends idle sessions as the clock moves', async () => {
    await using fc = await startEmulator({ template: path.join(copy('sessions'), 's.yaml'), backend: 'process', clock: 'manual' });
    const first = await fc.fetch('by-header', { headers: { 'session-key': 'clocked' } });
    expect(first.status).toBe(200);
    const session = () => fc.fetch('/2023-03-30/functions/by-header/sessions/clocked');
    expect((await session()).status).toBe(200);
    // Still within its idle timeout (1800 s) and the instance's (600 s): nothing ends.
    await fc.clock.advance('9m');
    expect(fc.metrics()['by-header']!.instances).toBe(1);
    await fc.clock.advance('21m');
    expect((await session()).status).toBe(404);
    // With its session over, the instance is idle past 10 minutes: reaped at that advance.
    for (const t0 = Date.now(); fc.metrics()['by-header']!.instances > 0; ) {
      if (Date.now() - t0 > scaled(10_000)) throw new Error('the idle instance was not reaped');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('refuses a negative or unreadable duration, and any move of the real clock', async () => {
    await using fc = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process', clock: 'manual' });
    await expect(fc.clock.advance('-1h')).rejects.toThrow(RangeError);
    await expect(fc.clock.advance('soon')).rejects.toThrow(/not a duration/);
    await expect(fc.clock.advance(-5)).rejects.toThrow(RangeError);
    await expect(fc.clock.set('yesterday')).rejects.toThrow(/not a date/);
    await using real = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process' });
    await expect(real.clock.advance('1h')).rejects.toThrow(/the clock is real/);
    expect(Math.abs(real.clock.now().getTime() - Date.now())).toBeLessThan(scaled(5000));
  });

  it('start --clock manual: moved over HTTP, for tests in other languages', async () => {
    const srv = await startServer(['-t', path.join(copy('clock'), 'fc.yml'), '--backend', 'process', '--no-auth', '--clock', 'manual']);
    try {
      const api = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${srv.port}/_fc-local/api${p}`, init);
      const post = (p: string, body: unknown) => api(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const { cursor } = (await (await api('/invocations/cursor')).json()) as { cursor: number };
      expect(await (await post('/clock/set', { to: '2026-03-01T00:59:59Z' })).json()).toEqual({ now: '2026-03-01T00:59:59.000Z', manual: true });
      expect((await (await post('/clock/advance', { by: '1s' })).json()) as object).toEqual({ now: '2026-03-01T01:00:00.000Z', manual: true });
      const next = (await (await api(`/invocations/next?after=${cursor}&function=clock/tick&timeout=${scaled(5000)}`)).json()) as { invocation: { result: string } };
      expect(JSON.parse(next.invocation.result)).toMatchObject({ triggerTime: '2026-03-01T01:00:00Z', payload: 'on the hour' });
      expect((await post('/clock/advance', { by: '-1s' })).status).toBe(400);
      expect((await post('/clock/advance', {})).status).toBe(400);
    } finally {
      await srv.stop();
    }
  });
});

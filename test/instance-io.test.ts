import net from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InstanceStartError } from '../src/runtime/backend.js';
import { awaitReady, CUSTOM_START_LIMIT_MS, freePort, slowStartNote, startLimitMs } from '../src/runtime/instance-io.js';
import type { FunctionSpec } from '../src/model.js';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const fn = (runtime: string, timeout = 3) => ({ runtime, timeout }) as unknown as FunctionSpec;

describe('an instance start', () => {
  it("gives a custom runtime FC's 120 s whatever its function's timeout; our agents their own allowance; --start-timeout overrides", () => {
    expect(startLimitMs(fn('custom', 1), 15_000)).toBe(CUSTOM_START_LIMIT_MS);
    expect(startLimitMs(fn('custom-container', 1), 15_000)).toBe(120_000);
    expect(startLimitMs(fn('nodejs18', 1), 15_000)).toBe(15_000);
    expect(startLimitMs(fn('custom', 1), 15_000, 2000)).toBe(2000);
  });

  it('says on the console that it is still waiting, until it fails with what the instance printed', async () => {
    const port = await closedPort();
    const notes: string[] = [];
    const stopped: boolean[] = [];
    let printed: ((line: string, stream: 'stdout' | 'stderr') => void) | undefined;
    const started = awaitReady({
      instance: {
        port,
        endReason: () => undefined,
        onLine: (l) => ((printed = l), () => (printed = undefined)),
        stop: async () => void stopped.push(true),
      },
      begin: async () => printed?.('starting, but never listening', 'stdout'),
      timeoutMs: 600,
      what: 'bootstrap ./bootstrap for svc/fn',
      onSlow: slowStartNote('svc/fn: bootstrap ./bootstrap', 600, (l) => notes.push(l)),
      slowEveryMs: 100,
    });
    const err = await started.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstanceStartError);
    expect((err as InstanceStartError).message).toMatch(/^bootstrap \.\/bootstrap for svc\/fn failed to start: did not answer HTTP on 127\.0\.0\.1:\d+ within 1s$/);
    expect((err as InstanceStartError).output).toBe('starting, but never listening');
    expect(stopped).toEqual([true]);
    expect(notes.length).toBeGreaterThanOrEqual(1);
    expect(notes[0]).toMatch(/^svc\/fn: bootstrap \.\/bootstrap has not answered HTTP after \d+ s; still waiting \(it has 1 s in all; --start-timeout sets another limit\)$/);
    // No note once the start is over.
    const count = notes.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(notes.length).toBe(count);
  });
});

describe('freePort', () => {
  it("hands out ports below the kernel's ephemeral range, which a server on port 0 is never given, and never the same one twice", async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) expect(p).toBeLessThan(low);
    // Each is free: a server binds it.
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(ports[0], '127.0.0.1', r));
    await new Promise((r) => srv.close(r));
  });
});

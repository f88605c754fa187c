import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvocationTimeoutError, startEmulator } from '../src/index.js';
import { fixture } from './helpers/cli.js';
import { TEST_CREDENTIALS } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// The thumbnail function signs its OSS requests with the credentials FC hands it: give it some.
Object.assign(process.env, TEST_CREDENTIALS);

// Tests that wait for side effects instead of sleeping: invocations.next(), iteration, idle().
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function copy(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `fc-local-feed-${name}-`));
  dirs.push(dir);
  cpSync(fixture(name), dir, { recursive: true });
  return dir;
}

describe('waiting for invocations in tests', () => {
  it('waits over HTTP too, for other languages: a cursor, the next match after it, 408 past the timeout, 400 for bad arguments', async () => {
    await using fc = await startEmulator({ template: path.join(copy('nodejs'), 'fc.yml'), backend: 'process' });
    const api = (p: string) => fc.fetch(`/_fc-local/api${p}`);
    const { cursor } = (await (await api('/invocations/cursor')).json()) as { cursor: number };
    await fc.invoke('node-svc/echo', 'hi');
    const r = (await (await api(`/invocations/next?after=${cursor}&function=node-svc/echo&source=library,api`)).json()) as { cursor: number; invocation: Record<string, unknown> };
    expect(r.invocation).toMatchObject({ function: 'node-svc/echo', status: 'succeeded', result: 'hi' });
    expect(r.cursor).toBeGreaterThan(cursor);
    const none = await api(`/invocations/next?after=${r.cursor}&function=node-svc/echo&timeout=50`);
    expect(none.status).toBe(408);
    expect(((await none.json()) as { ErrorCode: string }).ErrorCode).toBe('InvocationTimeout');
    expect((await api('/invocations/next?after=-1')).status).toBe(400);
    expect((await api('/invocations/next?status=done')).status).toBe(400);
    expect((await api('/idle?timeout=abc')).status).toBe(400);
    expect(await (await api(`/idle?timeout=${scaled(10_000)}`)).json()).toEqual({ idle: true });
  });

  it('awaits the function an upload fires, even when it finished before the wait began', async () => {
    await using fc = await startEmulator({ template: path.join(copy('oss'), 'fc.yml'), backend: 'process' });
    const put = await fetch(`${fc.oss.endpoint}/photos/in/a.txt`, { method: 'PUT', body: 'hello' });
    expect(put.status).toBe(200);
    const thumb = await fc.invocations.next({ function: 'photos/thumb', source: 'oss', timeout: scaled(20_000) });
    expect(thumb, thumb.result?.toString() + thumb.logs.join('\n')).toMatchObject({ function: 'photos/thumb', source: 'oss', status: 'succeeded' });
    expect(thumb.result?.toString()).toBe('out/a.txt');
    expect(thumb.logs.join('\n')).toContain('THUMB ObjectCreated:PutObject in/a.txt 5');
    // The function's own write to out/ fires nothing (no trigger there): what it wrote is there.
    expect(await (await fetch(`${fc.oss.endpoint}/photos/out/a.txt`)).text()).toBe('olleh');
    // Later uploads are waited for in order; one already consumed is not returned again.
    await fetch(`${fc.oss.endpoint}/photos/in/b.txt`, { method: 'PUT', body: 'b' });
    await fetch(`${fc.oss.endpoint}/photos/in/c.txt`, { method: 'PUT', body: 'c' });
    const keys = [];
    for (let i = 0; i < 2; i++) keys.push((await fc.invocations.next({ function: 'thumb', timeout: scaled(20_000) })).result?.toString());
    expect(keys.sort()).toEqual(['out/b.txt', 'out/c.txt']);
  });

  it('follows an async invocation through its retry to its destination; idle() waits for all of it', async () => {
    await using fc = await startEmulator({ template: fixture('faults', 'fc.yml'), backend: 'process' });
    await fc.invoke('faults/fails', 'x', { async: true });
    const first = await fc.invocations.next({ function: 'faults/fails', timeout: scaled(20_000) });
    expect(first).toMatchObject({ source: 'async', status: 'failed', errorType: 'HandledInvocationError', attempt: 1 });
    const retry = await fc.invocations.next({ function: 'faults/fails', timeout: scaled(20_000) });
    expect(retry).toMatchObject({ source: 'async', status: 'failed', attempt: 2, requestId: first.requestId });
    const sink = await fc.invocations.next({ source: 'destination', timeout: scaled(20_000) });
    expect(sink).toMatchObject({ function: 'faults/sink', status: 'succeeded' });
    expect(JSON.parse(sink.logs.find((l) => l.includes('SINK'))!.slice(l0(sink.logs)))).toMatchObject({ requestContext: { requestId: first.requestId, condition: 'HandledInvocationError' } });
    // Another round, this time only waiting for everything to settle.
    await fc.invoke('faults/fails', 'y', { async: true });
    await fc.idle();
    const settled = [];
    for (let i = 0; i < 3; i++) settled.push(await fc.invocations.next({ timeout: 1 }));
    expect(settled.map((s) => `${s.function} ${s.source} ${s.attempt}`)).toEqual(['faults/fails async 1', 'faults/fails async 2', 'faults/sink destination 1']);
    expect(Object.values(fc.metrics()).every((m) => m.busy === 0)).toBe(true);
  });

  it('says what it waited for when nothing comes, and yields invocations as they finish', async () => {
    await using fc = await startEmulator({ template: fixture('nodejs', 'fc.yml'), backend: 'process' });
    const err = await fc.invocations.next({ function: 'node-svc/echo', source: 'http', timeout: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvocationTimeoutError);
    expect((err as Error).message).toBe('no invocation of node-svc/echo from http finished within 50 ms');
    const seen: string[] = [];
    const watching = (async () => {
      for await (const inv of fc.invocations.watch({ filter: (i) => i.function !== 'node-svc/object' })) {
        seen.push(`${inv.function} ${inv.result?.toString()}`);
        if (seen.length === 2) break;
      }
    })();
    await fc.invoke('node-svc/echo', 'one');
    await fc.invoke('node-svc/object', 'skipped');
    await fc.invoke('node-svc/echo', 'two');
    await watching;
    expect(seen).toEqual(['node-svc/echo one', 'node-svc/echo two']);
  });
});

/** Where the JSON of a `SINK <json>` log line starts. */
function l0(logs: string[]): number {
  return logs.find((l) => l.includes('SINK'))!.indexOf('SINK ') + 'SINK '.length;
}

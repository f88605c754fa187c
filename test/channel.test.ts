import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { existsSync, readFileSync } from 'node:fs';
import { AgentChannel, encodeFrame, FrameReader, KIND, type Frame } from '../src/runtime/channel.js';
import { ProcessBackend } from '../src/runtime/process/backend.js';
import { loadTemplate } from '../src/template/load.js';
import { fnKey } from '../src/model.js';

// fc-local's framed channel to its agents: framing across chunk boundaries, the size limit, and
// the receipt rule that keeps a sync invocation at most once (a request that may have run is
// never reported as undelivered). End to end with the real agent: faults.test.ts.

const frames = (bufs: Buffer[], maxBody = 1024) => {
  const got: Frame[] = [];
  const oversized: number[] = [];
  const r = new FrameReader(maxBody, (f) => got.push({ ...f, body: Buffer.from(f.body) }), (id) => oversized.push(id));
  for (const b of bufs) r.push(b);
  return { got, oversized };
};

describe('FrameReader', () => {
  it('reads frames whole, split byte by byte, and several per chunk', () => {
    const a = Buffer.concat(encodeFrame(1, KIND.answer, { s: 200 }, Buffer.from('hello')));
    const b = Buffer.concat(encodeFrame(2, KIND.received, 0, Buffer.alloc(0)));
    const c = Buffer.concat(encodeFrame(3, KIND.answer, { s: 404 }, Buffer.alloc(700, 'x')));
    const all = Buffer.concat([a, b, c]);
    const bytewise = [...all].map((x) => Buffer.from([x]));
    for (const input of [[all], bytewise, [all.subarray(0, 20), all.subarray(20, 41), all.subarray(41)]]) {
      const { got, oversized } = frames(input);
      expect(oversized).toEqual([]);
      expect(got.map((f) => [f.id, f.kind, f.meta, f.body.length])).toEqual([
        [1, KIND.answer, '{"s":200}', 5],
        [2, KIND.received, '0', 0],
        [3, KIND.answer, '{"s":404}', 700],
      ]);
      expect(got[0]!.body.toString()).toBe('hello');
    }
  });

  it('skips a body over the limit as it streams in and reads the frame after it', () => {
    const big = Buffer.concat(encodeFrame(7, KIND.answer, { s: 200 }, Buffer.alloc(5000, 'y')));
    const next = Buffer.concat(encodeFrame(8, KIND.answer, { s: 200 }, Buffer.from('ok')));
    const all = Buffer.concat([big, next]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += 333) chunks.push(all.subarray(i, i + 333));
    const { got, oversized } = frames(chunks);
    expect(oversized).toEqual([7]);
    expect(got.map((f) => [f.id, f.body.toString()])).toEqual([[8, 'ok']]);
  });

  it('refuses bytes that are not frames', () => {
    const r = new FrameReader(1024, () => undefined, () => undefined);
    const bad = Buffer.alloc(13);
    bad.writeUInt32LE(13, 0);
    bad.writeUInt32LE(1, 4);
    bad.writeUInt32LE(50, 8); // meta longer than the frame
    expect(() => r.push(bad)).toThrow(/not an fc-local frame/);
  });
});

describe('AgentChannel', () => {
  let dir: string;
  let server: net.Server | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A stand-in agent: `onRequest` decides what it does with each request frame. */
  const agent = async (onRequest: (conn: net.Socket, f: Frame) => void): Promise<string> => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-channel-test-'));
    const file = path.join(dir, 'agent.sock');
    server = net.createServer((conn) => {
      const r = new FrameReader(1 << 20, (f) => onRequest(conn, f), () => undefined);
      conn.on('data', (c: Buffer) => r.push(c));
      conn.on('error', () => undefined);
    });
    await new Promise<void>((ok) => server!.listen(file, ok));
    return file;
  };
  const write = (conn: net.Socket, bufs: Buffer[]) => bufs.forEach((b) => conn.write(b));

  it('matches answers to requests by id, out of order, and reconnects after the agent closed', async () => {
    const held: Array<[net.Socket, Frame]> = [];
    const file = await agent((conn, f) => {
      write(conn, encodeFrame(f.id, KIND.received, 0, Buffer.alloc(0)));
      held.push([conn, f]);
      if (held.length === 2) {
        // The second answered first.
        for (const [c, g] of held.reverse()) write(c, encodeFrame(g.id, KIND.answer, { s: 200, h: { 'x-fc-status': '200' } }, Buffer.from(JSON.parse(g.meta).h.n)));
        held.length = 0;
      }
    });
    const ch = new AgentChannel(file, 1024);
    const [a, b] = await Promise.all([
      ch.request('invoke', { h: { n: 'first' } }, Buffer.alloc(0), 5000),
      ch.request('invoke', { h: { n: 'second' } }, Buffer.alloc(0), 5000),
    ]);
    expect([a.body.toString(), b.body.toString(), a.headers['x-fc-status']]).toEqual(['first', 'second', '200']);
    ch.close();
    await new Promise((r) => setTimeout(r, 20));
    const [c, d] = await Promise.all([
      ch.request('http', { h: { n: 'again' }, m: 'GET', u: '/' }, Buffer.alloc(0), 5000),
      ch.request('http', { h: { n: 'twice' }, m: 'GET', u: '/' }, Buffer.alloc(0), 5000),
    ]);
    expect([c.body.toString(), d.body.toString()]).toEqual(['again', 'twice']);
    ch.close();
  });

  it('calls a request that ended before its receipt undelivered, and one after it a crash', async () => {
    let n = 0;
    const file = await agent((conn, f) => {
      n++;
      if (n === 1) return conn.destroy(); // read, no receipt: the function never ran
      write(conn, encodeFrame(f.id, KIND.received, 0, Buffer.alloc(0)));
      setTimeout(() => conn.destroy(), 10); // received: it may have run
    });
    const ch = new AgentChannel(file, 1024);
    await expect(ch.request('invoke', { h: {} }, Buffer.from('x'), 5000)).rejects.toMatchObject({ kind: 'undelivered' });
    await expect(ch.request('invoke', { h: {} }, Buffer.from('x'), 5000)).rejects.toMatchObject({ kind: 'crash' });
  });

  it('takes the receipt from the receipt file, which covers every id up to the one it holds', async () => {
    let n = 0;
    const file = await agent((conn, f) => {
      n++;
      if (n === 2) {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(f.id, 0);
        writeFileSync(`${file}.received`, b);
      }
      if (n === 1 || n === 2) conn.destroy();
    });
    const ch = new AgentChannel(file, 1024);
    await expect(ch.request('invoke', { h: {} }, Buffer.alloc(0), 5000)).rejects.toMatchObject({ kind: 'undelivered' });
    await expect(ch.request('invoke', { h: {} }, Buffer.alloc(0), 5000)).rejects.toMatchObject({ kind: 'crash' });
  });

  it('fails with undelivered when nothing listens, on timeout after its limit, and on an answer over the limit', async () => {
    const gone = new AgentChannel(path.join(os.tmpdir(), `fc-local-no-such-${process.pid}.sock`), 1024);
    await expect(gone.request('invoke', { h: {} }, Buffer.alloc(0), 5000)).rejects.toMatchObject({ kind: 'undelivered' });

    const file = await agent((conn, f) => {
      write(conn, encodeFrame(f.id, KIND.received, 0, Buffer.alloc(0)));
      const what = JSON.parse(f.meta).h.what;
      if (what === 'big') write(conn, encodeFrame(f.id, KIND.answer, { s: 200, h: {} }, Buffer.alloc(4096)));
      if (what === 'small') write(conn, encodeFrame(f.id, KIND.answer, { s: 200, h: {} }, Buffer.from('fine')));
      // 'never': no answer
    });
    const ch = new AgentChannel(file, 1024);
    const t0 = Date.now();
    await expect(ch.request('invoke', { h: { what: 'never' } }, Buffer.alloc(0), 100)).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    await expect(ch.request('invoke', { h: { what: 'big' } }, Buffer.alloc(0), 5000)).rejects.toMatchObject({ kind: 'tooLarge' });
    // The connection stays usable after a skipped answer.
    expect((await ch.request('invoke', { h: { what: 'small' } }, Buffer.alloc(0), 5000)).body.toString()).toBe('fine');
    expect(await AgentChannel.reachable(file)).toBe(true);
    ch.close();
  });
});

describe("the Node.js agent's end of the channel (process backend)", () => {
  const template = loadTemplate('fixtures/nodejs/fc.yml').template!;
  const fn = (name: string) => template.services.flatMap((svc) => svc.functions).find((f) => fnKey(f) === `node-svc/${name}`)!;
  const headers = (name: string, requestId: string) => ({
    'x-fc-request-id': requestId,
    'x-fc-function-name': name,
    'x-fc-function-handler': fn(name).handler,
    'x-fc-function-memory': '128',
    'x-fc-function-timeout': '5',
  });

  it('gets the socket, answers events of every size and streamed HTTP answers, and keeps its receipt', async () => {
    const backend = new ProcessBackend();
    try {
      const echo = await backend.start({ fn: fn('echo'), region: template.region, accountId: template.accountId });
      expect(echo.channelPath).toMatch(/agent\.sock$/);
      const ch = new AgentChannel(echo.channelPath!, 6 * 1024 * 1024);
      // Small, and large enough to arrive in many chunks and go out as a separate body write.
      for (const size of [0, 5, 70_000, 3 * 1024 * 1024]) {
        const event = Buffer.alloc(size, 'e');
        const r = await ch.request('invoke', { h: headers('echo', `req-${size}`) }, event, 5000);
        expect([r.status, r.headers['x-fc-status'], r.body.length, r.body.equals(event)]).toEqual([200, '200', size, true]);
        expect(Number(r.headers['x-fc-local-max-rss-kb'])).toBeGreaterThan(1000);
      }
      // Several at once on the one connection, answered by id.
      const many = await Promise.all([1, 2, 3].map((i) => ch.request('invoke', { h: headers('echo', `c-${i}`) }, Buffer.from(`n${i}`), 5000)));
      expect(many.map((r) => r.body.toString())).toEqual(['n1', 'n2', 'n3']);
      // The receipt names the last request read.
      const receipt = `${echo.channelPath}.received`;
      expect(existsSync(receipt)).toBe(true);
      expect(readFileSync(receipt).readUInt32LE(0)).toBeGreaterThanOrEqual(7);
      ch.close();

      const stream = await backend.start({ fn: fn('http-stream'), region: template.region, accountId: template.accountId });
      const hc = new AgentChannel(stream.channelPath!, 6 * 1024 * 1024);
      const r = await hc.request('http', { h: { ...headers('http-stream', 'h-1'), 'x-fc-local-http-invoke': '1', host: 'x' }, m: 'GET', u: '/2016-08-15/proxy/node-svc/http-stream/p?q=1' }, Buffer.alloc(0), 5000);
      expect([r.status, r.headers['content-type'], r.body.toString()]).toEqual([200, 'text/plain', 'streamed body']);
      hc.close();
    } finally {
      await backend.close();
    }
  });
});

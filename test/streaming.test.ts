import http from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// Streamed answers pass through as the function writes them, on both backends, through an FC 2.0
// HTTP trigger and an FC 3.0 function URL: server-sent events arrive one by one, a large body
// flows at the client's pace without filling fc-local's memory, a client that leaves closes the
// function's connection, and a stream past the timeout is cut with FC's line.

const TPL = fixture('streaming', 'fc.yml');

interface Chunk {
  at: number;
  text: string;
  bytes: number;
}

/** A GET whose answer is read chunk by chunk, each with the time it arrived. */
function get(port: number, path: string, host?: string, onChunk?: (c: Chunk, req: http.ClientRequest) => void): Promise<{ status: number; headers: http.IncomingHttpHeaders; chunks: Chunk[]; headAt: number; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Chunk[] = [];
    const req = http.get({ host: '127.0.0.1', port, path, headers: host ? { host } : {}, agent: false }, (res) => {
      const headAt = Date.now();
      res.on('data', (d: Buffer) => {
        const c = { at: Date.now(), text: d.toString(), bytes: d.length };
        chunks.push(c);
        onChunk?.(c, req);
      });
      const done = (aborted: boolean) => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, headAt, aborted });
      res.on('end', () => done(false));
      res.on('aborted', () => done(true));
      res.on('error', () => done(true));
    });
    req.on('error', (err) => (chunks.length ? undefined : reject(err)));
  });
}

describe.each(BACKENDS)('streaming [$name]', (backend) => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', ...backend.args]);
  });
  afterAll(async () => {
    await srv.stop();
  });

  const paths = () => [
    { via: 'HTTP trigger', path: '/2016-08-15/proxy/streaming/stream', host: undefined },
    { via: 'function URL', path: '', host: `stream3.localhost:${srv.port}` },
  ];

  it.each(['HTTP trigger', 'function URL'])('passes server-sent events through one by one (%s)', async (via) => {
    const p = paths().find((x) => x.via === via)!;
    await get(srv.port, `${p.path}/plain`, p.host); // warm: the first event's latency is the stream's, not a cold start's
    const r = await get(srv.port, `${p.path}/sse`, p.host);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream');
    expect(r.headers['x-fc-request-id']).toBeTruthy();
    const events = r.chunks
      .flatMap((c) => [...c.text.matchAll(/data: (\{.*\})/g)].map((m) => ({ ...(JSON.parse(m[1]!) as { n: number; at: number }), got: c.at })));
    expect(events.map((e) => e.n)).toEqual([0, 1, 2, 3, 4]);
    // Each event reached the client before the function wrote the next one (200 ms later)...
    for (let i = 0; i < 4; i++) expect(events[i]!.got).toBeLessThan(events[i + 1]!.at);
    // ...and the first within 100 ms (on the reference machine) of being written.
    expect(events[0]!.got - events[0]!.at).toBeLessThan(scaled(100));
  });

  // bench/streaming.js streams 1 GB the same way.
  it('streams 256 MB at the client pace with fc-local growing by less than 50 MB', async () => {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))![1]) * 1024;
    // Warm first: what a cold start loads (an instance, its first request's code) is not the stream's.
    expect((await get(srv.port, '/big?mb=1', `stream3.localhost:${srv.port}`)).status).toBe(200);
    const before = rss();
    let peak = before;
    let size = 0;
    const r = await get(srv.port, '/big?mb=256', `stream3.localhost:${srv.port}`, (c) => {
      size += c.bytes;
      if (size % (4 * 1024 * 1024) < 65_536) peak = Math.max(peak, rss());
    });
    expect(r.status).toBe(200);
    expect(size).toBe(256 * 1024 * 1024);
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  }, scaled(60_000));

  it('closes the function connection when the client leaves mid-stream, and the instance serves again', async () => {
    const mark = srv.output().length;
    const r = await get(srv.port, '/2016-08-15/proxy/streaming/stream/forever', undefined, (c, req) => {
      if (c.text.includes('data:')) req.destroy();
    });
    expect(r.chunks.length).toBeGreaterThan(0);
    await srv.waitFor(/CLIENT CLOSED \S+/, undefined, mark);
    await srv.waitFor(/the client closed the connection before the end of the streamed answer/, undefined, mark);
    expect((await get(srv.port, '/2016-08-15/proxy/streaming/stream/plain')).chunks.map((c) => c.text).join('')).toBe('plain');
  });

  it.each(['HTTP trigger', 'function URL'])('streams a chunked upload in: the function reads its first part before the client sends the rest (%s)', async (via) => {
    const p = paths().find((x) => x.via === via)!;
    const result = await new Promise<{ firstBeforeRest: boolean; body: string }>((resolve, reject) => {
      let body = '';
      let restSent = false;
      let firstBeforeRest = false;
      const req = http.request({ host: '127.0.0.1', port: srv.port, path: `${p.path}/upload`, method: 'POST', headers: { ...(p.host ? { host: p.host } : {}), 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        res.on('data', (d: Buffer) => {
          body += d.toString();
          if (body.includes('first chunk') && !restSent) {
            firstBeforeRest = true;
            restSent = true;
            req.end(Buffer.alloc(3 * 1024 * 1024, 'b'));
          }
        });
        res.on('end', () => resolve({ firstBeforeRest, body }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024, 'a'));
    });
    expect(result.firstBeforeRest).toBe(true);
    expect(result.body).toBe(`first chunk\nsize ${1024 + 3 * 1024 * 1024}\n`);
  });

  it('serves PATCH and OPTIONS (a CORS preflight) where the trigger lists them', async () => {
    const send = (method: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: srv.port, path: '/echo', method, headers: { host: `stream3.localhost:${srv.port}`, 'content-type': 'text/plain' }, agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end(method === 'PATCH' ? 'abc' : undefined);
      });
    expect(await send('PATCH')).toEqual({ status: 200, body: '{"size":3}' });
    expect(await send('OPTIONS')).toEqual({ status: 200, body: '{"size":0}' });
  });

  it('cuts a stream that outlives the function timeout, with FC line', async () => {
    const mark = srv.output().length;
    const r = await get(srv.port, '/2016-08-15/proxy/streaming/stream/forever');
    expect(r.status).toBe(200);
    const events = r.chunks.map((c) => c.text).join('').match(/data: /g) ?? [];
    expect(events.length).toBeGreaterThan(5);
    // Cut at the 3 s timeout: the client saw the stream end early.
    expect(r.chunks.at(-1)!.at - r.headAt).toBeLessThan(3000 + scaled(2000));
    await srv.waitFor(/Function timed out after 3 seconds \(RequestId: \S+\): the streamed answer was cut/, undefined, mark);
    expect((await get(srv.port, '/2016-08-15/proxy/streaming/stream/plain')).chunks.map((c) => c.text).join('')).toBe('plain');
  });
});

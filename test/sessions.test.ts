import * as fc3sdk from '@alicloud/fc20230330';
import { CreateSessionInput, CreateSessionRequest, DeleteSessionRequest, GetSessionRequest, ListSessionsRequest, UpdateSessionInput, UpdateSessionRequest } from '@alicloud/fc20230330';
import { Config } from '@alicloud/openapi-client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { bundleMcpServers } from './helpers/mcp-bundle.js';
import { localhostFetch } from './helpers/localhost-fetch.js';
import { startServer, TEST_CREDENTIALS, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// FC 3.0 session affinity end to end: HEADER_FIELD and cookie sessions over plain HTTP, the
// Session API through the unchanged @alicloud/fc20230330, and MCP servers (written with the
// official MCP SDK) driven by the SDK's client over Streamable HTTP and SSE, on both backends.

const unwrap = (m: { default: unknown }): unknown => (m.default as { default?: unknown }).default ?? m.default;
const FC3 = unwrap(fc3sdk) as typeof fc3sdk.default.default;

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-sessions-'));
  cpSync(fixture('sessions'), dir, { recursive: true });
  // Bundled from the fixture's own folder (it shares fixtures/mcp's endpoint), into the copy.
  const src = fixture('sessions', 'mcp');
  await bundleMcpServers({ 'http-server': path.join(src, 'http-server.src.mjs'), 'sse-server': path.join(src, 'sse-server.src.mjs') }, path.join(dir, 'mcp'));
});

interface Answer {
  session: string | null;
  count: number;
  instance: string;
}

const mcpText = (r: Awaited<ReturnType<Client['callTool']>>) => (r.content as { type: string; text: string }[])[0]!.text;

describe.each(BACKENDS)('FC 3.0 sessions [$label]', (backend) => {
  let srv: RunningServer;
  const url = (fn: string, p = '/') => `http://${fn}.localhost:${srv.port}${p}`;
  const get = async (fn: string, headers: Record<string, string> = {}) => {
    const res = await localhostFetch(url(fn), { headers });
    return { res, body: (await res.json()) as Answer };
  };
  /** Sessions per instance of a function, as the workbench shows them. */
  const sessionsPerInstance = async (fn: string): Promise<number[]> => {
    const all = (await (await localhostFetch(`http://127.0.0.1:${srv.port}/_fc-local/api/functions`)).json()) as { key: string; instances: { sessions?: number; state: string }[] }[];
    return all.find((f) => f.key === fn)!.instances.filter((i) => i.state !== 'starting').map((i) => i.sessions ?? 0);
  };
  /** Waits (by the workbench's view, not a timer) until the function's instances hold these many sessions. */
  const untilSessions = async (fn: string, total: number) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const per = await sessionsPerInstance(fn);
      if (per.reduce((a, b) => a + b, 0) === total) return per;
      if (Date.now() > deadline) throw new Error(`${fn}: sessions per instance stayed ${JSON.stringify(per)}, not ${total} in all`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    srv = await startServer(['-t', path.join(dir, 's.yaml'), ...backend.args]);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('HEADER_FIELD: a request without a session gets one in the header; its requests keep their instance and state; another session gets another instance', async () => {
    const first = await get('by-header');
    const id = first.res.headers.get('session-key');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    // The function sees the ID the session has.
    expect(first.body).toMatchObject({ session: id, count: 1 });
    const again = await get('by-header', { 'session-key': id! });
    expect(again.res.headers.get('session-key')).toBeNull();
    expect(again.body).toMatchObject({ session: id, count: 2, instance: first.body.instance });
    // A client's own ID begins a session too; one session per instance (sessionConcurrencyPerInstance 1).
    const other = await get('by-header', { 'session-key': 'client_chosen-1' });
    expect(other.body).toMatchObject({ session: 'client_chosen-1', count: 1 });
    expect(other.body.instance).not.toBe(first.body.instance);
    const both = await Promise.all([get('by-header', { 'session-key': id! }), get('by-header', { 'session-key': 'client_chosen-1' })]);
    expect(both.map((b) => [b.body.count, b.body.instance])).toEqual([
      [3, first.body.instance],
      [2, other.body.instance],
    ]);
    expect(await sessionsPerInstance('by-header')).toEqual([1, 1]);
    const metrics = await (await localhostFetch(`http://127.0.0.1:${srv.port}/_fc-local/metrics`)).text();
    expect(metrics).toMatch(/^fc_active_sessions\{function="by-header"\} 2$/m);
    // A malformed ID is refused, with FC's rule in the message.
    const bad = await localhostFetch(url('by-header'), { headers: { 'session-key': '-no' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { ErrorMessage: string }).ErrorMessage).toContain('1-64 letters, digits, _ or -');
  });

  it('GENERATED_COOKIE: FC sets x-fc-cookie-session-id with the TTL as Max-Age; requests with the cookie keep their instance', async () => {
    const first = await localhostFetch(url('by-cookie'));
    const cookie = first.headers.get('set-cookie');
    expect(cookie).toMatch(/^x-fc-cookie-session-id=[0-9a-f]{32}; Max-Age=3600$/);
    const a = (await first.json()) as Answer;
    const jar = cookie!.split(';')[0]!;
    const again = await localhostFetch(url('by-cookie'), { headers: { cookie: `theme=dark; ${jar}` } });
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(((await again.json()) as Answer).instance).toBe(a.instance);
    // The default of 20 sessions an instance is capped by the built-in runtime's one request at a time.
    const other = (await (await localhostFetch(url('by-cookie'))).json()) as Answer;
    expect(other.instance).not.toBe(a.instance);
  });

  // CreateSession binds an instance at once (a container start): the SDK's default timeouts (3 s read, 5 s connect) are a fast machine's.
  const sessionApi = () =>
    new FC3(new Config({ accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, endpoint: `127.0.0.1:${srv.port}`, protocol: 'http', readTimeout: scaled(60_000), connectTimeout: scaled(60_000) }));

  it('the Session API (unchanged @alicloud/fc20230330): create binds an instance, get, list, update, delete; MCP functions are refused', async () => {
    const client = sessionApi();
    const created = (await client.createSession('by-header', new CreateSessionRequest({ body: new CreateSessionInput({ sessionTTLInSeconds: 600, sessionIdleTimeoutInSeconds: 300 }) }))).body!;
    expect(created).toMatchObject({ functionName: 'by-header', sessionAffinityType: 'HEADER_FIELD', sessionTTLInSeconds: 600, sessionIdleTimeoutInSeconds: 300, sessionStatus: 'Active', qualifier: 'LATEST' });
    expect(created.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(created.containerId).not.toBe('');
    // Its first request is served warm by the instance the API bound.
    const first = await get('by-header', { 'session-key': created.sessionId! });
    expect(first.body.count).toBe(1);
    const got = (await client.getSession('by-header', created.sessionId!, new GetSessionRequest({}))).body!;
    expect(got.containerId).toBe(created.containerId);
    const listed = (await client.listSessions('by-header', new ListSessionsRequest({ sessionStatus: 'Active' }))).body!;
    expect(listed.sessions!.map((s) => s.sessionId)).toContain(created.sessionId);
    const updated = (await client.updateSession('by-header', created.sessionId!, new UpdateSessionRequest({ body: new UpdateSessionInput({ sessionTTLInSeconds: 1200 }) }))).body!;
    expect(updated.sessionTTLInSeconds).toBe(1200);
    // An explicit ID that is live already is a conflict.
    await expect(client.createSession('by-header', new CreateSessionRequest({ body: new CreateSessionInput({ sessionId: created.sessionId }) }))).rejects.toMatchObject({ code: 'SessionAlreadyExists' });
    await client.deleteSession('by-header', created.sessionId!, new DeleteSessionRequest({}));
    await expect(client.getSession('by-header', created.sessionId!, new GetSessionRequest({}))).rejects.toMatchObject({ code: 'SessionNotFound', statusCode: 404 });
    await expect(client.listSessions('mcp-stream', new ListSessionsRequest({}))).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('a session idle past sessionIdleTimeoutInSeconds ends (Expired in ListSessions); its ID then begins a new session', async () => {
    const client = sessionApi();
    const first = await get('short-lived', { 'session-key': 'idle-one' });
    expect(first.body.count).toBe(1);
    const t0 = Date.now();
    // The session's own clock decides: the test waits for its status, not for a time.
    for (;;) {
      const expired = (await client.listSessions('short-lived', new ListSessionsRequest({ sessionStatus: 'Expired', sessionId: 'idle-one' }))).body!.sessions!;
      if (expired.length) break;
      if (Date.now() - t0 > 60_000) throw new Error('the idle session never expired');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const next = (await client.listSessions('short-lived', new ListSessionsRequest({ sessionStatus: 'Active', sessionId: 'idle-one' }))).body!.sessions!;
    expect(next).toEqual([]);
    const again = await get('short-lived', { 'session-key': 'idle-one' });
    expect(again.res.status).toBe(200);
    const active = (await client.getSession('short-lived', 'idle-one', new GetSessionRequest({}))).body!;
    expect(active.sessionStatus).toBe('Active');
    expect(new Date(active.createdTime!).getTime()).toBeGreaterThan(t0 - 1000);
  });

  it('a saved change to the code: the session keeps its ID and its affinity, on an instance with the new code', async () => {
    const id = `reload-${backend.name}`;
    const before = await get('by-header', { 'session-key': id });
    expect(before.body.count).toBe(1);
    const mark = `saved-${Date.now()}`;
    const file = path.join(dir, 'code', 'index.js');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/const MARK = .*;/, `const MARK = '${mark}';`));
    // Hot reload applies the save by itself: wait for the new code's answer.
    const deadline = Date.now() + 60_000;
    let after: Answer & { mark: string | null };
    for (;;) {
      after = (await get('by-header', { 'session-key': id })).body as Answer & { mark: string | null };
      if (after.mark === mark) break;
      if (Date.now() > deadline) throw new Error('the saved code never served');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The new code's instance has its own memory; the session stays bound to it from then on.
    expect(after.session).toBe(id);
    const next = (await get('by-header', { 'session-key': id })).body;
    expect(next.instance).toBe(after.instance);
    expect(next.count).toBe(after.count + 1);
  });

  it('MCP Streamable HTTP: each session on its own instance with its own state; a DELETE frees its instance for the next session', async () => {
    const connect = async () => {
      const c = new Client({ name: 'fc-local-test', version: '1.0.0' });
      const t = new StreamableHTTPClientTransport(new URL(url('mcp-stream', '/mcp')), { fetch: localhostFetch });
      await c.connect(t);
      return { c, t };
    };
    const a = await connect();
    const b = await connect();
    try {
      expect((await a.c.listTools()).tools.map((t) => t.name).sort()).toEqual(['count', 'instance']);
      expect(mcpText(await a.c.callTool({ name: 'count' }))).toBe('1');
      expect(mcpText(await a.c.callTool({ name: 'count' }))).toBe('2');
      expect(mcpText(await b.c.callTool({ name: 'count' }))).toBe('1');
      const ia = mcpText(await a.c.callTool({ name: 'instance' }));
      const ib = mcpText(await b.c.callTool({ name: 'instance' }));
      expect(ia).not.toBe(ib);
      expect(await untilSessions('mcp-stream', 2)).toEqual([1, 1]);
      // A session fc-local never saw goes to any instance, whose server answers as MCP says: 404.
      const unknown = await localhostFetch(url('mcp-stream', '/mcp'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'no-such-session' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(unknown.status).toBe(404);
      expect(await untilSessions('mcp-stream', 2)).toEqual([1, 1]);
      // The client ends its session (DELETE): its instance has room again, and the next session goes there.
      await a.t.terminateSession();
      await untilSessions('mcp-stream', 1);
      const c = await connect();
      try {
        expect(mcpText(await c.c.callTool({ name: 'instance' }))).toBe(ia);
        expect(mcpText(await c.c.callTool({ name: 'count' }))).toBe('1');
      } finally {
        await c.c.close();
      }
    } finally {
      await a.c.close();
      await b.c.close();
    }
  });

  it('MCP SSE: the endpoint event binds each session to its instance; the stream closing ends the session', async () => {
    const connect = async () => {
      const c = new Client({ name: 'fc-local-test', version: '1.0.0' });
      await c.connect(new SSEClientTransport(new URL(url('mcp-sse', '/sse')), { fetch: localhostFetch }));
      return c;
    };
    const a = await connect();
    const b = await connect();
    try {
      expect(mcpText(await a.callTool({ name: 'count' }))).toBe('1');
      expect(mcpText(await a.callTool({ name: 'count' }))).toBe('2');
      expect(mcpText(await b.callTool({ name: 'count' }))).toBe('1');
      const ia = mcpText(await a.callTool({ name: 'instance' }));
      expect(mcpText(await b.callTool({ name: 'instance' }))).not.toBe(ia);
      expect(await untilSessions('mcp-sse', 2)).toEqual([1, 1]);
      await a.close();
      await untilSessions('mcp-sse', 1);
      const c = await connect();
      try {
        expect(mcpText(await c.callTool({ name: 'instance' }))).toBe(ia);
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

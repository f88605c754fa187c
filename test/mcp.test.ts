import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { bundleMcpServers } from './helpers/mcp-bundle.js';
import { localhostFetch } from './helpers/localhost-fetch.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Function AI's MCP server templates (fcai-mcp-server) run as on FC, driven by the official MCP
// SDK's client: a stdio server behind fc-local's bridge (SSE and Streamable HTTP, a server process
// per session) and a Streamable HTTP server of its own, on both backends. The servers are written
// with the SDK too, bundled here as their build steps would.

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-mcp-'));
  cpSync(fixture('mcp'), dir, { recursive: true });
  // Bundled from the fixture's own folder (its servers share code), into the copy.
  const src = fixture('mcp', 'code');
  await bundleMcpServers({ 'stdio-server': path.join(src, 'stdio-server.src.mjs'), 'http-server': path.join(src, 'http-server.src.mjs') }, path.join(dir, 'code'));
});

async function connect(url: string, how: 'sse' | 'streamable'): Promise<Client> {
  const client = new Client({ name: 'fc-local-test', version: '1.0.0' });
  const transport = how === 'sse' ? new SSEClientTransport(new URL(url), { fetch: localhostFetch }) : new StreamableHTTPClientTransport(new URL(url), { fetch: localhostFetch });
  await client.connect(transport);
  return client;
}

const text = (r: Awaited<ReturnType<Client['callTool']>>) => (r.content as { type: string; text: string }[])[0]!.text;

describe.each(BACKENDS)('MCP servers from fcai-mcp-server templates [$name]', (backend) => {
  let srv: RunningServer;
  const url = (fn: string, p: string) => `http://${fn}.localhost:${srv.port}${p}`;
  beforeAll(async () => {
    srv = await startServer(['-t', path.join(dir, 's.yaml'), '--no-auth', ...backend.args]);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('prints the MCP endpoints in the banner', () => {
    expect(srv.output()).toContain(`hello-stdio (stdio, behind fc-local's bridge: a server process per session): SSE ${url('hello-stdio', '/sse')}, Streamable HTTP ${url('hello-stdio', '/mcp')}`);
    expect(srv.output()).toContain(`hello-http (streamable-http): Streamable HTTP ${url('hello-http', '/mcp')}`);
  });

  it.each(['sse', 'streamable'] as const)('lists and calls the tools of a stdio server over %s, with state per session', async (how) => {
    const path = how === 'sse' ? '/sse' : '/mcp';
    const a = await connect(url('hello-stdio', path), how);
    const b = await connect(url('hello-stdio', path), how);
    try {
      expect((await a.listTools()).tools.map((t) => t.name).sort()).toEqual(['add', 'count', 'exit', 'pid']);
      expect(text(await a.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
      expect(text(await a.callTool({ name: 'count' }))).toBe('1');
      expect(text(await a.callTool({ name: 'count' }))).toBe('2');
      // Another session has a server process, and so a state, of its own.
      expect(text(await b.callTool({ name: 'count' }))).toBe('1');
      expect(text(await a.callTool({ name: 'pid' }))).not.toBe(text(await b.callTool({ name: 'pid' })));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('lists and calls the tools of a Streamable HTTP server through its function URL', async () => {
    const c = await connect(url('hello-http', '/mcp'), 'streamable');
    try {
      expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual(['add', 'count', 'exit', 'pid']);
      expect(text(await c.callTool({ name: 'add', arguments: { a: 20, b: 22 } }))).toBe('42');
      expect(text(await c.callTool({ name: 'count' }))).toBe('1');
    } finally {
      await c.close();
    }
  });

  it('answers a session whose server process exited with Session not found, and a new session starts another', async () => {
    const c = await connect(url('hello-stdio', '/mcp'), 'streamable');
    const pid = Number(text(await c.callTool({ name: 'pid' })));
    const transport = (c as unknown as { transport: StreamableHTTPClientTransport }).transport;
    const sessionId = transport.sessionId!;
    // The server process ends by itself: its session is gone, and the console says so.
    const mark = srv.output().length;
    expect(text(await c.callTool({ name: 'exit' }))).toBe('bye');
    await srv.waitFor(new RegExp(`the MCP server of session ${sessionId} exited \\(code 3\\); the next session starts it again`), undefined, mark);
    const after = await localhostFetch(url('hello-stdio', '/mcp'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(after.status).toBe(404);
    expect(((await after.json()) as { error: { message: string } }).error.message).toBe('Session not found');
    const again = await connect(url('hello-stdio', '/mcp'), 'streamable');
    try {
      expect(Number(text(await again.callTool({ name: 'pid' })))).not.toBe(pid);
    } finally {
      await again.close();
      await c.close().catch(() => undefined);
    }
  });
});

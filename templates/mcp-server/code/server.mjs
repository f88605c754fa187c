// An MCP server over Streamable HTTP, on the port FC gives a custom runtime. Each session has
// its own server and memory (`remember`, `recall`), kept here in this instance: FC's MCP
// Streamable HTTP affinity sends every request of a session to the instance that began it.
import { randomUUID, webcrypto } from 'node:crypto';
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

globalThis.crypto ??= webcrypto; // Node 18 (the custom.debian10 image) has no global crypto

function makeServer() {
  const server = new McpServer({ name: '{{name}}', version: '1.0.0' });
  const notes = [];
  server.registerTool('add', { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
  }));
  server.registerTool('remember', { description: 'Keeps a note for this session', inputSchema: { note: z.string() } }, async ({ note }) => {
    notes.push(note);
    return { content: [{ type: 'text', text: `remembered ${notes.length} note(s)` }] };
  });
  server.registerTool('recall', { description: "This session's notes" }, async () => ({ content: [{ type: 'text', text: notes.join('\n') }] }));
  return server;
}

const sessions = new Map();

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
}

http
  .createServer(async (req, res) => {
    try {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const id = req.headers['mcp-session-id'];
      let transport = id ? sessions.get(id) : undefined;
      if (!transport && !id && req.method === 'POST' && isInitializeRequest(body)) {
        transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => sessions.set(sid, transport) });
        transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
        await makeServer().connect(transport);
      }
      if (!transport) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      await transport.handleRequest(req, res, body);
    } catch (err) {
      console.error(err);
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: String(err.message ?? err) }, id: null }));
    }
  })
  .listen(Number(process.env.FC_SERVER_PORT ?? 9000), '0.0.0.0', () => console.log(`MCP server on port ${process.env.FC_SERVER_PORT ?? 9000}`));

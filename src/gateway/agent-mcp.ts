import type { Request, Response } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

/** What the tools read and do: the workbench's source gives all of it. */
export interface AgentData {
  functions(): unknown[];
  invocations(filter: { function?: string; status?: string; q?: string; limit?: number }): unknown[];
  invocation(requestId: string): unknown;
  replay(requestId: string): Promise<unknown>;
  invoke(body: unknown): Promise<unknown>;
  fire(type: string, body: unknown): Promise<unknown>;
  logs(): unknown[];
}

// /_fc-local/mcp: the workbench for coding agents, as MCP tools over Streamable HTTP (the official
// SDK, stateless: each request gets a server of its own). What a developer reads on the page an
// agent can ask for: the functions, recent invocations with their logs, log search, and invoking,
// replaying and firing events. Same token rules as the page. A tool's failure is its answer
// (isError), never a crash.

const SOURCES = ['api', 'http', 'timer', 'oss', 'log', 'cdn', 'async', 'destination', 'library', 'workbench'] as const;

function text(value: unknown) {
  return { content: [{ type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
}

/** A tool's failure as MCP answers it: the message, flagged. */
async function answer(run: () => unknown): Promise<ReturnType<typeof text> & { isError?: boolean }> {
  try {
    return text(await run());
  } catch (err) {
    return { ...text((err as Error).message), isError: true };
  }
}

function agentServer(src: AgentData): McpServer {
  const server = new McpServer({ name: 'fc-local', version: '1' }, { instructions: "fc-local emulates Alibaba Cloud Function Compute on this machine. Start with list_functions, look at recent_invocations (status 'failed' finds errors) and get_invocation for a request's logs and result." });
  server.registerTool('list_functions', { description: 'The functions of the template: runtime, triggers, URLs, instances (state, busy, sessions)' }, async () => answer(() => src.functions()));
  server.registerTool(
    'recent_invocations',
    {
      description: 'Recent invocations, newest first (the last 1,000): request id, function, source, status, error type, duration, cold start',
      inputSchema: {
        function: z.string().optional().describe('service/function, or an FC 3.0 name'),
        status: z.enum(['succeeded', 'failed', 'throttled']).optional(),
        source: z.enum(SOURCES).optional(),
        text: z.string().optional().describe('text in the request id, function, error type, URL or logs'),
        limit: z.number().int().min(1).max(1000).optional().describe('default 20'),
      },
    },
    async (a) =>
      answer(() =>
        (src.invocations({ ...(a.function ? { function: a.function } : {}), ...(a.status ? { status: a.status } : {}), ...(a.text ? { q: a.text } : {}), limit: a.source ? 1000 : (a.limit ?? 20) }) as { source?: string }[])
          .filter((i) => !a.source || i.source === a.source)
          .slice(0, a.limit ?? 20),
      ),
  );
  server.registerTool(
    'get_invocation',
    { description: "One recent invocation whole: its request (event or HTTP request), result, logs, duration and memory", inputSchema: { requestId: z.string().min(1) } },
    async ({ requestId }) =>
      answer(() => {
        const inv = src.invocation(requestId);
        if (!inv) throw new Error(`no recent invocation ${requestId} (fc-local keeps the last 1,000)`);
        return inv;
      }),
  );
  server.registerTool(
    'search_logs',
    { description: 'Lines the functions printed (the last 2,000) that contain a text', inputSchema: { text: z.string().min(1), function: z.string().optional(), limit: z.number().int().min(1).max(2000).optional().describe('default 100') } },
    async (a) =>
      answer(() => {
        const needle = a.text.toLowerCase();
        return (src.logs() as { function: string; line: string }[]).filter((l) => (!a.function || l.function === a.function) && l.line.toLowerCase().includes(needle)).slice(-(a.limit ?? 100));
      }),
  );
  server.registerTool(
    'invoke',
    { description: 'Invokes a function with an event (sync, or async: accepted and queued)', inputSchema: { function: z.string().min(1), event: z.string().optional().describe('the event, as text (often JSON)'), async: z.boolean().optional() } },
    async (a) => answer(() => src.invoke({ function: a.function, ...(a.event !== undefined ? { event: a.event } : {}), ...(a.async ? { async: true } : {}) })),
  );
  server.registerTool('replay', { description: 'Runs a recent invocation again, as it came', inputSchema: { requestId: z.string().min(1) } }, async ({ requestId }) => answer(() => src.replay(requestId)));
  server.registerTool(
    'fire_event',
    {
      description: 'Fires an OSS, Log, CDN or Timer event as its source would, and answers the invocations it caused',
      inputSchema: { type: z.enum(['oss', 'log', 'cdn', 'timer']), event: z.record(z.string(), z.unknown()).describe('as fc-local events emit takes it, e.g. {"bucket": "b", "key": "in/a.png"} or {"function": "svc/fn", "trigger": "t"}') },
    },
    async (a) => answer(() => src.fire(a.type, a.event)),
  );
  return server;
}

/** Handles one request to /_fc-local/mcp (POST messages; GET and DELETE answer 405 in stateless mode). */
export async function agentMcp(src: AgentData, req: Request, res: Response): Promise<void> {
  const server = agentServer(src);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
}

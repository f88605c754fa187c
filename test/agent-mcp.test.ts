import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { fixture } from './helpers/cli.js';

// /_fc-local/mcp for coding agents, driven by the official MCP SDK's client: the tools are
// listed, a failed invocation is found and its logs read; bad arguments get a clear error.

const first = (r: Awaited<ReturnType<Client['callTool']>>) => (r.content as { text: string }[])[0]!.text;

describe('MCP for coding agents', () => {
  it('lists its tools, finds a failed invocation and reads its logs, and answers bad arguments with an error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-agent-'));
    cpSync(fixture('clock'), dir, { recursive: true });
    await using fc = await startEmulator({ template: path.join(dir, 'fc.yml'), backend: 'process', clock: 'manual' });
    await fc.invoke('clock/audit', JSON.stringify({ responsePayload: 'fine' }));
    await fc.invoke('clock/flaky', 'order-3').catch(() => undefined);
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${fc.url}/_fc-local/mcp`)));
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['fire_event', 'get_invocation', 'invoke', 'list_functions', 'recent_invocations', 'replay', 'search_logs']);
      const fns = JSON.parse(first(await client.callTool({ name: 'list_functions' }))) as { key: string }[];
      expect(fns.map((f) => f.key)).toContain('clock/flaky');
      const failed = JSON.parse(first(await client.callTool({ name: 'recent_invocations', arguments: { status: 'failed' } }))) as { requestId: string; function: string; errorType: string }[];
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ function: 'clock/flaky', errorType: expect.stringMatching(/InvocationError$/) });
      const detail = JSON.parse(first(await client.callTool({ name: 'get_invocation', arguments: { requestId: failed[0]!.requestId } }))) as { logs: string[]; result: string };
      expect(detail.result).toContain('attempt 1 fails');
      expect(detail.logs.join('\n')).toContain(failed[0]!.requestId);
      const lines = JSON.parse(first(await client.callTool({ name: 'search_logs', arguments: { text: failed[0]!.requestId } }))) as { function: string; line: string }[];
      expect(lines.map((l) => l.line).join('\n')).toContain(`FC Invoke Start RequestId: ${failed[0]!.requestId}`);
      const invoked = JSON.parse(first(await client.callTool({ name: 'invoke', arguments: { function: 'clock/audit', event: JSON.stringify({ responsePayload: 'from an agent' }) } }))) as { result: string };
      expect(invoked.result).toBe('heard: from an agent');
      // Bad arguments: an error the agent can read, and the server goes on.
      const missing = await client.callTool({ name: 'get_invocation', arguments: { requestId: 'nope' } });
      expect(missing.isError).toBe(true);
      expect(first(missing)).toMatch(/no recent invocation nope/);
      const wrong = await client.callTool({ name: 'recent_invocations', arguments: { status: 'weird' } });
      expect(wrong.isError).toBe(true);
      const unknown = await client.callTool({ name: 'invoke', arguments: { function: 'no/such' } });
      expect(unknown.isError).toBe(true);
      expect((await client.listTools()).tools.length).toBe(7);
    } finally {
      await client.close();
    }
  });
});

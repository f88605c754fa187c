import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SourceMapConsumer, type RawSourceMap } from 'source-map-js';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/runtime/instance-io.js';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { CdpClient } from './helpers/debuggers.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// TypeScript on the fly: a .ts handler runs without a build step of the user's, a save runs the
// new code at the next request, errors and stack traces name .ts lines, a syntax error answers
// that function's requests (positioned) while the others serve, and a CDP debugger stops at a
// breakpoint set by .ts line through the inline source map, as VS Code does.

function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-ts-'));
  cpSync(fixture('typescript'), dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

const invoke = (srv: RunningServer, fn: string, event: unknown) =>
  fetch(`${srv.base}/2016-08-15/services/ts/functions/${fn}/invocations`, { method: 'POST', body: JSON.stringify(event) }).then(async (r) => ({
    status: r.status,
    error: r.headers.get('x-fc-error-type'),
    body: await r.text(),
  }));

let servers: RunningServer[] = [];
let clients: CdpClient[] = [];
afterEach(async () => {
  clients.forEach((c) => c.close());
  clients = [];
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

for (const backend of BACKENDS) {
  describe(`[${backend.name}] TypeScript on the fly`, () => {
    it('runs a .ts handler, reports .ts lines, runs a saved change at the next request, and keeps serving the rest through a syntax error', async () => {
      const dir = project();
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args]);
      servers.push(srv);
      expect(await invoke(srv, 'hello', { name: 'ts' })).toEqual({ status: 200, error: null, body: 'hello ts' });
      expect(srv.output()).toMatch(/ts\/hello: compiled 2 TypeScript file\(s\) in \d+ ms/);

      // A thrown error names the .ts file and line (line 7 of index.ts), through the source map.
      const failed = await invoke(srv, 'hello', { fail: true });
      expect(failed.error).toBe('HandledInvocationError');
      const err = JSON.parse(failed.body) as { errorMessage: string; stackTrace: string[] };
      expect(err.errorMessage).toBe('failed in TypeScript');
      expect(err.stackTrace[0]).toMatch(new RegExp(`${backend.codeDir(path.join(dir, 'code'))}/index\\.ts:7:\\d+`));

      // A save: the next request runs it.
      let mark = srv.output().length;
      writeFileSync(path.join(dir, 'code', 'greet.ts'), 'export function greet(name: string): string {\n  return `hi ${name}`;\n}\n');
      await srv.waitFor(/reloaded ts\/hello \(greet\.ts changed\)/, undefined, mark);
      expect((await invoke(srv, 'hello', { name: 'again' })).body).toBe('hi again');

      // A syntax error: positioned, on the console once and in every answer of that function.
      mark = srv.output().length;
      const good = readFileSync(path.join(dir, 'code', 'index.ts'), 'utf8');
      writeFileSync(path.join(dir, 'code', 'index.ts'), good.replace("const e: Event = JSON.parse(event.toString() || '{}');", 'const e: Event = ;'));
      await srv.waitFor(/ts\/hello: TypeScript index\.ts:6:20: error: Unexpected ";"/, undefined, mark);
      await srv.waitFor(/reloaded ts\/hello \(index\.ts changed\)/, undefined, mark);
      for (let i = 0; i < 2; i++) {
        const broken = await invoke(srv, 'hello', {});
        expect(broken.status).toBe(200);
        expect(broken.error).toBe('UnhandledInvocationError');
        expect(JSON.parse(broken.body)).toMatchObject({ errorType: 'SyntaxError', errorMessage: 'index.ts:6:20: error: Unexpected ";"' });
      }
      expect(srv.output().slice(mark).match(/TypeScript index\.ts:6:20/g)).toHaveLength(1);
      expect(await invoke(srv, 'plain', {})).toEqual({ status: 200, error: null, body: 'plain' });
      mark = srv.output().length;
      writeFileSync(path.join(dir, 'code', 'index.ts'), good);
      await srv.waitFor(/reloaded ts\/hello \(index\.ts changed\)/, undefined, mark);
      expect((await invoke(srv, 'hello', { name: 'fixed' })).body).toBe('hi fixed');
    }, scaled(90_000));

    it('stops a CDP debugger at a breakpoint set by .ts line (the source map maps it, as VS Code does)', async () => {
      const dir = project();
      const port = await freePort();
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args, '-d', String(port), '--debug-function', 'ts/hello']);
      servers.push(srv);
      const result = invoke(srv, 'hello', { name: 'debugger' });
      await srv.waitFor(/ts\/hello: waiting for a debugger on 127\.0\.0\.1:\d+ \(Node inspector\)/);
      const cdp = await CdpClient.connect(port);
      clients.push(cdp);
      await cdp.send('Runtime.enable');
      await cdp.send('Debugger.enable');
      // A client learns a script's source map as it loads, before it runs, and sets breakpoints then.
      await cdp.send('Debugger.setInstrumentationBreakpoint', { instrumentation: 'beforeScriptWithSourceMapExecution' });
      await cdp.send('Runtime.runIfWaitingForDebugger');
      let consumer: SourceMapConsumer | undefined;
      for (;;) {
        const paused = (await cdp.events.take((e) => e.method === 'Debugger.paused', scaled(60_000), 'a pause')).params as {
          reason: string;
          hitBreakpoints?: string[];
          data?: { scriptId: string; url: string; sourceMapURL: string };
          callFrames: { callFrameId: string; location: { scriptId: string; lineNumber: number; columnNumber: number } }[];
        };
        if (paused.reason === 'instrumentation') {
          if (paused.data?.url.endsWith('/index.ts')) {
            const mapUrl = paused.data.sourceMapURL || cdp.sourceMaps.get(paused.data.scriptId)!;
            const map = JSON.parse(Buffer.from(mapUrl.slice(mapUrl.indexOf(',') + 1), 'base64').toString('utf8')) as RawSourceMap;
            consumer = new SourceMapConsumer(map);
            // Line 8 of index.ts: return greet(e.name ?? 'world').
            const at = consumer.generatedPositionFor({ source: 'index.ts', line: 8, column: 2 });
            await cdp.send('Debugger.setBreakpoint', { location: { scriptId: paused.data.scriptId, lineNumber: at.line! - 1, columnNumber: at.column ?? 0 } });
          }
          await cdp.send('Debugger.resume');
          continue;
        }
        // The inspector's own stop at the agent's first line (it waits for a client): go on.
        if (!paused.hitBreakpoints?.length) {
          await cdp.send('Debugger.resume');
          continue;
        }
        const top = paused.callFrames[0]!;
        expect(cdp.scripts.get(top.location.scriptId)).toMatch(new RegExp(`${backend.codeDir(path.join(dir, 'code'))}/index\\.ts$`));
        const original = consumer!.originalPositionFor({ line: top.location.lineNumber + 1, column: top.location.columnNumber });
        expect([original.source, original.line]).toEqual(['index.ts', 8]);
        const local = await cdp.send<{ result: { value: unknown } }>('Debugger.evaluateOnCallFrame', { callFrameId: top.callFrameId, expression: 'e.name' });
        expect(local.result.value).toBe('debugger');
        await cdp.send('Debugger.resume');
        break;
      }
      expect(await result).toEqual({ status: 200, error: null, body: 'hello debugger' });
    }, scaled(90_000));
  });
}

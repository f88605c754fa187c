import { execa } from 'execa';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'jsonc-parser';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JAVA_AGENT_JAR } from '../src/runtime/agents.js';
import { freePort } from '../src/runtime/instance-io.js';
import { delay } from '../src/util.js';
import { BACKENDS, ENGINES } from './helpers/backends.js';
import { BIN, fixture, runCli } from './helpers/cli.js';
import { CdpClient, DapClient } from './helpers/debuggers.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// A real debugger client attaches over the wire and stops at a breakpoint in the function:
// Node's inspector (CDP), debugpy (DAP) and JDWP (jdb), on both backends.

/** A copy of fixtures/debug that tests may edit (hot reload), readable by the instances' user. */
function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-debug-'));
  cpSync(fixture('debug'), dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

const invoke = (srv: RunningServer, fn: string, event: unknown) =>
  fetch(`${srv.base}/2016-08-15/services/dbg/functions/${fn}/invocations`, { method: 'POST', body: JSON.stringify(event) }).then(async (r) => ({
    status: r.status,
    error: r.headers.get('x-fc-error-type'),
    body: await r.text(),
  }));

let servers: RunningServer[] = [];
let clients: { close(): void }[] = [];
afterEach(async () => {
  clients.forEach((c) => c.close());
  clients = [];
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function debugServer(dir: string, fn: string, backendArgs: string[], extra: string[] = []): Promise<{ srv: RunningServer; port: number }> {
  const port = await freePort();
  const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backendArgs, '-d', String(port), '--debug-function', fn, ...extra]);
  servers.push(srv);
  return { srv, port };
}

for (const backend of ENGINES) {
  describe(`[${backend.label}] debugging`, () => {
    it('Node.js: the inspector stops at a breakpoint in the handler, a local is read, and the 3 s timeout does not fire while paused 5 s', async () => {
      const dir = project();
      const { srv, port } = await debugServer(dir, 'dbg/node', backend.args);
      expect(srv.output()).toContain(`dbg/node starts under its debugger at its first request: attach to 127.0.0.1:${port}`);
      const result = invoke(srv, 'node', { name: 'debugger' });
      await srv.waitFor(new RegExp(`dbg/node: waiting for a debugger on 127\\.0\\.0\\.1:${port} \\(Node inspector\\)`));
      const cdp = await CdpClient.connect(port);
      clients.push(cdp);
      await cdp.send('Runtime.enable');
      await cdp.send('Debugger.enable');
      // Line 5 (0-based 4) of index.js, wherever the instance sees it (/code in a container).
      await cdp.send('Debugger.setBreakpointByUrl', { lineNumber: 4, urlRegex: '(node|code)/index\\.js$' });
      await cdp.send('Runtime.runIfWaitingForDebugger');
      const paused = await cdp.pausedAtBreakpoint();
      expect(cdp.scripts.get(paused.callFrames[0]!.location.scriptId)).toMatch(new RegExp(`${backend.codeDir(path.join(dir, 'node'))}/index\\.js$`));
      expect(paused.callFrames[0]!.location.lineNumber).toBe(4);
      const local = await cdp.send<{ result: { value: unknown } }>('Debugger.evaluateOnCallFrame', { callFrameId: paused.callFrames[0]!.callFrameId, expression: 'name' });
      expect(local.result.value).toBe('debugger');
      await srv.waitFor(/dbg\/node: debugger attached/);
      if (backend.name === 'process') await delay(5000); // longer than the function's 3 s timeout
      await cdp.send('Debugger.resume');
      expect(await result).toEqual({ status: 200, error: null, body: 'hello debugger' });
    }, scaled(90_000));

    it('Node.js: requests queue for the one debugged instance, and a saved file restarts it under the debugger again', async () => {
      const dir = project();
      const { srv, port } = await debugServer(dir, 'dbg/web', backend.args);
      const first = fetch(`${srv.base}/2016-08-15/proxy/dbg/web/one`).then((r) => r.text());
      await srv.waitFor(/dbg\/web: waiting for a debugger/);
      const cdp = await CdpClient.connect(port);
      clients.push(cdp);
      await cdp.send('Debugger.enable');
      await cdp.send('Debugger.setBreakpointByUrl', { lineNumber: 10, urlRegex: '(node|code)/index\\.js$' });
      await cdp.send('Runtime.runIfWaitingForDebugger');
      await cdp.pausedAtBreakpoint();
      const second = fetch(`${srv.base}/2016-08-15/proxy/dbg/web/two`).then((r) => r.text());
      await cdp.send('Debugger.resume');
      expect(await first).toBe('web /one');
      // The second request reached the same instance (one instance while debugging): it stops too.
      await cdp.pausedAtBreakpoint();
      await cdp.send('Debugger.resume');
      expect(await second).toBe('web /two');
      expect(srv.output().match(/waiting for a debugger/g)).toHaveLength(1);
      cdp.close();

      // Hot reload: the new code starts under the debugger again and waits for it.
      const mark = srv.output().length;
      writeFileSync(path.join(dir, 'node', 'index.js'), readFileSync(path.join(dir, 'node', 'index.js'), 'utf8').replace('`web ${path}`', '`web2 ${path}`'));
      await srv.waitFor(/waiting for a debugger/, scaled(30_000), mark);
      const third = fetch(`${srv.base}/2016-08-15/proxy/dbg/web/three`).then((r) => r.text());
      // The new runtime's inspector, not the old one on its way out.
      const again = await CdpClient.connect(port, cdp.targetId);
      clients.push(again);
      // Enabled before it runs, so that the stop at the agent's first line is reported.
      await again.send('Debugger.enable');
      await again.send('Runtime.runIfWaitingForDebugger');
      // Nothing to stop at: resume the stop at the agent's first line.
      await again.events.take((e) => e.method === 'Debugger.paused');
      await again.send('Debugger.resume');
      expect(await third).toBe('web2 /three');
    }, scaled(120_000));

    it('Python: debugpy stops at a breakpoint over the Debug Adapter Protocol, a local is read, the result comes back', async () => {
      const dir = project();
      const { srv, port } = await debugServer(dir, 'dbg/python', backend.args);
      const result = invoke(srv, 'python', { name: 'dap' });
      await srv.waitFor(new RegExp(`dbg/python: waiting for a debugger on 127\\.0\\.0\\.1:${port} \\(debugpy`));
      const dap = await DapClient.connect(port);
      clients.push(dap);
      await dap.request('initialize', { clientID: 'fc-local-test', adapterID: 'debugpy', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
      // debugpy answers attach after configurationDone, as VS Code does it.
      const attached = dap.request('attach', { justMyCode: false });
      await dap.event('initialized');
      const file = path.join(backend.codeDir(path.join(dir, 'python')), 'index.py');
      await dap.request('setBreakpoints', { source: { path: file }, breakpoints: [{ line: 6 }] });
      await dap.request('configurationDone');
      await attached;
      const stopped = await dap.event('stopped');
      const threadId = (stopped.body as { threadId: number }).threadId;
      expect((stopped.body as { reason: string }).reason).toBe('breakpoint');
      const { stackFrames } = await dap.request<{ stackFrames: { id: number; line: number; source: { path: string } }[] }>('stackTrace', { threadId });
      expect(stackFrames[0]!.line).toBe(6);
      expect(stackFrames[0]!.source.path).toBe(file);
      const { scopes } = await dap.request<{ scopes: { name: string; variablesReference: number }[] }>('scopes', { frameId: stackFrames[0]!.id });
      const locals = scopes.find((s) => s.name === 'Locals')!;
      const { variables } = await dap.request<{ variables: { name: string; value: string }[] }>('variables', { variablesReference: locals.variablesReference });
      expect(variables.find((v) => v.name === 'name')?.value).toBe("'dap'");
      await srv.waitFor(/dbg\/python: debugger attached/);
      await dap.request('continue', { threadId });
      expect(await result).toEqual({ status: 200, error: null, body: 'hello dap' });
    }, scaled(90_000));

    it('--debugger-path puts a folder of debugger files first on the instance\'s path (read-only at /var/fc-local/debugger in Docker)', async () => {
      const dir = project();
      // A stand-in debugpy that says where it runs from and lets the agent go on at once.
      const tools = mkdtempSync(path.join(os.tmpdir(), 'fc-local-debugger-'));
      chmodSync(tools, 0o755);
      mkdirSync(path.join(tools, 'debugpy'), { mode: 0o755 });
      writeFileSync(path.join(tools, 'debugpy', '__init__.py'), 'listened_on = None\ndef listen(addr):\n    global listened_on\n    listened_on = addr[1]\ndef wait_for_client():\n    pass\n', { mode: 0o644 });
      const { srv, port } = await debugServer(dir, 'dbg/python-where', backend.args, ['--debugger-path', tools]);
      const where = backend.name === 'docker' ? '/var/fc-local/debugger' : tools;
      expect(await invoke(srv, 'python-where', {})).toEqual({ status: 200, error: null, body: `${where}/debugpy/__init__.py ${port}` });
    }, scaled(60_000));
  });
}

// JDWP: jdb, from the JDK, attaches and stops in the handler class.
const javaReady = existsSync(JAVA_AGENT_JAR) && (await execa('javac', ['-version'], { reject: false })).exitCode === 0;
describe.runIf(javaReady)('Java debugging', () => {
  let dir: string;
  beforeAll(async () => {
    dir = project();
    const classes = path.join(dir, 'java');
    await execa('javac', ['-g', '--release', '8', '-nowarn', '-Xlint:-options', '-cp', JAVA_AGENT_JAR, '-d', classes, fixture('java', 'src', 'example', 'HelloFC.java')]);
    writeFileSync(
      path.join(dir, 'fc.yml'),
      `${readFileSync(path.join(dir, 'fc.yml'), 'utf8')}      java:\n        runtime: java8\n        handler: example.HelloFC::handleRequest\n        codeUri: ./java\n        timeout: 3\n`,
    );
  }, scaled(60_000));

  for (const backend of BACKENDS) {
    it(`[${backend.label}] jdb -attach stops at a breakpoint in the handler class`, async () => {
      const { srv, port } = await debugServer(dir, 'dbg/java', backend.args);
      const result = invoke(srv, 'java', {});
      // Said once JDWP accepts: jdb attaches at once, as an IDE does, with no probe first.
      await srv.waitFor(new RegExp(`dbg/java: waiting for a debugger on 127\\.0\\.0\\.1:${port} \\(JDWP\\)`));
      const jdb = execa('jdb', ['-attach', `127.0.0.1:${port}`], { reject: false, all: true, buffer: false, stdin: 'pipe' });
      let out = '';
      jdb.all!.on('data', (d: Buffer) => (out += d.toString()));
      const until = async (re: RegExp) => {
        for (let i = 0; i < 600 && !re.test(out); i++) await delay(100);
        expect(out).toMatch(re);
      };
      const say = (line: string) => jdb.stdin!.write(`${line}\n`);
      try {
        await until(/Initializing jdb/);
        say('stop at example.HelloFC:13');
        await until(/Deferring breakpoint example\.HelloFC:13|Set breakpoint example\.HelloFC:13/);
        say('cont');
        await until(/Breakpoint hit: .*example\.HelloFC\.handleRequest\(\), line=13/);
        say('locals');
        await until(/Method arguments:[^]*context = instance of/);
        say('cont');
        expect(await result).toEqual({ status: 200, error: null, body: 'hello world' });
      } finally {
        jdb.kill();
      }
    }, scaled(90_000));
  }
});

describe('debugging from the CLI', () => {
  it('invoke -d: one invocation under the inspector, the result on stdout', async () => {
    const dir = project();
    const port = await freePort();
    const run = execa('node', [BIN, 'invoke', 'dbg/node', '--event', '{"name":"cli"}', '-d', String(port), '--backend', 'process', '-t', path.join(dir, 'fc.yml')], { reject: false });
    // Attach once it says the inspector waits, as a developer would.
    let stderr = '';
    await new Promise<void>((resolve) => run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()).includes('waiting for a debugger') && resolve()));
    const cdp = await CdpClient.connect(port);
    clients.push(cdp);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.setBreakpointByUrl', { lineNumber: 5, urlRegex: 'node/index\\.js$' });
    await cdp.send('Runtime.runIfWaitingForDebugger');
    // Within half the test's time, so that a miss says what fc-local printed (a rare miss under load is being chased).
    const paused = await cdp.pausedAtBreakpoint(scaled(30_000)).catch((err: Error) => {
      throw new Error(`${err.message}; fc-local printed:\n${stderr}`);
    });
    const local = await cdp.send<{ result: { value: unknown } }>('Debugger.evaluateOnCallFrame', { callFrameId: paused.callFrames[0]!.callFrameId, expression: 'greeting' });
    expect(local.result.value).toBe('hello cli');
    await cdp.send('Debugger.resume');
    const r = await run;
    expect(r.stdout).toBe('hello cli');
    expect(r.stderr).toContain(`dbg/node: waiting for a debugger on 127.0.0.1:${port} (Node inspector)`);
    expect(r.stderr).toContain('dbg/node: debugger attached');
  }, scaled(60_000));

  it('start -d needs --debug-function when several functions could be hit; the other flags need -d', async () => {
    const dir = project();
    const several = await runCli(['start', '-t', path.join(dir, 'fc.yml'), '-d', '9229', '--backend', 'process']);
    expect(several.exitCode).toBe(2);
    expect(several.stderr).toContain('say which function to debug with --debug-function: dbg/node, dbg/python, dbg/python-where, dbg/web');
    const noPort = await runCli(['invoke', 'dbg/node', '-t', path.join(dir, 'fc.yml'), '--debug-args', '--trace-warnings']);
    expect(noPort.exitCode).toBe(2);
    expect(noPort.stderr).toContain('need --debug-port (-d)');
  });

  it('debug-config vscode merges attach configurations into launch.json, keeping comments and other configurations', async () => {
    const dir = project();
    mkdirSync(path.join(dir, '.vscode'));
    writeFileSync(path.join(dir, '.vscode', 'launch.json'), '{\n  // mine\n  "version": "0.2.0",\n  "configurations": [{ "name": "other", "type": "node", "request": "launch" }]\n}\n');
    const r = await runCli(['debug-config', 'vscode', '-d', '9230', '--backend', 'docker', '-t', path.join(dir, 'fc.yml')]);
    expect(r.exitCode).toBe(0);
    const text = readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8');
    expect(text).toContain('// mine');
    const configs = (parse(text) as { configurations: Record<string, unknown>[] }).configurations;
    expect(configs.map((c) => c.name)).toEqual(['other', 'fc-local: dbg/node', 'fc-local: dbg/python', 'fc-local: dbg/python-where', 'fc-local: dbg/web']);
    expect(configs[1]).toMatchObject({ type: 'node', request: 'attach', port: 9230, localRoot: '${workspaceFolder}/node', remoteRoot: '/code', restart: true });
    expect(configs[2]).toMatchObject({ type: 'debugpy', request: 'attach', connect: { host: '127.0.0.1', port: 9230 }, pathMappings: [{ localRoot: '${workspaceFolder}/python', remoteRoot: '/code' }] });
    // Again for one function on the process backend: replaced in place, not duplicated.
    await runCli(['debug-config', 'vscode', '-d', '9231', '--backend', 'process', '--function', 'dbg/node', '-t', path.join(dir, 'fc.yml')]);
    const again = (parse(readFileSync(path.join(dir, '.vscode', 'launch.json'), 'utf8')) as { configurations: Record<string, unknown>[] }).configurations;
    expect(again).toHaveLength(5);
    expect(again[1]).toMatchObject({ port: 9231, remoteRoot: '${workspaceFolder}/node' });
    const printed = await runCli(['debug-config', 'vscode', '--print', '--backend', 'process', '--function', 'dbg/python', '-t', path.join(dir, 'fc.yml')]);
    expect(JSON.parse(String(printed.stdout)).configurations[0]).toMatchObject({ name: 'fc-local: dbg/python', connect: { port: 9229 } });
    const ij = await runCli(['debug-config', 'intellij', '--backend', 'process', '-t', path.join(dir, 'fc.yml')]);
    expect(ij.exitCode).toBe(0);
    expect(readFileSync(path.join(dir, '.idea', 'runConfigurations', 'fc_local_dbg_node.xml'), 'utf8')).toContain('type="ChromiumRemoteDebugType"');
    expect(ij.stdout).toContain('no intellij configuration for dbg/python (python3.9), dbg/python-where (python3.9)');
  });
});

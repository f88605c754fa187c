import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTemplate } from '../src/template/load.js';
import { createExecutor as createRuntime, type Executor as Runtime } from '../src/runtime/index.js';
import { selectBackend } from '../src/runtime/select-backend.js';
import { findFunction, type Template } from '../src/model.js';
import { fixture, runCli } from './helpers/cli.js';
import { ENGINES } from './helpers/backends.js';
import { scaled } from './helpers/time-scale.js';

const TPL = 'fixtures/nodejs/fc.yml';
const HOST_CODE = fixture('nodejs');
const SOURCE = readFileSync(path.join(HOST_CODE, 'index.js'), 'utf8').split('\n');
/** `line:col` of the `new Error` on the fixture line holding `text`, as V8's frame shows it. */
const at = (text: string) => {
  const line = SOURCE.findIndex((l) => l.includes(text));
  return `${line + 1}:${SOURCE[line]!.indexOf('new Error') + 1}`;
};
const ENV = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'test-key-id',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'test-key-secret',
  ALIBABA_CLOUD_SECURITY_TOKEN: 'test-token',
  FC_LOCAL_TEST_LEAK: 'host env must not leak into instances',
};

interface JsonOut {
  requestId: string;
  result?: string;
  error?: { errorMessage: string; errorType?: string; stackTrace?: string[] };
  errorType?: string;
  logs: string;
  durationMs: number;
  billedDurationMs: number;
  maxMemoryUsedMB?: number;
}

for (const backend of ENGINES) {
  const CODE = backend.codeDir(HOST_CODE);
async function invoke(fn: string, event?: string): Promise<{ out: JsonOut; exitCode: number | undefined }> {
  const args = ['invoke', `node-svc/${fn}`, '-t', TPL, '--json', ...backend.args];
  if (event !== undefined) args.push('--event', event);
  const r = await runCli(args, { env: ENV });
  if (!String(r.stdout).trim()) throw new Error(`invoke printed nothing (exit ${r.exitCode}): ${String(r.stderr)}`);
  return { out: JSON.parse(String(r.stdout)) as JsonOut, exitCode: r.exitCode };
}

// One CLI run per test: on the other engines (a copy per run, Podman's slow starts) only the suites that keep an emulator up run.
describe.skipIf(backend.engine !== undefined)(`Node.js runtime through \`fc-local invoke\` [${backend.label}]`, () => {
  it('passes the event as a Buffer and returns a Buffer raw', async () => {
    const r = await runCli(['invoke', 'node-svc/echo', '-t', TPL, '--event', 'raw \u00e9vent', ...backend.args], { env: ENV, encoding: 'buffer' });
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout as Uint8Array).toString()).toBe('raw \u00e9vent');
    const obj = await invoke('object', 'abc');
    expect(JSON.parse(obj.out.result!)).toEqual({ isBuffer: true, length: 3, list: [1, 2] });
    expect((await invoke('number')).out.result).toBe('42');
  });

  it('reads the event from a file and from stdin', async () => {
    const file = await runCli(['invoke', 'echo', '-t', TPL, '-e', 'fixtures/example/index.js', ...backend.args], { env: ENV });
    expect(file.stdout).toMatch(/^'use strict';/);
    const stdin = await runCli(['invoke', 'echo', '-t', TPL, '-e', '-', ...backend.args], { env: ENV, input: '{"from":"stdin"}' });
    expect(stdin.stdout).toBe('{"from":"stdin"}');
  });

  it('lets the first callback win and drops work after it', async () => {
    const { out } = await invoke('twice');
    expect(out.result).toBe('hello world');
    expect(out.logs).not.toMatch(/message/);
  });

  it('supports async handlers, resolved and rejected', async () => {
    expect(JSON.parse((await invoke('async-value', 'x')).out.result!)).toEqual({ async: true, event: 'x' });
    const rej = await invoke('async-reject');
    expect(rej.exitCode).toBe(1);
    expect(rej.out.errorType).toBe('HandledInvocationError');
    expect(rej.out.error).toMatchObject({ errorMessage: 'async oops', errorType: 'TypeError' });
  });

  it('loads ES module handlers', async () => {
    expect(JSON.parse((await invoke('esm', 'm')).out.result!)).toEqual({ esm: true, event: 'm' });
  });

  it('builds the context from the protocol headers and local credentials', async () => {
    const { out } = await invoke('context');
    const ctx = JSON.parse(out.result!);
    expect(ctx).toEqual({
      requestId: out.requestId,
      credentials: { accessKeyId: 'test-key-id', accessKeySecret: 'test-key-secret', securityToken: 'test-token' },
      function: { name: 'context', handler: 'index.context', memory: 128, timeout: 5, initializer: '', initializationTimeout: 3 },
      service: { name: 'node-svc', logProject: 'test-project', logStore: 'test-store', qualifier: 'LATEST', versionId: '' },
      region: 'cn-shanghai',
      accountId: '1234567890123456',
    });
    expect(out.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.logs).not.toContain('test-key-secret');
  });

  it('runs in the code dir with FC_FUNC_CODE_PATH and the function env, not the host env', async () => {
    const { out } = await invoke('env');
    expect(JSON.parse(out.result!)).toEqual({ codePath: CODE, cwd: CODE, greeting: 'hi there', home: '/tmp', leaked: null });
  });

  it('formats console lines as FC does and honours console.setLogLevel', async () => {
    const { out } = await invoke('logging', 'e');
    const lines = out.logs.split('\n');
    const id = out.requestId;
    expect(lines[0]).toBe(`FC Invoke Start RequestId: ${id}`);
    expect(lines.at(-1)).toBe(`FC Invoke End RequestId: ${id}`);
    const body = lines.slice(1, -1).map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'TS '));
    expect(body).toEqual([
      `TS ${id} [ERROR] console error 1`,
      `TS ${id} [ERROR] console error 2`,
      `TS ${id} [WARN] console warn 2`,
      `TS ${id} [INFO] console info 3`,
    ]);
  });

  it('prints logs on stderr and the result on stdout without --json', async () => {
    const r = await runCli(['invoke', 'node-svc/logging', '-t', TPL, '--event', 'out', ...backend.args], { env: ENV });
    expect(r.stdout).toBe('out');
    // After what fc-local says first, if anything (a remote engine's copies).
    expect(r.stderr).toMatch(/^(fc-local .*\n)*FC Invoke Start RequestId: .*\n.*\[ERROR\] console error 1\n/);
  });

  it('maps callback(err) to HandledInvocationError with FC error JSON', async () => {
    const r = await runCli(['invoke', 'node-svc/handled', '-t', TPL, ...backend.args], { env: ENV });
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout))).toEqual({
      errorMessage: 'oops',
      errorType: 'Error',
      stackTrace: [`at exports.handled (${path.join(CODE, 'index.js')}:${at("callback(new Error('oops'))")})`],
    });
    expect(r.stderr).toMatch(/\nHandledInvocationError$/);
    expect((await invoke('handled-string')).out.error).toEqual({ errorMessage: 'plain failure' });
  });

  it.each(['throws', 'exits', 'throw-later'])('maps %s to UnhandledInvocationError "Process exited unexpectedly"', async (fn) => {
    const { out, exitCode } = await invoke(fn);
    expect(exitCode).toBe(1);
    expect(out.errorType).toBe('UnhandledInvocationError');
    expect(out.error).toEqual({ errorMessage: 'Process exited unexpectedly before completing request' });
  });

  it('logs the uncaught error with its user stack', async () => {
    const { out } = await invoke('throws');
    expect(out.logs).toMatch(new RegExp(`\\[ERROR\\] Error: oops\\n\\s+at exports\\.throws \\(.*index\\.js:${at("throw new Error('oops')")}\\)`));
    expect(out.logs).not.toMatch(/bootstrap\.js/);
  });

  it('times out a function that never calls back', async () => {
    const { out, exitCode } = await invoke('never');
    expect(exitCode).toBe(1);
    expect(out.error).toEqual({ errorMessage: 'Function timed out after 1 seconds' });
    expect(out.logs).toMatch(/\[VERBOSE\] hello world/);
    expect(out.durationMs).toBeGreaterThanOrEqual(1000);
  });

  it('explains handler-loading errors', async () => {
    expect((await invoke('missing-module')).out).toMatchObject({
      errorType: 'UnhandledInvocationError',
      error: { errorMessage: "Module 'nope' is missing" },
    });
    expect((await invoke('missing-handler')).out.error).toMatchObject({ errorMessage: "Handler 'nope' is missing on module 'index'" });
    const syntax = (await invoke('syntax-error')).out;
    expect(syntax.errorType).toBe('UnhandledInvocationError');
    expect(syntax.error).toMatchObject({ errorMessage: 'missing ) after argument list', errorType: 'SyntaxError' });
    expect(syntax.error!.stackTrace![0]).toBe(`${path.join(CODE, 'broken.js')}:2`);
  });

  it('runs the initializer once before the first invocation', async () => {
    const { out } = await invoke('initialized');
    expect(JSON.parse(out.result!)).toMatchObject({ invocations: 1, initialized: 1 });
    expect(out.logs).toMatch(/^FC Initialize Start RequestId: .*\n.*\[VERBOSE\] initializing initialized .*\nFC Initialize End RequestId: .*\nFC Invoke Start/);
    const failed = await invoke('init-fails');
    expect(failed.out.errorType).toBe('HandledInvocationError');
    expect(failed.out.error).toMatchObject({ errorMessage: 'init failed' });
  });

  it("resolves FC's built-in modules without installing them", async () => {
    expect(JSON.parse((await invoke('builtins')).out.result!)).toEqual({ rawBody: 'function', body: 'function', co: 'function' });
  });

  it('reports duration, billed duration and memory', async () => {
    const { out } = await invoke('echo', 'x');
    expect(out.billedDurationMs % 100).toBe(0);
    expect(out.billedDurationMs).toBeGreaterThanOrEqual(out.durationMs);
    expect(out.maxMemoryUsedMB).toBeGreaterThan(10);
  });

  it('exits 2 for usage and template errors', async () => {
    const unknown = await runCli(['invoke', 'node-svc/nope', '-t', TPL]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no function node-svc\/nope in the template/);
    const bad = await runCli(['invoke', 'x', '-t', 'fixtures/templates/five-mistakes.yml']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/five-mistakes\.yml:6:18: /);
    const both = await runCli(['invoke', 'echo', '-t', TPL, '-e', '-', '--event', 'x']);
    expect(both.exitCode).toBe(2);
  });
});

describe(`warm instances [${backend.label}]`, () => {
  let tpl: Template;
  let rt: Runtime;
  const fn = (name: string) => findFunction(tpl, 'node-svc', name)!;

  beforeAll(async () => {
    tpl = loadTemplate(fixture('nodejs/fc.yml')).template!;
    const { backend: selected } = await selectBackend(backend.name, { template: tpl, image: backend.image, engine: backend.engine });
    rt = createRuntime({ backend: selected, credentials: { accessKeyId: '', accessKeySecret: '', securityToken: '', source: 'none' }, template: () => tpl });
  });
  afterAll(() => rt.close());

  it('reuses the instance: module state survives between invocations', async () => {
    const a = JSON.parse((await rt.invoker.invokeEvent(fn('counter'), Buffer.alloc(0))).body.toString());
    const b = JSON.parse((await rt.invoker.invokeEvent(fn('counter'), Buffer.alloc(0))).body.toString());
    expect(b.instance).toBe(a.instance);
    expect(b.invocations).toBe(a.invocations + 1);
  });

  it('runs the initializer once per instance', async () => {
    const first = await rt.invoker.invokeEvent(fn('initialized'), Buffer.alloc(0));
    const second = await rt.invoker.invokeEvent(fn('initialized'), Buffer.alloc(0));
    expect(JSON.parse(second.body.toString())).toMatchObject({ invocations: 2, initialized: 1 });
    expect(first.coldStart).toBe(true);
    expect(second.coldStart).toBe(false);
    expect(second.logs.join('\n')).not.toMatch(/Initialize/);
  });

  it('serves parallel requests from separate instances', async () => {
    // A request takes the first instance free or ready: each holds its instance longer than a
    // start takes here, so that the others cannot all wait for the first one.
    const hold = String(scaled(3000));
    const outs = await Promise.all([1, 2, 3].map(() => rt.invoker.invokeEvent(fn('slow-long'), Buffer.from(hold))));
    expect(outs.map((o) => o.body.toString())).toEqual(['slow done', 'slow done', 'slow done']);
    expect(rt.pools.pool(fn('slow-long')).size).toBeGreaterThanOrEqual(2);
    const logsPerRequest = outs.map((o) => o.logs.filter((l) => l.includes(o.requestId)).length);
    expect(logsPerRequest).toEqual([2, 2, 2]);
  });

  it('replaces an instance after a timeout or a crash, and the next request works', async () => {
    const instanceId = async () => JSON.parse((await rt.invoker.invokeEvent(fn('counter'), Buffer.alloc(0))).body.toString()).instance as string;
    const before = await instanceId();
    const pool = rt.pools.pool(fn('counter'));
    const inst = [...(pool as unknown as { instances: Set<{ handle: { stop(): Promise<void> } }> }).instances][0]!;
    await inst.handle.stop(); // killed from outside
    const after = await instanceId();
    expect(after).not.toBe(before);

    const timedOut = await rt.invoker.invokeEvent(fn('never'), Buffer.alloc(0));
    expect(timedOut.errorType).toBe('UnhandledInvocationError');
    expect(rt.pools.pool(fn('never')).size).toBe(0);

    const crashed = await rt.invoker.invokeEvent(fn('throws'), Buffer.alloc(0));
    expect(JSON.parse(crashed.body.toString())).toEqual({ errorMessage: 'Process exited unexpectedly before completing request' });
    expect(rt.pools.pool(fn('throws')).size).toBe(0);
  });
});
}

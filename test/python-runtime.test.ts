import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli } from './helpers/cli.js';
import { ENGINES } from './helpers/backends.js';
import { startServer, type RunningServer } from './helpers/server.js';

const TPL = 'fixtures/python/fc.yml';
const ENV = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'py-key', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'py-secret', ALIBABA_CLOUD_SECURITY_TOKEN: 'py-token' };

interface JsonOut {
  requestId: string;
  result?: string;
  error?: { errorMessage: string; errorType?: string; stackTrace?: unknown[] };
  errorType?: string;
  logs: string;
}

for (const backend of ENGINES) {
  const CODE = backend.codeDir(fixture('python'));
  const invoke = async (fn: string, event?: string) => {
    const args = ['invoke', `py-svc/${fn}`, '-t', TPL, '--json', ...backend.args];
    if (event !== undefined) args.push('--event', event);
    const r = await runCli(args, { env: ENV });
    return { out: JSON.parse(String(r.stdout)) as JsonOut, exitCode: r.exitCode };
  };

  // One CLI run per test: on the other engines (a copy per run, Podman's slow starts) only the suites that keep an emulator up run.
  describe.skipIf(backend.engine !== undefined)(`Python runtime through \`fc-local invoke\` [${backend.label}]`, () => {
    it('passes the event as bytes and returns bytes raw', async () => {
      expect((await invoke('echo', 'raw bytes')).out.result).toBe('raw bytes');
      expect(JSON.parse((await invoke('is-bytes', 'x')).out.result!)).toEqual({ type: 'bytes' });
    });

    it('returns str as is, dict and list as JSON, other values as str', async () => {
      expect(JSON.parse((await invoke('types', 'dict')).out.result!)).toEqual({ a: 1 });
      expect((await invoke('types', 'list')).out.result).toBe('[1, 2]');
      expect((await invoke('types', 'str')).out.result).toBe('text');
      expect((await invoke('types', 'int')).out.result).toBe('42');
      expect((await invoke('types', 'float')).out.result).toBe('1.5');
      expect((await invoke('types', 'bool')).out.result).toBe('True');
    });

    it('gives the FCContext with snake_case and camelCase names', async () => {
      const { out } = await invoke('context');
      expect(JSON.parse(out.result!)).toEqual({
        request_id: out.requestId,
        requestId: out.requestId,
        credentials: ['py-key', 'py-secret', 'py-token', 'py-key'],
        function: ['context', 'main.context_info', 128, 5],
        service: ['py-svc', 'test-project', 'test-store'],
        region: 'cn-shanghai',
        account_id: '1234567890123456',
      });
    });

    it('puts the code dir in FC_FUNC_CODE_PATH, the cwd and sys.path', async () => {
      expect(JSON.parse((await invoke('env')).out.result!)).toEqual({ codePath: CODE, cwd: CODE, greeting: 'hi there', vendored: 'vendored ok', inPath: true });
    });

    it('formats root-logger lines as FC does and prints print() raw between the markers', async () => {
      const { out } = await invoke('logs');
      const id = out.requestId;
      const lines = out.logs.split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'TS '));
      expect(lines).toEqual([
        `FC Invoke Start RequestId: ${id}`,
        `TS ${id} [INFO] hello world`,
        `TS ${id} [WARNING] careful`,
        'raw print line',
        `FC Invoke End RequestId: ${id}`,
      ]);
    });

    it("maps an exception to UnhandledInvocationError with the guide's stackTrace", async () => {
      const { out, exitCode } = await invoke('my-handler');
      expect(exitCode).toBe(1);
      expect(out.errorType).toBe('UnhandledInvocationError');
      expect(out.error).toEqual({
        errorMessage: 'something is wrong',
        errorType: 'Exception',
        stackTrace: [[`File "${path.join(CODE, 'main.py')}"`, expect.stringMatching(/^line \d+$/), 'in my_handler', "raise Exception('something is wrong')"]],
      });
    });

    it('explains import errors, missing handlers and syntax errors', async () => {
      expect((await invoke('missing-module')).out.error).toEqual({ errorMessage: "Module 'nope' is missing", errorType: 'ModuleNotFound' });
      expect((await invoke('missing-handler')).out.error).toEqual({ errorMessage: "Handler 'nope' is missing on module 'main'", errorType: 'HandlerNotFound' });
      const syntax = (await invoke('syntax-error')).out;
      expect(syntax.errorType).toBe('UnhandledInvocationError');
      expect(syntax.error).toMatchObject({ errorType: 'SyntaxError', stackTrace: [[`File "${path.join(CODE, 'broken.py')}"`, 'line 1', 'in <module>', 'def handler(event, context)']] });
    });

    it('maps a crash and a timeout like the Node.js runtime', async () => {
      expect((await invoke('exits')).out.error).toEqual({ errorMessage: 'Process exited unexpectedly before completing request' });
      expect((await invoke('never')).out.error).toEqual({ errorMessage: 'Function timed out after 1 seconds' });
    });

    it('runs the initializer once per instance, and reports its failure', async () => {
      const { out } = await invoke('initialized');
      expect(JSON.parse(out.result!)).toMatchObject({ invocations: 1, initialized: 1 });
      expect(out.logs).toMatch(/^FC Initialize Start RequestId: .*\n.*\[INFO\] initializing initialized\nFC Initialize End/);
      const failed = await invoke('init-fails');
      expect(failed.out.errorType).toBe('UnhandledInvocationError');
      expect(failed.out.error).toMatchObject({ errorMessage: 'init failed', errorType: 'ValueError' });
    });

    it('runs python3.x runtimes on the python3 there is', async () => {
      expect((await invoke('py39', 'x')).out.result).toBe('x');
    });
  });

  describe(`Python WSGI HTTP functions and warm instances through \`fc-local start\` [${backend.label}]`, () => {
    let srv: RunningServer;
    beforeAll(async () => {
      srv = await startServer(['-t', TPL, '--no-auth', ...backend.args], ENV);
    });
    afterAll(() => srv.stop());

    it('gives the WSGI app the usual environ plus fc.context and fc.request_uri', async () => {
      const r = await fetch(`${srv.base}/2016-08-15/proxy/py-svc/wsgi/a%20b/c?x=1&y=2`, {
        method: 'POST',
        body: 'wsgi body',
        headers: { 'content-type': 'text/plain', 'x-user': 'u', 'x-fc-forged': 'client' },
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('x-custom')).toBe('yes');
      expect(r.headers.get('x-fc-forged')).toBeNull();
      const env = await r.json();
      expect(env).toMatchObject({
        REQUEST_METHOD: 'POST',
        PATH_INFO: '/a b/c',
        QUERY_STRING: 'x=1&y=2',
        CONTENT_LENGTH: '9',
        CONTENT_TYPE: 'text/plain',
        REMOTE_ADDR: '127.0.0.1',
        body: 'wsgi body',
        request_id: r.headers.get('x-fc-request-id'),
        request_uri: '/2016-08-15/proxy/py-svc/wsgi/a%20b/c?x=1&y=2',
        has_input: true,
      });
      expect(env.HTTP.HTTP_X_USER).toBe('u');
      expect(Object.keys(env.HTTP).filter((k) => k.startsWith('HTTP_X_FC_'))).toEqual([]);
    });

    it('answers 502 when the WSGI app raises', async () => {
      const r = await fetch(`${srv.base}/2016-08-15/proxy/py-svc/wsgi-fails/`);
      expect(r.status).toBe(502);
      expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
      expect(await r.json()).toMatchObject({ errorMessage: 'wsgi oops', errorType: 'RuntimeError' });
    });

    it('keeps the instance warm: module state survives, an exception does not end it', async () => {
      const call = async (fn: string) => fetch(`${srv.base}/2016-08-15/services/py-svc/functions/${fn}/invocations`, { method: 'POST' });
      const a = await (await call('counter')).json();
      const b = await (await call('counter')).json();
      expect(b.instance).toBe(a.instance);
      expect(b.invocations).toBe(a.invocations + 1);
    });
  });
}

describe('python2.7', () => {
  it('names the missing interpreter clearly, and where it looked', async () => {
    const nowhere = mkdtempSync(path.join(os.tmpdir(), 'fc-local-no-pyenv-'));
    const r = await runCli(['invoke', 'py-svc/py27', '-t', TPL, '--json', '--backend', 'process'], { env: { PATH: '/usr/bin:/bin', PYENV_ROOT: nowhere, HOME: nowhere } });
    const out = JSON.parse(String(r.stdout)) as JsonOut;
    expect(out.errorType).toBe('UnhandledInvocationError');
    expect(out.error!.errorMessage).toMatch(/the python2\.7 runtime for py-svc\/py27 needs a Python 2\.7 interpreter, and there is none: looked for python2\.7 and python2 on PATH, and pyenv's .*versions\/2\.7\.\*/);
    expect(out.error!.errorMessage).not.toMatch(/pyenv: /);
  });
});

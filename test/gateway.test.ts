import FC from '@alicloud/fc2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign, stringToSign } from '../src/gateway/signature.js';
import { startServer, TEST_CREDENTIALS, type RunningServer } from './helpers/server.js';
import { ENGINES } from './helpers/backends.js';

const TPL = 'fixtures/nodejs/fc.yml';
const KEY = TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID;
const SECRET = TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET;

/** Signs a request the way FC's SDKs do, with our own signer. */
function signed(method: string, path: string, headers: Record<string, string> = {}, queries?: Record<string, string | string[]>) {
  const h: Record<string, string> = { date: new Date().toUTCString(), ...headers };
  h.authorization = sign(KEY, SECRET, stringToSign(method, path, h, queries));
  return h;
}

for (const backend of ENGINES) {
describe(`fc-local start [${backend.label}, --no-auth]`, () => {
  let srv: RunningServer;
  const api = (p: string) => `${srv.base}/2016-08-15${p}`;
  const invoke = (fn: string, init: RequestInit = {}) => fetch(api(`/services/node-svc/functions/${fn}/invocations`), { method: 'POST', ...init });
  const proxy = (fn: string, rest = '/', init: RequestInit = {}) => fetch(api(`/proxy/node-svc/${fn}${rest}`), init);

  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', '--async-backoff', '50', '--concurrency', '4', ...backend.args]);
  });
  afterAll(async () => {
    const { exitCode } = await srv.stop();
    expect(exitCode).toBe(0);
  });

  it('prints a banner with the mode and a table of routes', () => {
    const out = srv.output();
    expect(out).toMatch(new RegExp(`backend\\s+${backend.name}`));
    expect(out).toMatch(/auth\s+off \(--no-auth\)/);
    expect(out).toMatch(new RegExp(`POST\\s+${srv.base.replace(/\./g, '\\.')}/2016-08-15/services/node-svc/functions/echo/invocations\\s+node-svc/echo \\(invoke API\\)`));
    expect(out).toMatch(new RegExp(`GET,POST,PUT,DELETE,HEAD\\s+${srv.base.replace(/\./g, '\\.')}/2016-08-15/proxy/node-svc/http/\\s+node-svc/http http trigger 'web' \\(anonymous\\)`));
  });

  describe('invoke API', () => {
    it('returns the result with FC headers', async () => {
      const r = await invoke('echo', { body: 'payload' });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('payload');
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      expect(r.headers.get('x-fc-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers.get('x-fc-code-checksum')).toMatch(/^\d+$/);
      expect(Number(r.headers.get('x-fc-invocation-duration'))).toBeGreaterThan(0);
      expect(Number(r.headers.get('x-fc-max-memory-usage'))).toBeGreaterThan(0);
      expect(r.headers.get('x-fc-error-type')).toBeNull();
      await srv.waitFor(/fc-local node-svc\/echo: instance started in \d+ ms/);
    });

    it('accepts the .LATEST qualifier and rejects others', async () => {
      const ok = await fetch(api('/services/node-svc.LATEST/functions/echo/invocations'), { method: 'POST', body: 'q' });
      expect(await ok.text()).toBe('q');
      const bad = await fetch(api('/services/node-svc.prod/functions/echo/invocations'), { method: 'POST' });
      expect(bad.status).toBe(404);
      expect((await bad.json()).ErrorCode).toBe('AliasNotFound');
    });

    it('streams function logs to stdout prefixed by service/function, and tails them on request', async () => {
      const r = await invoke('logging', { body: 'x', headers: { 'X-Fc-Log-Type': 'Tail' } });
      const id = r.headers.get('x-fc-request-id')!;
      const tail = Buffer.from(r.headers.get('x-fc-log-result')!, 'base64').toString();
      expect(tail).toMatch(new RegExp(`^FC Invoke Start RequestId: ${id}\n.* ${id} \\[ERROR\\] console error 1\n`));
      expect(tail).toContain(`FC Invoke End RequestId: ${id}`);
      await srv.waitFor(new RegExp(`node-svc/logging .* ${id} \\[WARN\\] console warn 2`));
    });

    it('prints FC Invoke Start and End around an HTTP function\'s lines, and alone for one that prints nothing', async () => {
      const quiet = await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http/q`);
      const qid = quiet.headers.get('x-fc-request-id')!;
      expect(quiet.headers.get('x-fc-local-logged')).toBeNull();
      await srv.waitFor(new RegExp(`node-svc/http FC Invoke Start RequestId: ${qid}\nnode-svc/http FC Invoke End RequestId: ${qid}\n`));
      const loud = await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http-logs/`);
      expect(await loud.text()).toBe('logged');
      const id = loud.headers.get('x-fc-request-id')!;
      await srv.waitFor(
        new RegExp(`node-svc/http-logs FC Invoke Start RequestId: ${id}\nnode-svc/http-logs .* ${id} \\[VERBOSE\\] http says one\nnode-svc/http-logs raw two\nnode-svc/http-logs FC Invoke End RequestId: ${id}\n`),
      );
    });

    it('answers function errors with 200, X-Fc-Error-Type and the error JSON', async () => {
      const handled = await invoke('handled');
      expect(handled.status).toBe(200);
      expect(handled.headers.get('x-fc-error-type')).toBe('HandledInvocationError');
      expect(await handled.json()).toMatchObject({ errorMessage: 'oops', errorType: 'Error' });
      const crashed = await invoke('throws');
      expect(crashed.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
      expect(await crashed.json()).toEqual({ errorMessage: 'Process exited unexpectedly before completing request' });
      // The exit itself, or fc-local replacing the instance before the engine reported it.
      await srv.waitFor(/fc-local node-svc\/throws: instance (exited \(code \d+\)|ended \(it crashed, timed out or failed to initialize\)); the next request starts another/);
    });

    it('accepts async invocations with 202 and runs them in the background, retrying failures', async () => {
      const ok = await invoke('logging', { body: 'async-body', headers: { 'X-Fc-Invocation-Type': 'Async' } });
      expect(ok.status).toBe(202);
      const okId = ok.headers.get('x-fc-request-id')!;
      await srv.waitFor(new RegExp(`node-svc/logging FC Invoke End RequestId: ${okId}`));

      const bad = await invoke('handled', { headers: { 'X-Fc-Invocation-Type': 'Async' } });
      expect(bad.status).toBe(202);
      const badId = bad.headers.get('x-fc-request-id')!;
      await srv.waitFor(new RegExp(`async node-svc/handled ${badId}: HandledInvocationError; retry 1/3 in 50 ms`));
      await srv.waitFor(new RegExp(`async node-svc/handled ${badId}: failed after 4 attempts`));
    });

    it('enforces the payload limits: 6 MB sync, 128 KB async', async () => {
      const big = await invoke('echo', { body: Buffer.alloc(6 * 1024 * 1024 + 1) });
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ ErrorCode: 'EntityTooLarge' });
      const asyncBig = await invoke('echo', { body: Buffer.alloc(128 * 1024 + 1), headers: { 'X-Fc-Invocation-Type': 'Async' } });
      expect(asyncBig.status).toBe(413);
      const exactly = await invoke('echo', { body: Buffer.alloc(6 * 1024 * 1024, 'z') });
      expect(exactly.status).toBe(200);
      expect((await exactly.arrayBuffer()).byteLength).toBe(6 * 1024 * 1024);
    });

    it('answers unknown services, functions and bad headers with FC system errors', async () => {
      const svc = await fetch(api('/services/nope/functions/echo/invocations'), { method: 'POST' });
      expect(svc.status).toBe(404);
      expect(svc.headers.get('x-fc-request-id')).toBeTruthy();
      expect(await svc.json()).toEqual({ ErrorCode: 'ServiceNotFound', ErrorMessage: "Service 'nope' does not exist" });
      const fn = await invoke('nope');
      expect(await fn.json()).toMatchObject({ ErrorCode: 'FunctionNotFound' });
      const type = await invoke('echo', { headers: { 'X-Fc-Invocation-Type': 'Later' } });
      expect(type.status).toBe(400);
      expect(await type.json()).toMatchObject({ ErrorCode: 'InvalidArgument' });
      const create = await fetch(api('/services'), { method: 'POST', body: '{}' });
      expect(create.status).toBe(501);
    });

    it('throttles past the concurrency limit with 429', async () => {
      const results = await Promise.all(Array.from({ length: 6 }, () => invoke('slow', { body: '700' })));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      const throttled = results.find((r) => r.status === 429)!;
      expect(await throttled.json()).toMatchObject({ ErrorCode: 'ResourceThrottled' });
    });
  });

  describe('management API', () => {
    it('lists services and gets one with FC field names', async () => {
      const list = await (await fetch(api('/services'))).json();
      expect(list.services.map((s: { serviceName: string }) => s.serviceName)).toEqual(['node-svc']);
      const svc = await (await fetch(api('/services/node-svc'))).json();
      expect(svc).toMatchObject({ serviceName: 'node-svc', logConfig: { project: 'test-project', logstore: 'test-store' } });
      expect(svc.createdTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('pages functions with limit, nextToken, prefix and startKey', async () => {
      const p1 = await (await fetch(api('/services/node-svc/functions?limit=2'))).json();
      expect(p1.functions.map((f: { functionName: string }) => f.functionName)).toEqual(['async-reject', 'async-value']);
      expect(p1.nextToken).toBe('big');
      const p2 = await (await fetch(api(`/services/node-svc/functions?limit=2&nextToken=${p1.nextToken}`))).json();
      expect(p2.functions.map((f: { functionName: string }) => f.functionName)).toEqual(['big', 'builtins']);
      const pre = await (await fetch(api('/services/node-svc/functions?prefix=http-b'))).json();
      expect(pre.functions.map((f: { functionName: string }) => f.functionName)).toEqual(['http-big', 'http-big-headers']);
      expect(pre.nextToken).toBeUndefined();
      const sk = await (await fetch(api('/services/node-svc/functions?startKey=throws&limit=5'))).json();
      expect(sk.functions.map((f: { functionName: string }) => f.functionName)).toEqual(['throws', 'twice']);
      const bad = await fetch(api('/services/node-svc/functions?limit=0'));
      expect(bad.status).toBe(400);
    });

    it('gets a function and its triggers', async () => {
      const f = await (await fetch(api('/services/node-svc/functions/env'))).json();
      expect(f).toMatchObject({
        functionName: 'env', runtime: 'nodejs18', handler: 'index.env', memorySize: 128, timeout: 3,
        environmentVariables: { GREETING: 'hi there' }, codeChecksum: expect.stringMatching(/^\d+$/),
      });
      const t = await (await fetch(api('/services/node-svc/functions/http-signed/triggers'))).json();
      expect(t.triggers).toEqual([
        expect.objectContaining({ triggerName: 'web', triggerType: 'http', triggerConfig: { authType: 'function', methods: ['GET', 'POST'] } }),
      ]);
      const one = await (await fetch(api('/services/node-svc/functions/http-signed/triggers/web'))).json();
      expect(one.triggerName).toBe('web');
      const missing = await fetch(api('/services/node-svc/functions/http-signed/triggers/nope'));
      expect(missing.status).toBe(404);
      expect((await missing.json()).ErrorCode).toBe('TriggerNotFound');
    });
  });

  describe('HTTP triggers', () => {
    it("gives the function FC's request object and applies its response", async () => {
      const r = await proxy('http', '/some/path%20x?a=1&a=2&b=x', {
        method: 'POST',
        body: 'hello body',
        headers: { 'content-type': 'text/plain', 'x-fc-forged': 'client', 'x-user': 'u' },
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('x-custom')).toBe('yes');
      expect(r.headers.get('x-removed')).toBeNull();
      expect(r.headers.get('x-fc-forged')).toBeNull();
      expect(r.headers.get('server')).toBeNull();
      const id = r.headers.get('x-fc-request-id');
      const body = await r.json();
      expect(body).toMatchObject({
        method: 'POST',
        path: '/some/path x',
        url: '/2016-08-15/proxy/node-svc/http/some/path%20x?a=1&a=2&b=x',
        queries: { a: ['1', '2'], b: 'x' },
        body: 'hello body',
        clientIP: '127.0.0.1',
        requestId: id,
      });
      expect(body.headers['x-user']).toBe('u');
      expect(body.headers['content-type']).toBe('text/plain');
      expect(Object.keys(body.headers).filter((k) => k.startsWith('x-fc-') || k === 'accept-encoding' || k === 'connection')).toEqual([]);
    });

    it('serves the function root, HEAD, and streamed bodies', async () => {
      const root = await (await proxy('http')).json();
      expect(root.path).toBe('/');
      const head = await proxy('http', '/', { method: 'HEAD' });
      expect(head.status).toBe(201);
      expect(await head.text()).toBe('');
      const stream = await proxy('http-stream');
      expect(await stream.text()).toBe('streamed body');
    });

    it('answers 403 for a method the trigger does not allow and 404 without an HTTP trigger', async () => {
      const m = await proxy('http-get-only', '/', { method: 'POST', body: 'x' });
      expect(m.status).toBe(403);
      expect(m.headers.get('x-fc-error-type')).toBe('FcCommonError');
      expect(await m.json()).toMatchObject({ ErrorCode: 'MethodNotAllowed' });
      const none = await proxy('echo');
      expect(none.status).toBe(404);
      expect(await none.json()).toMatchObject({ ErrorCode: 'TriggerNotFound' });
      const fn = await proxy('nope');
      expect(fn.status).toBe(404);
    });

    it('rejects requests over the limits with 400 InvalidArgument', async () => {
      const headers = await proxy('http', '/', { headers: { 'x-big': 'h'.repeat(4200) } });
      expect(headers.status).toBe(400);
      expect(await headers.json()).toMatchObject({ ErrorCode: 'InvalidArgument' });
      const body = await proxy('http', '/', { method: 'POST', body: Buffer.alloc(6 * 1024 * 1024 + 10) });
      expect(body.status).toBe(400);
      const longPath = await proxy('http', `/${'p'.repeat(4200)}`);
      expect(longPath.status).toBe(400);
    });

    it('answers 502 for function failures and oversized responses', async () => {
      const thrown = await proxy('http-throws');
      expect(thrown.status).toBe(502);
      expect(thrown.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
      expect(await thrown.json()).toEqual({ errorMessage: 'Process exited unexpectedly before completing request' });
      const missing = await proxy('http-missing');
      expect(missing.status).toBe(502);
      expect(await missing.json()).toMatchObject({ errorMessage: "Module 'nope' is missing" });
      const big = await proxy('http-big');
      expect(big.status).toBe(502);
      expect(await big.json()).toMatchObject({ ErrorCode: 'BadResponse' });
      // An oversized answer is the function's mistake: the instance stays warm for the next one.
      expect((await proxy('http-big')).status).toBe(502);
      expect(srv.output().match(/node-svc\/http-big: instance started/g)).toHaveLength(1);
      const bigHeaders = await proxy('http-big-headers');
      expect(bigHeaders.status).toBe(502);
      expect(await bigHeaders.json()).toMatchObject({ ErrorCode: 'BadResponse' });
    });

    it('still serves after all of the above', async () => {
      const r = await proxy('http', '/after');
      expect(r.status).toBe(201);
    });
  });
});

describe(`fc-local start with signatures [${backend.label}]`, () => {
  let srv: RunningServer;
  let client: FC;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, ...backend.args]);
    client = new FC('1234567890123456', { accessKeyID: KEY, accessKeySecret: SECRET, region: 'cn-shanghai', endpoint: srv.base, timeout: 20_000 });
  });
  afterAll(() => srv.stop());

  it('says in the banner that signatures are required', () => {
    expect(srv.output()).toMatch(/auth\s+signed requests required .*credentials: environment/);
  });

  it('rejects unsigned, badly signed and stale requests on the API', async () => {
    const url = `${srv.base}/2016-08-15/services`;
    const none = await fetch(url);
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ ErrorCode: 'MissingRequiredHeader' });
    const bad = await fetch(url, { headers: { date: new Date().toUTCString(), authorization: `FC ${KEY}:AAAA` } });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ ErrorCode: 'SignatureNotMatch' });
    const old = new Date(Date.now() - 16 * 60_000).toUTCString();
    const stale = await fetch(url, { headers: { date: old, authorization: sign(KEY, SECRET, stringToSign('GET', '/2016-08-15/services', { date: old })) } });
    expect(stale.status).toBe(403);
    expect(await stale.json()).toMatchObject({ ErrorCode: 'RequestTimeTooSkewed' });
    const ok = await fetch(url, { headers: signed('GET', '/2016-08-15/services') });
    expect(ok.status).toBe(200);
  });

  it('works with the official @alicloud/fc2 client: sync, log tail and errors', async () => {
    const r = await client.invokeFunction('node-svc', 'echo', 'from fc2');
    expect(r.data).toBe('from fc2');
    expect(r.headers['x-fc-request-id']).toBeTruthy();
    const tail = await client.invokeFunction('node-svc', 'logging', 'x', { 'X-Fc-Log-Type': 'Tail' });
    expect(Buffer.from(tail.headers['x-fc-log-result']!, 'base64').toString()).toMatch(/\[ERROR\] console error 1/);
    const failed = await client.invokeFunction('node-svc', 'handled', 'x');
    expect(failed.headers['x-fc-error-type']).toBe('HandledInvocationError');
    expect(JSON.parse(failed.data)).toMatchObject({ errorMessage: 'oops' });
    const qualified = await client.invokeFunction('node-svc', 'echo', 'q', {}, 'LATEST');
    expect(qualified.data).toBe('q');
  });

  it('works with the official @alicloud/fc2 client: async invocation', async () => {
    const r = await client.invokeFunction('node-svc', 'logging', 'async via fc2', { 'X-Fc-Invocation-Type': 'Async' });
    const id = r.headers['x-fc-request-id'];
    await srv.waitFor(new RegExp(`FC Invoke End RequestId: ${id}`));
  });

  it('works with the official @alicloud/fc2 client: management calls and their errors', async () => {
    const services = await client.listServices();
    expect(services.data.services.map((s) => s.serviceName)).toEqual(['node-svc']);
    const fn = await client.getFunction('node-svc', 'env');
    expect(fn.data).toMatchObject({ functionName: 'env', handler: 'index.env' });
    const triggers = await client.listTriggers('node-svc', 'http-signed');
    expect(triggers.data.triggers[0]).toMatchObject({ triggerName: 'web', triggerType: 'http' });
    await expect(client.getFunction('node-svc', 'nope')).rejects.toMatchObject({ code: 'FunctionNotFound', name: 'FCFunctionNotFoundError' });
  });

  it('checks signatures on authType=function HTTP triggers, queries included', async () => {
    const path = '/2016-08-15/proxy/node-svc/http-signed/a b';
    const unsigned = await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http-signed/a%20b?x=1`);
    expect(unsigned.status).toBe(400);
    const wrongQuery = await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http-signed/a%20b?x=2`, { headers: signed('GET', path, {}, { x: '1' }) });
    expect(wrongQuery.status).toBe(403);
    const ok = await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http-signed/a%20b?x=1&y=2&y=3`, { headers: signed('GET', path, {}, { x: '1', y: ['2', '3'] }) });
    expect(ok.status).toBe(201);
    expect((await ok.json()).path).toBe('/a b');
    // Anonymous triggers need no signature even with auth on.
    expect((await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http/`)).status).toBe(201);
  });

  it("signs HTTP-trigger requests with fc2's getSignature and its request()", async () => {
    const date = new Date().toUTCString();
    const headers: Record<string, string> = { date, 'content-type': 'text/plain' };
    headers.authorization = FC.getSignature(KEY, SECRET, 'POST', '/2016-08-15/proxy/node-svc/http-signed/sig', headers, { q: 'v' });
    const r = await fetch(`${srv.base}/2016-08-15/proxy/node-svc/http-signed/sig?q=v`, { method: 'POST', headers, body: 'signed body' });
    expect(r.status).toBe(201);
    expect(await r.json()).toMatchObject({ body: 'signed body', queries: { q: 'v' } });
    const viaClient = await client.post('/proxy/node-svc/http-signed/client', 'client body', {}, { k: 'v' });
    expect(viaClient.data).toMatchObject({ path: '/client', body: 'client body', queries: { k: 'v' } });
  });
});
}

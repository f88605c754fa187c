import * as fc3sdk from '@alicloud/fc20230330';
import { GetFunctionRequest, InvokeFunctionHeaders, InvokeFunctionRequest, ListFunctionsRequest } from '@alicloud/fc20230330';
import * as openSdk from '@alicloud/fc-open20210406';
import { InvokeFunctionRequest as OpenInvokeRequest } from '@alicloud/fc-open20210406';
import { Config } from '@alicloud/openapi-client';
import { RuntimeOptions } from '@darabonba/typescript';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAcs3 } from '../src/gateway/acs3.js';
import { fixture } from './helpers/cli.js';
import { startServer, TEST_CREDENTIALS, type RunningServer } from './helpers/server.js';

// FC 3.0 on the local port, driven by the unchanged official SDKs: @alicloud/fc20230330 (API
// 2023-03-30) and @alicloud/fc-open20210406 (FC 2.0 through 2021-04-06), both signing with
// ACS3-HMAC-SHA256; and FC 3.0 HTTP triggers at function URLs with FC 3.0's HTTP event.

// The SDKs are CommonJS with `exports.default = Client`: the class is one `.default` or two deep
// depending on the loader's interop.
const unwrap = (m: { default: unknown }): unknown => (m.default as { default?: unknown }).default ?? m.default;
const FC3 = unwrap(fc3sdk) as typeof fc3sdk.default.default;
const FCOpen = unwrap(openSdk) as typeof openSdk.default.default;
type FC3 = InstanceType<typeof FC3>;

const KEY = { accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET };
const config = (port: number, secret = KEY.accessKeySecret) => new Config({ accessKeyId: KEY.accessKeyId, accessKeySecret: secret, endpoint: `127.0.0.1:${port}`, protocol: 'http' });
const text = async (s: Readable) => Buffer.concat(await s.toArray()).toString();
const body = (s: string) => Readable.from([Buffer.from(s)]);

/** A raw request to the local port with a Host header (function URLs), optionally ACS3-signed. */
function request(port: number, o: { host: string; method?: string; path: string; body?: Buffer; headers?: Record<string, string>; sign?: boolean; date?: Date; nonce?: string }) {
  const payload = o.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = { host: o.host, 'content-type': 'application/octet-stream', ...o.headers };
  if (o.sign) {
    headers['x-acs-date'] = (o.date ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
    headers['x-acs-signature-nonce'] = o.nonce ?? randomUUID();
    headers['x-acs-content-sha256'] = createHash('sha256').update(payload).digest('hex');
    headers.authorization = signAcs3({ method: o.method ?? 'GET', url: o.path, headers, body: payload }, KEY);
  }
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers: { ...headers, 'content-length': String(payload.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('FC 3.0 API with @alicloud/fc20230330', () => {
  let srv: RunningServer;
  let client: FC3;
  beforeAll(async () => {
    srv = await startServer(['-t', fixture('fc3-api', 's.yaml'), '--backend', 'process', '--async-backoff', '50', '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'fc-local-fc3-'))]);
    client = new FC3(config(srv.port));
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('invokes synchronously, with the log tail and FC 3.0 headers', async () => {
    const r = await client.invokeFunctionWithOptions('echo', new InvokeFunctionRequest({ body: body('hi') }), new InvokeFunctionHeaders({ xFcLogType: 'Tail' }), new RuntimeOptions({}));
    expect(r.statusCode).toBe(200);
    expect(await text(r.body!)).toBe('echo echo: hi');
    const requestId = r.headers!['x-fc-request-id']!;
    expect(Buffer.from(r.headers!['x-fc-log-result']!, 'base64').toString()).toContain(`FC Invoke End RequestId: ${requestId}`);
    expect(r.headers!['x-fc-instance-id']).toBeTruthy();
    expect(r.headers!['x-fc-code-checksum']).toMatch(/^\d+$/);
  });

  it('answers a function error with X-Fc-Error-Type and the error JSON', async () => {
    const r = await client.invokeFunctionWithOptions('echo', new InvokeFunctionRequest({ body: body('fail') }), new InvokeFunctionHeaders({}), new RuntimeOptions({}));
    expect(r.headers!['x-fc-error-type']).toBe('HandledInvocationError');
    expect(JSON.parse(await text(r.body!)).errorMessage).toBe('asked to fail');
  });

  it('accepts an async invocation with its task id', async () => {
    const r = await client.invokeFunctionWithOptions('echo', new InvokeFunctionRequest({ body: body('later') }), new InvokeFunctionHeaders({ xFcInvocationType: 'Async', xFcAsyncTaskId: 'task-1' }), new RuntimeOptions({}));
    expect(r.statusCode).toBe(202);
    expect(r.headers!['x-fc-async-task-id']).toBe('task-1');
    await srv.waitFor(/echo got later/);
  });

  it('gets and lists functions, with prefix and paging', async () => {
    const g = await client.getFunction('echo', new GetFunctionRequest({}));
    expect(g.body).toMatchObject({ functionName: 'echo', runtime: 'nodejs18', handler: 'index.echo', functionArn: 'acs:fc:cn-hangzhou:1234567890123456:functions/echo' });
    const page1 = await client.listFunctions(new ListFunctionsRequest({ prefix: 'echo', limit: 1 }));
    expect(page1.body!.functions!.map((f: { functionName?: string }) => f.functionName)).toEqual(['echo']);
    const page2 = await client.listFunctions(new ListFunctionsRequest({ prefix: 'echo', limit: 1, nextToken: page1.body!.nextToken }));
    expect(page2.body!.functions!.map((f: { functionName?: string }) => f.functionName)).toEqual(['echo2']);
  });

  it('refuses a wrong secret, a skewed date and a replayed nonce, with POP error JSON', async () => {
    const wrong = new FC3(config(srv.port, 'not-the-secret'));
    await expect(wrong.getFunction('echo', new GetFunctionRequest({}))).rejects.toMatchObject({ code: 'SignatureDoesNotMatch', statusCode: 403 });
    const skewed = await request(srv.port, { host: `127.0.0.1:${srv.port}`, path: '/2023-03-30/functions/echo', sign: true, date: new Date(Date.now() - 3_600_000) });
    expect(skewed.status).toBe(403);
    expect(JSON.parse(skewed.body.toString())).toMatchObject({ Code: 'RequestTimeTooSkewed' });
    const once = { host: `127.0.0.1:${srv.port}`, path: '/2023-03-30/functions/echo', sign: true, nonce: 'same-nonce' };
    expect((await request(srv.port, once)).status).toBe(200);
    const replay = await request(srv.port, once);
    expect(replay.status).toBe(403);
    expect(JSON.parse(replay.body.toString()).Code).toBe('SignatureNonceUsed');
    const unsigned = await request(srv.port, { host: `127.0.0.1:${srv.port}`, path: '/2023-03-30/functions/echo' });
    expect(unsigned.status).toBe(400);
  });

  it("gives FC 3.0's HTTP event to a built-in runtime at the function URL, and maps its answer", async () => {
    const r = await request(srv.port, { host: `web.localhost:${srv.port}`, path: '/deep/path?a=1&b=two', headers: { 'user-agent': 'probe/1' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-custom']).toBe('yes');
    expect(JSON.parse(r.body.toString())).toEqual({ rawPath: '/deep/path', query: { a: '1', b: 'two' }, method: 'GET', isBase64Encoded: false, body: '', ua: 'probe/1' });
    const binary = Buffer.from([0, 1, 2, 255]);
    const posted = JSON.parse((await request(srv.port, { host: `web.localhost:${srv.port}`, method: 'POST', path: '/created', body: binary })).body.toString());
    expect(posted).toMatchObject({ isBase64Encoded: true, body: binary.toString('base64') });
    expect((await request(srv.port, { host: `web.localhost:${srv.port}`, method: 'POST', path: '/created', body: binary })).status).toBe(201);
    const plain = await request(srv.port, { host: `web.localhost:${srv.port}`, path: '/plain' });
    expect(plain.body.toString()).toBe('just a string');
  });

  it('checks the ACS3 signature of an authType function trigger', async () => {
    expect((await request(srv.port, { host: `signed.localhost:${srv.port}`, path: '/x' })).status).toBe(401);
    const forged = await request(srv.port, { host: `signed.localhost:${srv.port}`, path: '/x', headers: { authorization: 'ACS3-HMAC-SHA256 Credential=test-key-id,SignedHeaders=host;x-acs-date,Signature=00', 'x-acs-date': new Date().toISOString() } });
    expect(forged.status).toBe(403);
    const ok = await request(srv.port, { host: `signed.localhost:${srv.port}`, path: '/x?y=1', sign: true });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString()).rawPath).toBe('/x');
  });

  it('passes a WebSocket through to a custom runtime at its function URL', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/chat`, { headers: { host: `ws.localhost:${srv.port}` } });
    const answers: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (m) => {
        answers.push(m.toString());
        if (answers.length === 1) ws.send('again');
        else resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(answers[0]).toMatch(/^echo: hello \(pid \d+\)$/);
    expect(answers[1]).toMatch(/^echo: again/);
  });

  it("checks JWTs against the trigger's JWK set (header or query), whatever --no-auth says", async () => {
    const key = await importJWK({"kty":"EC","x":"0eFYxNaSxcFWigtvAQeNL8VqXdmyun-fycCME4uoEWA","y":"4DDQgQQf-Un3yvzXxkv0VqQ1hf8prnhtI6J8pGx_-IQ","crv":"P-256","d":"BycTjt1xu8HK-DSuGL08pvliIf8JfIIT6QLDOwrZTKA","kid":"test-key"}, 'ES256');
    const token = await new SignJWT({ sub: 'user-1' }).setProtectedHeader({ alg: 'ES256', kid: 'test-key' }).setExpirationTime('5m').sign(key);
    const host = `jwt-web.localhost:${srv.port}`;
    expect((await request(srv.port, { host, path: '/me' })).status).toBe(401);
    expect((await request(srv.port, { host, path: '/me', headers: { authorization: 'Bearer not.a.token' } })).status).toBe(401);
    expect((await request(srv.port, { host, path: '/me', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await request(srv.port, { host, path: `/me?token=${token}` })).status).toBe(200);
    const other = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('some-other-secret-of-32-bytes-long!'));
    expect((await request(srv.port, { host, path: '/me', headers: { authorization: `Bearer ${other}` } })).status).toBe(401);
  });

  it('prints the FC 3.0 invoke URL and the function URL in the banner', () => {
    expect(srv.output()).toMatch(new RegExp(`POST\\s+${srv.base.replace(/[.]/g, '\\.')}/2023-03-30/functions/echo/invocations`));
    expect(srv.output()).toMatch(new RegExp(`http://web\\.localhost:${srv.port}/\\s+web http trigger`));
  });
});

describe('FC 2.0 through API 2021-04-06 with @alicloud/fc-open20210406', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', fixture('nodejs', 'fc.yml'), '--backend', 'process', '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'fc-local-fc3-'))]);
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('invokes an FC 2.0 function, and FC 3.0 reaches it as service$function', async () => {
    const open = new FCOpen(config(srv.port));
    const r = await open.invokeFunction('node-svc', 'echo', new OpenInvokeRequest({ body: Buffer.from('from 2021') }));
    expect(r.statusCode).toBe(200);
    expect(Buffer.from(r.body as Buffer).toString()).toBe('from 2021');
    const fc3 = new FC3(config(srv.port));
    const r3 = await fc3.invokeFunctionWithOptions('node-svc$echo', new InvokeFunctionRequest({ body: body('from 3.0') }), new InvokeFunctionHeaders({}), new RuntimeOptions({}));
    expect(await text(r3.body!)).toBe('from 3.0');
  });
});

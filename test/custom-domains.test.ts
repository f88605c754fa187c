import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture, runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Custom domains on the one port, chosen by the Host header: a Node.js HTTP app and a WSGI app
// behind example.com with prefix, exact and method-limited routes and rewrite rules, and an
// `auto` domain.

const TPL = fixture('domains', 'fc.yml');

/** GET/POST with a Host header (fetch may not set Host). */
function request(port: number, host: string, method: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: { host: `${host}:${port}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(BACKENDS)('custom domains [$name]', (backend) => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', ...backend.args]);
  });
  afterAll(async () => {
    await srv.stop();
  });
  const get = (host: string, p: string, method = 'GET') => request(srv.port, host, method, p);

  it('routes a prefix to the Node.js app and rewrites the path with a wildcard rule', async () => {
    const r = await get('example.com', '/api/users/7?verbose=1');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ app: 'node', method: 'GET', path: '/users/7', queries: { verbose: '1' } });
  });

  it('routes another prefix to the WSGI app with the path as it came, at <domain>.localhost too', async () => {
    const r = await get('example.com.localhost', '/py/hello?x=2');
    expect(JSON.parse(r.body)).toEqual({ app: 'wsgi', method: 'GET', path: '/py/hello', query: 'x=2' });
  });

  it('prefers an exact route and applies its equal rule', async () => {
    expect(JSON.parse((await get('example.com', '/')).body)).toMatchObject({ app: 'node', path: '/index.html' });
  });

  it('takes the longest prefix whose methods allow the request', async () => {
    // /api/admin/* takes GET only (no rewrite); a POST falls back to /api/* (rewritten).
    expect(JSON.parse((await get('example.com', '/api/admin/x')).body)).toMatchObject({ path: '/api/admin/x' });
    expect(JSON.parse((await get('example.com', '/api/admin/x', 'POST')).body)).toMatchObject({ method: 'POST', path: '/admin/x' });
  });

  it("answers FC's 404 JSON for a path no route takes", async () => {
    const r = await get('example.com', '/nothing');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).ErrorCode).toBe('PathNotFound');
  });

  it('serves an auto domain at <function>.<service>.localhost', async () => {
    expect(JSON.parse((await get('web.domains.localhost', '/deep/path')).body)).toMatchObject({ app: 'node', path: '/deep/path' });
  });

  it('leaves the API and triggers on 127.0.0.1, lists the domains and prints them in the banner', async () => {
    const list = await (await fetch(`${srv.base}/2016-08-15/custom-domains`)).json();
    expect(list.customDomains.map((d: { domainName: string }) => d.domainName)).toEqual(['auto', 'example.com']);
    expect(srv.output()).toMatch(new RegExp(`http://example\\.com\\.localhost:${srv.port}/api/\\*\\s+domains/web`));
  });
});

describe('custom domains in templates', () => {
  it("reads Funcraft's Aliyun::Serverless::CustomDomain", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-fun-domain-'));
    writeFileSync(
      path.join(dir, 'template.yml'),
      `ROSTemplateFormatVersion: '2015-09-01'
Transform: 'Aliyun::Serverless-2018-04-03'
Resources:
  svc:
    Type: 'Aliyun::Serverless::Service'
    fn:
      Type: 'Aliyun::Serverless::Function'
      Properties: { Handler: index.handler, Runtime: nodejs18, CodeUri: ./ }
  my.example.com:
    Type: 'Aliyun::Serverless::CustomDomain'
    Properties:
      Protocol: HTTP
      RouteConfig:
        Routes:
          '/*': { ServiceName: svc, FunctionName: fn }
          '/nope': { ServiceName: svc, FunctionName: missing }
`,
    );
    const r = await runCli(['validate', '-t', path.join(dir, 'template.yml')]);
    expect(r.stderr).toMatch(/route \/nope of my\.example\.com targets svc\/missing, which is not in the template/);
  });
});

import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture, runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Serverless Devs projects as they are: s.yaml of edition 3.0.0 (fc3) and 1.0.0 (fc), written
// from the `s` tool's documented format, through validate, invoke and start.

const FC3 = fixture('sdevs', 'fc3', 's.yaml');
const FC2 = fixture('sdevs', 'fc2', 's.yaml');
const ENV = { FC_LOCAL_TEST_SECRET: 'from-the-environment' };
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'fc-local-sdevs-'));

function get(port: number, host: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, headers: { host: `${host}:${port}` } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

describe('s.yaml: validate', () => {
  it('loads both editions, naming the format', async () => {
    const fc3 = await runCli(['validate', '-t', FC3]);
    expect(fc3.stdout).toMatch(/valid \(Serverless Devs s\.yaml format, 0 services, 4 functions, 4 triggers\)/);
    expect(fc3.stderr).toMatch(/s\.yaml:\d+:\d+: warning: \$\{resources\.web\.output\.url\} is a deploy output with no local value/);
    const fc2 = await runCli(['validate', '-t', FC2], { env: ENV });
    expect(fc2.stdout).toMatch(/valid \(Serverless Devs s\.yaml format, 1 services, 3 functions, 2 triggers\)/);
  });

  it('finds s.yaml without -t', async () => {
    const r = await runCli(['validate'], { cwd: path.dirname(FC3) });
    expect(r.stdout).toMatch(/^s\.yaml: valid/);
  });

  it('reports five mistakes at once, each at its position', async () => {
    const dir = tmp();
    cpSync(path.dirname(FC3), dir, { recursive: true });
    writeFileSync(
      path.join(dir, 's.yaml'),
      `edition: 3.0.0
name: broken
resources:
  fn:
    component: fc3
    props:
      region: \${vars.nope}
      functionName: "{{ functionName }}"
      runtime: nodejs99
      code: ./code
      handler: index.handler
      memorySzie: 128
      environmentVariables:
        A: \${env('FC_LOCAL_SURELY_UNSET')}
`,
    );
    const r = await runCli(['validate', '-t', path.join(dir, 's.yaml')]);
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr).split('\n').filter((l: string) => /s\.yaml:\d+:\d+:/.test(l));
    expect(lines).toHaveLength(5);
    expect(r.stderr).toMatch(/s\.yaml:7:15: \$\{vars\.nope\}: no such variable in vars/);
    expect(r.stderr).toMatch(/s\.yaml:8:21: '\{\{ functionName \}\}' is an `s init` placeholder that was never filled/);
    expect(r.stderr).toMatch(/s\.yaml:9:16: .*runtime must be one of/);
    expect(r.stderr).toMatch(/s\.yaml:12:7: unknown key 'memorySzie'/);
    expect(r.stderr).toMatch(/s\.yaml:14:12: \$\{env\('FC_LOCAL_SURELY_UNSET'\)\}: the environment variable FC_LOCAL_SURELY_UNSET is not set/);
  });
});

describe('s.yaml edition 3 (fc3): invoke', () => {
  it('resolves every variable form: vars, env with .env and default, config, path, file, json, resources, this, extend', async () => {
    const r = await runCli(['invoke', 'hello', '-t', FC3, '--event', 'x', '--backend', 'process']);
    const out = JSON.parse(String(r.stdout));
    expect(out).toMatchObject({ fn: 'hello', service: '', initialized: true, memory: 256, event: 'x' });
    expect(out.env).toEqual({
      GREETING: 'hello from .env',
      STAGE: 'dev',
      ACCOUNT: '1234567890123456',
      CODE_DIR: path.join(path.dirname(FC3), 'code'),
      SETTINGS: '{"feature":true}',
      SIBLING: 'worker',
      SELF: 'index.handler',
    });
  });
});

describe.each(BACKENDS)('s.yaml under start [$name]', (backend) => {
  let fc3: RunningServer;
  let fc2: RunningServer;
  beforeAll(async () => {
    const dirs = (d: string) => ['--oss-dir', path.join(d, 'oss'), '--log-dir', path.join(d, 'log'), '--state-dir', path.join(d, 'state')];
    [fc3, fc2] = await Promise.all([
      startServer(['-t', FC3, '--no-auth', ...dirs(tmp()), ...backend.args]),
      startServer(['-t', FC2, '--no-auth', '--async-backoff', '50', ...dirs(tmp()), ...backend.args], ENV),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fc3.stop(), fc2.stop()]);
  });
  const inject = (srv: RunningServer, type: string, body: unknown) =>
    fetch(`${srv.base}/_fc-local/events/${type}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());

  it('fc3: serves the HTTP trigger at the function URL, path as it came', async () => {
    expect(await get(fc3.port, 'web.localhost', '/a/b?c=1')).toBe('web GET /a/b?c=1');
    expect(fc3.output()).toMatch(/GET,POST\s+http:\/\/web\.localhost:\d+\/\s+web http trigger 'http'/);
  });

  it('fc3: routes timer, OSS (lower-case filter) and log events to functions without a service', async () => {
    const timer = await inject(fc3, 'timer', { service: '', function: 'hello', trigger: 'every-day' });
    expect(timer[0]).toMatchObject({ function: 'hello', status: 'succeeded' });
    expect(await inject(fc3, 'oss', { bucket: 'fc3-bucket', key: 'in/a.txt' })).toMatchObject([{ function: 'hello', trigger: 'uploads', status: 'succeeded' }]);
    expect(await inject(fc3, 'oss', { bucket: 'fc3-bucket', key: 'in/a.png' })).toEqual([]);
    expect(await inject(fc3, 'log', { logstore: 'app-logs', records: [{ m: 1 }] })).toMatchObject([{ function: 'worker', status: 'succeeded' }]);
    await fc3.waitFor(/^worker .*WORKER /m);
  });

  it('fc (edition 1): serves the HTTP trigger with variables from the environment and the resource itself', async () => {
    const r = await (await fetch(`${fc2.base}/2016-08-15/proxy/fc2-demo/http-fn/x`)).json();
    expect(r).toEqual({ path: '/x', region: 'cn-shenzhen', secret: 'from-the-environment' });
    expect(JSON.parse(await get(fc2.port, 'http-fn.fc2-demo.localhost', '/y')).path).toBe('/y');
  });

  it('fc (edition 1): routes an OSS event with the capitalised filter, and calls the async destination', async () => {
    expect(await inject(fc2, 'oss', { bucket: 'fc2-bucket', key: 'in/p.png' })).toMatchObject([{ function: 'on-upload', status: 'succeeded' }]);
    expect(await inject(fc2, 'oss', { bucket: 'fc2-bucket', key: 'out/p.png' })).toEqual([]);
    const event = JSON.stringify({ events: [{ oss: { object: { key: 'in/async.png' } } }] });
    const r = await fetch(`${fc2.base}/2016-08-15/services/fc2-demo/functions/on-upload/invocations`, { method: 'POST', body: event, headers: { 'x-fc-invocation-type': 'Async' } });
    expect(r.status).toBe(202);
    const line = await fc2.waitFor(/AUDIT (\{.*\})/);
    const record = JSON.parse(line.slice(6));
    expect(record.requestContext).toMatchObject({ requestId: r.headers.get('x-fc-request-id'), condition: '' });
    expect(JSON.parse(record.responsePayload)).toEqual({ key: 'in/async.png', service: 'fc2-demo', initialized: true });
  });
});

describe.each(BACKENDS)('s.yaml extras with local stand-ins [$name]', (backend) => {
  const dir = tmp();
  cpSync(fixture('sdevs', 'extras'), dir, { recursive: true });
  const TPL = path.join(dir, 's.yaml');
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', '--state-dir', path.join(dir, 'state'), ...backend.args]);
  });
  afterAll(async () => {
    await srv.stop();
  });
  const invoke = (fn: string, body = '') => runCli(['invoke', fn, '-t', TPL, '--event', body, ...backend.args]);

  it('puts a layer mapped in fc-local.json on the module path, and a NAS mount in a folder beside the template', async () => {
    const r = await invoke('layered', `value-${backend.name}`);
    expect(JSON.parse(String(r.stdout))).toEqual({ greeting: 'hello fc, from a layer', stored: `value-${backend.name}` });
    expect((await import('node:fs')).readFileSync(path.join(dir, '.fc-local', 'nas', 'mnt', 'data', 'written.txt'), 'utf8')).toBe(`value-${backend.name}`);
  });

  it('names the fix for a layer with no local copy', async () => {
    const r = await invoke('unmapped');
    expect(String(r.stdout)).toMatch(/layer acs:fc:cn-hangzhou:123:layers\/NotHere\/versions\/3 of unmapped has no local copy: map it in fc-local\.json/);
  });

  it('starts provisionConfig.target instances with the emulator', () => {
    expect(srv.output()).toMatch(/warming 2 x layered/);
    expect(srv.output().match(/layered: instance started/g)?.length).toBe(2);
  });

  // FC counts reserved concurrency in instances: one instance of instanceConcurrency 3 takes three requests at once.
  it('answers 429 beyond concurrencyConfig.reservedConcurrency instances, each taking instanceConcurrency requests', async () => {
    const fc = path.join(dir, 'fc.yml');
    writeFileSync(
      fc,
      'services:\n  s:\n    functions:\n      limited: { runtime: nodejs18, handler: index.slow, codeUri: ./code, concurrencyConfig: { reservedConcurrency: 1 } }\n' +
        '      shared: { runtime: nodejs18, handler: index.slow, codeUri: ./code, instanceConcurrency: 3, concurrencyConfig: { reservedConcurrency: 1 } }\n',
    );
    const own = await startServer(['-t', fc, '--no-auth', '--state-dir', path.join(dir, 'state2'), ...backend.args]);
    try {
      const call = (f = 'limited') => fetch(`${own.base}/2016-08-15/services/s/functions/${f}/invocations`, { method: 'POST' }).then((r) => ({ status: r.status, instance: r.headers.get('x-fc-instance-id') }));
      expect((await Promise.all([call(), call()])).map((r) => r.status).sort()).toEqual([200, 429]);
      expect((await call()).status).toBe(200);
      const four = await Promise.all([call('shared'), call('shared'), call('shared'), call('shared')]);
      expect(four.map((r) => r.status).sort()).toEqual([200, 200, 200, 429]);
      expect(new Set(four.filter((r) => r.status === 200).map((r) => r.instance)).size).toBe(1);
    } finally {
      await own.stop();
    }
  });
});

describe('s.yaml.example', () => {
  it("is fc.yml.example's twin: the same functions and triggers", async () => {
    const { loadTemplate } = await import('../src/template/load.js');
    const a = loadTemplate(path.join(fixture('..'), 'fc.yml.example')).template!;
    const b = loadTemplate(path.join(fixture('..'), 's.yaml.example')).template!;
    const shape = (t: typeof a) => t.services.map((s) => ({ name: s.name, logConfig: s.logConfig, functions: s.functions.map((f) => ({ ...f, asyncConfig: undefined })) }));
    expect(shape(b)).toEqual(shape(a));
  });
});

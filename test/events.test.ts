import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// Every function logs `EVENT <function> <event JSON>`; the tests read what each received.
const CODE = `exports.handler = function (event, context, callback) {
  console.log('EVENT ' + context.function.name + ' ' + event.toString());
  if (context.function.name === 'fails') return callback(new Error('event handler failed'));
  callback(null, 'ok');
};
`;

const fn = (name: string, trigger: string) => `      ${name}:
        runtime: nodejs18
        handler: index.handler
        codeUri: ./code
        triggers:
${trigger}`;

const TEMPLATE = `region: cn-shanghai
accountId: '1234567890123456'
services:
  chain:
    logConfig: { project: p, logstore: chain-logs }
    functions:
${fn('producer', `          never:
            type: timer
            config: { cronExpression: '0 0 0 1 1 *', enable: false }
`)}${fn('consumer', `          feed:
            type: log
            config:
              sourceConfig: { logstore: chain-logs }
              jobConfig: { maxRetryTime: 0, triggerInterval: 3 }
              enable: true
`)}${fn('fails', `          retried:
            type: log
            config:
              sourceConfig: { logstore: retry-store }
              jobConfig: { maxRetryTime: 2, triggerInterval: 3 }
              enable: true
`)}  ev:
    functions:
${fn('ticker', `          tick:
            type: timer
            config: { cronExpression: '* * * * * *', payload: 'tick-payload', enable: true }
`)}${fn('ticker-off', `          tick:
            type: timer
            config: { cronExpression: '* * * * * *', enable: false }
`)}${fn('uploads', `          images:
            type: oss
            sourceArn: acs:oss:cn-shanghai:1234567890123456:photos
            config:
              events: ['oss:ObjectCreated:*', 'oss:ObjectRemoved:DeleteObject']
              filter: { key: { prefix: in/, suffix: .png } }
`)}${fn('logs', `          app:
            type: log
            config:
              sourceConfig: { logstore: app }
              jobConfig: { maxRetryTime: 0, triggerInterval: 3 }
              functionParameter: { mode: test }
              enable: true
`)}${fn('cdn', `          refreshed:
            type: cdn_events
            config: { eventName: CachedObjectsRefreshed, eventVersion: '1.0.0', filter: { domain: [a.example.com] } }
`)}${fn('fails', `          refreshed:
            type: cdn_events
            config: { eventName: CachedObjectsRefreshed, eventVersion: '1.0.0', filter: { domain: [fail.example.com] } }
`)}`;

describe('event sources under fc-local start', () => {
  let dir: string;
  let srv: RunningServer;
  const ossDir = () => path.join(dir, 'buckets');
  const logDir = () => path.join(dir, 'logstores');
  const received = (name: string): Record<string, unknown>[] =>
    [...srv.output().matchAll(new RegExp(`\\[VERBOSE\\] EVENT ${name} (.*)$`, 'gm'))].map((m) => JSON.parse(m[1]!));
  const inject = async (type: string, body: unknown, query = '') => {
    const r = await fetch(`${srv.base}/_fc-local/events/${type}${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  const waitUntil = async (cond: () => boolean, ms = scaled(8000)) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return cond();
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-events-'));
    chmodSync(dir, 0o755);
    mkdirSync(path.join(dir, 'code'));
    writeFileSync(path.join(dir, 'code', 'index.js'), CODE);
    writeFileSync(path.join(dir, 'fc.yml'), TEMPLATE);
    srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--backend', 'process', '--oss-dir', ossDir(), '--log-dir', logDir()]);
  });
  afterAll(async () => {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the event sources in the banner', () => {
    expect(srv.output()).toMatch(/timer {2}ev\/ticker\/tick: \* \* \* \* \* \*\n/);
    expect(srv.output()).toMatch(/timer {2}ev\/ticker-off\/tick: \* \* \* \* \* \* \(disabled\)/);
    expect(srv.output()).toMatch(/log {4}ev\/logs\/app: logstore app every 3s/);
  });

  it('fires an enabled timer every second with the guide\'s event, and never a disabled one', async () => {
    expect(await waitUntil(() => received('ticker').length >= 2)).toBe(true);
    const [e] = received('ticker');
    expect(Object.keys(e!).sort()).toEqual(['payload', 'triggerName', 'triggerTime']);
    expect(e).toMatchObject({ triggerName: 'tick', payload: 'tick-payload' });
    expect(e!.triggerTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(received('ticker-off')).toEqual([]);
  });

  it('fires OSS events for files created and deleted in the bucket folder, filtered by prefix and suffix', async () => {
    mkdirSync(path.join(ossDir(), 'photos', 'in'), { recursive: true });
    mkdirSync(path.join(ossDir(), 'photos', 'out'), { recursive: true });
    writeFileSync(path.join(ossDir(), 'photos', 'in', 'a.jpg'), 'not png');
    writeFileSync(path.join(ossDir(), 'photos', 'out', 'b.png'), 'wrong prefix');
    writeFileSync(path.join(ossDir(), 'photos', 'in', 'c.png'), '12345');
    expect(await waitUntil(() => received('uploads').length >= 1)).toBe(true);
    rmSync(path.join(ossDir(), 'photos', 'in', 'c.png'));
    expect(await waitUntil(() => received('uploads').length >= 2)).toBe(true);
    await new Promise((r) => setTimeout(r, scaled(300)));
    const events = received('uploads').map((e) => (e.events as Record<string, unknown>[])[0]!);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      eventName: 'ObjectCreated:PutObject',
      eventSource: 'acs:oss',
      eventVersion: '1.0',
      region: 'cn-shanghai',
      oss: {
        bucket: { name: 'photos', arn: 'acs:oss:cn-shanghai:1234567890123456:photos', ownerIdentity: '1234567890123456' },
        object: { key: 'in/c.png', size: 5, deltaSize: 5, eTag: expect.stringMatching(/^[0-9A-F]{32}$/) },
      },
    });
    expect(events[1]).toMatchObject({ eventName: 'ObjectRemoved:DeleteObject', oss: { object: { key: 'in/c.png' } } });
  });

  it('injects OSS events through the API, with the invocations in the answer', async () => {
    const hit = await inject('oss', { bucket: 'photos', key: 'in/x.png', size: 7 });
    expect(hit.status).toBe(200);
    expect(hit.body).toEqual([{ service: 'ev', function: 'uploads', trigger: 'images', requestId: expect.any(String), status: 'succeeded' }]);
    expect((await inject('oss', { bucket: 'photos', key: 'in/x.gif' })).body).toEqual([]);
    expect((await inject('oss', { bucket: 'other', key: 'in/x.png' })).body).toEqual([]);
    const bad = await inject('oss', { key: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.ErrorCode).toBe('InvalidArgument');
  });

  it('delivers log records to the Log trigger within its interval, with cursors', async () => {
    const before = received('logs').length;
    const scheduled = await inject('log', { logstore: 'app', records: [{ message: 'first' }] }, '?async=true');
    expect(scheduled.body).toEqual([{ service: 'ev', function: 'logs', trigger: 'app', status: 'scheduled' }]);
    expect(await waitUntil(() => received('logs').length > before, 4500)).toBe(true);
    const e = received('logs').at(-1)!;
    expect(e).toMatchObject({
      parameter: { mode: 'test' },
      source: { endpoint: `${srv.base}/_fc-local/log`, logstoreName: 'app', shardId: 0, beginCursor: Buffer.from('0').toString('base64'), endCursor: Buffer.from('1').toString('base64') },
      jobName: 'ev/logs/app',
    });
    expect(e.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof e.cursorTime).toBe('number');
    // The endpoint serves the records between the cursors.
    const src = e.source as { beginCursor: string; endCursor: string };
    const records = await (await fetch(`${srv.base}/_fc-local/log/app?from=${src.beginCursor}&to=${src.endCursor}`)).json();
    expect(records).toEqual({ records: [{ message: 'first' }] });

    // Records appended to the logstore's JSON-lines file arrive too, after the last cursor.
    mkdirSync(logDir(), { recursive: true });
    appendFileSync(path.join(logDir(), 'app.jsonl'), '{"message":"from file 1"}\n{"message":"from file 2"}\n');
    expect(await waitUntil(() => received('logs').length > before + 1, 4500)).toBe(true);
    expect(received('logs').at(-1)!.source).toMatchObject({ beginCursor: Buffer.from('1').toString('base64'), endCursor: Buffer.from('3').toString('base64') });
  });

  it('sends CDN events to the triggers whose domain filter matches', async () => {
    const hit = await inject('cdn', { eventName: 'CachedObjectsRefreshed', domain: 'a.example.com', objectPath: ['/x.mp4'] });
    expect(hit.body).toEqual([{ service: 'ev', function: 'cdn', trigger: 'refreshed', requestId: expect.any(String), status: 'succeeded' }]);
    // The answer can arrive before the server's output line does.
    expect(await waitUntil(() => received('cdn').length > 0)).toBe(true);
    const e = (received('cdn').at(-1)!.events as Record<string, unknown>[])[0]!;
    expect(e).toMatchObject({ eventName: 'CachedObjectsRefreshed', eventVersion: '1.0.0', eventSource: 'cdn', region: 'cn-shanghai', resource: { domain: 'a.example.com' }, eventParameter: { objectPath: ['/x.mp4'], domain: 'a.example.com', objectType: 'File' } });
    expect(e.eventTime).toMatch(/\+08:00$/);
    expect((await inject('cdn', { eventName: 'CachedObjectsRefreshed', domain: 'b.example.com' })).body).toEqual([]);
    expect((await inject('cdn', { eventName: 'CachedObjectsPushed', domain: 'a.example.com' })).body).toEqual([]);
  });

  it('logs a failed event invocation with its request id and keeps the sources running', async () => {
    const r = await inject('cdn', { eventName: 'CachedObjectsRefreshed', domain: 'fail.example.com' });
    const [fired] = r.body as { requestId: string; status: string; errorType: string }[];
    expect(fired).toMatchObject({ status: 'failed', errorType: 'HandledInvocationError' });
    await srv.waitFor(new RegExp(`event cdn_events trigger ev/fails/refreshed: request ${fired!.requestId} failed: HandledInvocationError .*event handler failed`));
    const ticks = received('ticker').length;
    expect(await waitUntil(() => received('ticker').length > ticks, 3000)).toBe(true);
  });

  it("feeds a service's logstore with its functions' output, so one function's logs trigger another", async () => {
    const r = await fetch(`${srv.base}/2016-08-15/services/chain/functions/producer/invocations`, { method: 'POST', body: 'produced-line' });
    expect(r.status).toBe(200);
    const id = r.headers.get('x-fc-request-id')!;
    expect(await waitUntil(() => received('consumer').length > 0, 4500)).toBe(true);
    const src = received('consumer').at(-1)!.source as { beginCursor: string; endCursor: string; logstoreName: string };
    expect(src.logstoreName).toBe('chain-logs');
    const records = (await (await fetch(`${srv.base}/_fc-local/log/chain-logs?from=${src.beginCursor}&to=${src.endCursor}`)).json()).records as { message: string; functionName: string }[];
    expect(records).toContainEqual({ message: expect.stringContaining(`${id} [VERBOSE] EVENT producer produced-line`), serviceName: 'chain', functionName: 'producer' });
  });

  it('retries a failing Log trigger invocation maxRetryTime times', async () => {
    await inject('log', { logstore: 'retry-store', records: [{ n: 1 }] }, '?async=true');
    expect(await waitUntil(() => (srv.output().match(/event log trigger chain\/fails\/retried: request .* failed: HandledInvocationError/g) ?? []).length >= 3, 5000)).toBe(true);
  });

  it('fires a timer on demand, and emits through the CLI', async () => {
    const now = await inject('timer', { service: 'ev', function: 'ticker-off', trigger: 'tick' });
    expect(now.body).toMatchObject([{ function: 'ticker-off', status: 'succeeded' }]);
    expect(await waitUntil(() => received('ticker-off').length === 1)).toBe(true);
    const cli = await runCli(['events', 'emit', 'cdn', '--port', String(srv.port), '--domain', 'a.example.com']);
    expect(cli.exitCode).toBe(0);
    expect(JSON.parse(String(cli.stdout))).toMatchObject([{ function: 'cdn', status: 'succeeded' }]);
    const missing = await inject('timer', { service: 'ev', function: 'nope', trigger: 'tick' });
    expect(missing.status).toBe(404);
  });
});

describe('fc-local events generate', () => {
  const gen = async (...args: string[]) => {
    const r = await runCli(['events', 'generate', ...args]);
    expect(r.exitCode).toBe(0);
    return JSON.parse(String(r.stdout));
  };

  it('prints each trigger type in the guide\'s shape', async () => {
    expect((await gen('oss', '--key', 'a/b.png')).events[0]).toMatchObject({ eventName: 'ObjectCreated:PutObject', eventSource: 'acs:oss', oss: { bucket: { name: 'my-bucket' }, object: { key: 'a/b.png', size: 1024 }, ossSchemaVersion: '1.0' } });
    expect(Object.keys(await gen('log'))).toEqual(['parameter', 'source', 'jobName', 'taskId', 'cursorTime']);
    expect((await gen('cdn', '--event-name', 'LogFileCreated')).events[0].eventParameter).toMatchObject({ domain: 'www.example.com', fileSize: 0 });
    expect(await gen('timer', '--payload', 'p')).toMatchObject({ triggerName: 'my-timer', payload: 'p' });
    expect(await gen('tablestore')).toMatchObject({ Version: 'Sync-v1', Records: [{ Type: 'PutRow' }] });
    expect(await gen('apigw', '--method', 'POST', '--path', '/x')).toMatchObject({ httpMethod: 'POST', path: '/x', isBase64Encoded: false, pathParameters: {}, queryParameters: {} });
    expect(await gen('datahub')).toMatchObject({ eventSource: 'acs:datahub', eventName: 'acs:datahub:putRecord', records: [{ eventId: '0:12345' }] });
    expect(await gen('iot')).toEqual({ hello: 'world' });
    const bad = await runCli(['events', 'generate', 'nope']);
    expect(bad.exitCode).toBe(2);
  });
});

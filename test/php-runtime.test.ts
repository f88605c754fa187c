import { chmodSync, cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';

// The php7.2 runtime as FC documents it: handler($event, $context) with FC's $context array and
// $GLOBALS['fcLogger'], an initializer once per instance, state kept between invocations, FC's
// PHP error JSON; HTTP handlers with a PSR-7 request (path, requestURI, clientIP attributes) and
// RingCentral\Psr7\Response, on PHP and Debian's guzzlehttp/psr7 (the offline image has both).

const php = (await execa('php', ['-r', 'echo is_file("/usr/share/php/GuzzleHttp/Psr7/autoload.php") ? "ok" : "no";'], { reject: false })).stdout === 'ok';
if (!php && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error('the PHP tests need php-cli and php-guzzlehttp-psr7');

for (const backend of BACKENDS.filter((b) => b.name === 'docker' || php)) {
  describe(`[${backend.name}] php7.2`, () => {
    let srv: RunningServer;
    beforeAll(async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-php-'));
      cpSync(fixture('php'), dir, { recursive: true });
      chmodSync(dir, 0o755);
      srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args], { ALIBABA_CLOUD_ACCESS_KEY_ID: 'php-key', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 's' });
    });
    afterAll(() => srv?.stop());
    const invoke = async (fn: string, body = '') => {
      const r = await fetch(`${srv.base}/2016-08-15/services/php-svc/functions/${fn}/invocations`, { method: 'POST', body, headers: { 'X-Fc-Log-Type': 'Tail' } });
      return { status: r.status, type: r.headers.get('x-fc-error-type'), body: await r.text(), logs: Buffer.from(r.headers.get('x-fc-log-result') ?? '', 'base64').toString(), id: r.headers.get('x-fc-request-id') };
    };

    it('runs an event handler with FC\'s $context and logger, its initializer once, and keeps state between invocations', async () => {
      const a = await invoke('event', '{"name": "fc"}');
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body)).toEqual({ greeting: 'hello fc', initialized: 1, invocations: 1, requestId: a.id, function: 'event', memory: 256, service: 'php-svc', accessKeyId: 'php-key', region: 'cn-hangzhou' });
      const lines = a.logs.trim().split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'TS '));
      expect(lines).toEqual([
        `FC Initialize Start RequestId: ${a.id}`, `TS ${a.id} [INFO] initializing event`, `FC Initialize End RequestId: ${a.id}`,
        `FC Invoke Start RequestId: ${a.id}`, `TS ${a.id} [INFO] hello from php`, 'plain echo line', `FC Invoke End RequestId: ${a.id}`,
      ]);
      expect(JSON.parse((await invoke('event')).body)).toMatchObject({ greeting: 'hello world', initialized: 1, invocations: 2 });
    });

    it("answers an exception with FC's PHP error JSON", async () => {
      const r = await invoke('fails');
      expect(r.type).toBe('UnhandledInvocationError');
      expect(JSON.parse(r.body)).toMatchObject({ errorMessage: 'oops', errorType: 'Exception', stackTrace: { file: expect.stringMatching(/event\/index\.php$|^\/code\/index\.php$/), line: 32 } });
    });

    it('runs preStop before the instance stops', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-php-stop-'));
      cpSync(fixture('php'), dir, { recursive: true });
      chmodSync(dir, 0o755);
      const own = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args]);
      try {
        expect((await fetch(`${own.base}/2016-08-15/services/php-svc/functions/event/invocations`, { method: 'POST', body: '{}' })).status).toBe(200);
      } finally {
        await own.stop();
      }
      expect(own.output()).toMatch(/FC PreStop Start RequestId: \S+\n.*\[INFO\] php preStop after 1\n.*FC PreStop End/);
    });

    it('serves an HTTP handler with a PSR-7 request and RingCentral\\Psr7\\Response', async () => {
      const r = await fetch(`${srv.base}/2016-08-15/proxy/php-svc/web/some/path?a=1&b=x`, { method: 'POST', body: 'the body', headers: { 'x-test': 'yes' } });
      expect(r.status).toBe(201);
      expect(r.headers.get('custom_header')).toBe('v2, v3');
      expect(await r.text()).toBe('POST /some/path /some/path?a=1&b=x {"a":"1","b":"x"} yes the body ctx');
    });
  });
}

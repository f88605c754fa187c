import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { ENGINES } from './helpers/backends.js';
import { startServer, type RunningServer } from './helpers/server.js';

const TPL = 'fixtures/custom/fc.yml';

for (const backend of ENGINES) {
  describe(`custom runtime [${backend.label}]`, () => {
    let srv: RunningServer;
    const invoke = (fn: string, body = '') =>
      fetch(`${srv.base}/2016-08-15/services/custom-svc/functions/${fn}/invocations`, { method: 'POST', body, headers: { 'X-Fc-Log-Type': 'Tail' } });

    beforeAll(async () => {
      srv = await startServer(['-t', TPL, '--no-auth', ...backend.args]);
    });
    afterAll(() => srv.stop());

    it('starts the bootstrap (shell + node) and speaks the same protocol to it, initializer included', async () => {
      const r = await invoke('node', 'hello');
      expect(r.status).toBe(200);
      const out = await r.json();
      expect(out).toEqual({ runtime: 'custom-node', event: 'hello', requestId: r.headers.get('x-fc-request-id'), fn: 'node', initialized: 1 });
      const tail = Buffer.from(r.headers.get('x-fc-log-result')!, 'base64').toString();
      expect(tail).toBe(`FC Invoke Start RequestId: ${out.requestId}\ncustom node handling ${out.requestId}\nFC Invoke End RequestId: ${out.requestId}\n`);
    });

    it('maps x-fc-status 404 to a function error', async () => {
      const r = await invoke('node', 'fail');
      expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
      expect(await r.json()).toEqual({ errorMessage: 'custom failure', errorType: 'CustomError' });
    });

    it('forwards HTTP-trigger requests to the bootstrap as they came', async () => {
      const r = await fetch(`${srv.base}/2016-08-15/proxy/custom-svc/node/some/path?q=1`, { method: 'POST', body: 'b' });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-from')).toBe('custom');
      expect(await r.text()).toBe('custom http POST /2016-08-15/proxy/custom-svc/node/some/path?q=1 b');
    });

    it('starts a bootstrap written in shell + python', async () => {
      const r = await invoke('python', 'py');
      expect(await r.json()).toMatchObject({ runtime: 'custom-python', event: 'py' });
    });

    it('says clearly when a bootstrap exits before listening, and keeps serving', async () => {
      const r = await invoke('quits');
      expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
      const err = await r.json();
      expect(err.errorType).toBe('InstanceStartError');
      expect(err.errorMessage).toMatch(/bootstrap .* for custom-svc\/quits failed to start: .*\b3\b[^]*no configuration found, giving up/);
      expect((await invoke('node', 'after')).status).toBe(200);
    });

    it("gives a bootstrap FC's 120 s to listen, not its function's timeout (1 s here)", async () => {
      const r = await invoke('slow', 'late');
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('slow start served late');
    });
  });
}

for (const backend of ENGINES) {
  describe(`custom runtime start limit [${backend.label}]`, () => {
    it('says clearly when a bootstrap never listens within --start-timeout', async () => {
      const r = await runCli(['invoke', 'custom-svc/silent', '-t', TPL, '--start-timeout', '2', ...backend.args]);
      expect(r.exitCode).toBe(1);
      expect(JSON.parse(String(r.stdout)).errorMessage).toMatch(/bootstrap .* for custom-svc\/silent failed to start: did not answer HTTP on 127\.0\.0\.1:\d+ within 2s\nstarting, but never listening/);
    });
  });
}

describe('custom runtime start failures [process]', () => {
  it('names a bootstrap that is missing or not executable', async () => {
    const missing = await runCli(['invoke', 'custom-svc/missing', '-t', TPL, '--backend', 'process']);
    expect(missing.exitCode).toBe(1);
    expect(JSON.parse(String(missing.stdout)).errorMessage).toMatch(/fixtures\/custom\/bootstrap does not exist \(ENOENT\)/);
    const noexec = await runCli(['invoke', 'custom-svc/noexec', '-t', TPL, '--backend', 'process']);
    expect(JSON.parse(String(noexec.stdout)).errorMessage).toMatch(/noexec\/bootstrap is not executable \(EACCES\)/);
  });
});

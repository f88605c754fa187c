import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINES } from './helpers/backends.js';
import { fixture, runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// FC's instance life cycle hooks: preFreeze after each invocation, preStop before an instance
// stops for any reason (a reload, idle reaping, Ctrl-C), each within its timeout and between FC's
// log lines, for FC's runtimes (the handler) and custom runtimes (GET /pre-stop).

function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-life-'));
  cpSync(fixture('lifecycle'), dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

const invoke = (srv: RunningServer, fn: string) =>
  fetch(`${srv.base}/2016-08-15/services/life/functions/${fn}/invocations`, { method: 'POST', body: '{}' }).then((r) => r.text());

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

for (const backend of ENGINES) {
  describe(`[${backend.label}] instance life cycle`, () => {
    it('runs preFreeze after each invocation and preStop before a reload, with FC\'s log lines', async () => {
      const dir = project();
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args]);
      servers.push(srv);
      expect(await invoke(srv, 'node')).toBe('node 1');
      const first = await srv.waitFor(/FC PreFreeze Start RequestId: (\S+)/);
      const hookId = /RequestId: (\S+)/.exec(first)![1]!;
      await srv.waitFor(new RegExp(`node preFreeze after 1 \\(request ${hookId}\\)`));
      await srv.waitFor(new RegExp(`FC PreFreeze End RequestId: ${hookId}`));
      // The instance is busy until its preFreeze is done: a request meanwhile may get another one.
      expect(await invoke(srv, 'node')).toMatch(/^node [12]$/);
      await srv.waitFor(/node preFreeze after \d \(request \S+\)[^]*node preFreeze after \d \(request/);
      // A save ends the instance (in place on Docker): its preStop runs first, with its globals.
      const mark = srv.output().length;
      writeFileSync(path.join(dir, 'node', 'extra.js'), 'module.exports = 1;\n');
      await srv.waitFor(/FC PreStop Start RequestId: \S+/, undefined, mark);
      await srv.waitFor(/node preStop after [12] in node/, undefined, mark);
      await srv.waitFor(/FC PreStop End RequestId: \S+/, undefined, mark);
      await srv.waitFor(/reloaded life\/node/, undefined, mark);
      expect(await invoke(srv, 'node')).toBe('node 1');
    }, scaled(90_000));

    it('runs preStop when an idle instance is reaped, enforces its timeout, and asks a custom runtime GET /pre-stop', async () => {
      const dir = project();
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--idle-timeout', '1', ...backend.args]);
      servers.push(srv);
      expect(await invoke(srv, 'py')).toBe('py');
      expect(await invoke(srv, 'custom')).toBe('custom');
      // Idle for a second, the instances are reaped: each hook first.
      await srv.waitFor(/py preStop begins/);
      await srv.waitFor(/FC PreStop timed out after 1 seconds/);
      const custom = await srv.waitFor(/custom pre-stop (\S+)/);
      const id = /custom pre-stop (\S+)/.exec(custom)![1]!;
      await srv.waitFor(new RegExp(`FC PreStop End RequestId: ${id}`));
      expect(srv.output()).not.toContain('py preStop never ends');
    }, scaled(90_000));

    it('runs preStop on Ctrl-C before the instances go', async () => {
      const dir = project();
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args]);
      expect(await invoke(srv, 'node')).toBe('node 1');
      await srv.waitFor(/node preFreeze after 1/);
      await srv.stop();
      expect(srv.output()).toMatch(/FC PreStop Start RequestId: \S+[^]*node preStop after 1 in node[^]*FC PreStop End RequestId/);
    }, scaled(90_000));
  });
}

describe('life cycle hooks in the template', () => {
  it('warns of a hook whose module is not in the code, at its position (FC deploys it)', async () => {
    const dir = project();
    const tpl = path.join(dir, 'fc.yml');
    writeFileSync(tpl, readFileSync(tpl, 'utf8').replace('index.preStop, timeout: 5', 'nope.preStop, timeout: 5'));
    const r = await runCli(['validate', '-t', tpl]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/fc\.yml:12:31: warning: preStop handler 'nope\.preStop': no node\/nope\.js in the code/);
  });
});

describe('the initializer under instanceLifecycleConfig', () => {
  it('is the function initializer, as FC 3.0 writes it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-life-init-'));
    cpSync(fixture('lifecycle'), dir, { recursive: true });
    const tpl = path.join(dir, 'fc.yml');
    writeFileSync(path.join(dir, 'node', 'index.js'), `${readFileSync(path.join(dir, 'node', 'index.js'), 'utf8')}exports.init = (context, callback) => { console.log('initialized by the hook'); callback(null); };\n`);
    writeFileSync(tpl, readFileSync(tpl, 'utf8').replace('          preStop: { handler: index.preStop, timeout: 5 }', '          initializer: { handler: index.init, timeout: 5 }\n          preStop: { handler: index.preStop, timeout: 5 }'));
    const r = await runCli(['invoke', 'life/node', '-t', tpl, '--backend', 'process', '--event', '{}']);
    expect(r.stdout).toBe('node 1');
    expect(r.stderr).toMatch(/FC Initialize Start RequestId: \S+\n.*initialized by the hook/);
  });
});

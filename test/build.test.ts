import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// Build steps from the template: an s.yaml's pre-local action builds the code the function
// serves, at start and again when its sources change (its own output does not trigger it), and
// not at all when nothing changed since its last run; a failing step answers that function's
// requests with its error and log tail while the others serve.

function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-build-'));
  cpSync(fixture('build'), dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

const invoke = (srv: RunningServer, fn: string) =>
  fetch(`${srv.base}/2023-03-30/functions/${fn}/invocations`, { method: 'POST', body: '{}' }).then(async (r) => ({ status: r.status, body: await r.text() }));

let servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

describe('build steps', () => {
  it('runs an s.yaml pre-local action before serving, again on a source change, and not when nothing changed', async () => {
    const dir = project();
    const runs = () => readFileSync(path.join(dir, 'code', 'runs.log'), 'utf8').trim().split('\n');
    let srv = await startServer(['-t', path.join(dir, 's.yaml'), '--no-auth', '--backend', 'process']);
    servers.push(srv);
    expect(srv.output()).toMatch(/web build: npm run build \(actions\.pre-local, in \S+code\)/);
    expect(srv.output()).toMatch(/web {3}built v1/);
    expect(await invoke(srv, 'web')).toEqual({ status: 200, body: 'v1' });

    // The failing step: its function answers the error and the step's last lines; the others serve.
    const broken = await invoke(srv, 'broken');
    expect(broken.status).toBeGreaterThanOrEqual(400);
    expect(broken.body).toContain('build step `node fail.js` (actions.pre-${regex(\'deploy|local\')}) of broken exited with code 3');
    expect(broken.body).toContain('other.ts(1,1): something is wrong');
    expect(await invoke(srv, 'ok')).toEqual({ status: 200, body: 'ok' });

    // A source change rebuilds and reloads; the build's own writes to dist/ do not start another.
    const mark = srv.output().length;
    writeFileSync(path.join(dir, 'code', 'src', 'message.txt'), 'v2\n');
    await srv.waitFor(/reloaded web \(rebuilt after message\.txt changed\)/, undefined, mark);
    expect(await invoke(srv, 'web')).toEqual({ status: 200, body: 'v2' });
    await new Promise((r) => setTimeout(r, scaled(1000)));
    expect(runs()).toEqual(['v1', 'v2']);

    // A second start with nothing changed runs nothing.
    await srv.stop();
    servers = [];
    srv = await startServer(['-t', path.join(dir, 's.yaml'), '--no-auth', '--backend', 'process']);
    servers.push(srv);
    expect(await invoke(srv, 'web')).toEqual({ status: 200, body: 'v2' });
    expect(srv.output()).not.toContain('build: npm run build');
    expect(runs()).toEqual(['v1', 'v2']);
    expect(existsSync(path.join(dir, '.fc-local', 'build', 'steps'))).toBe(true);
  }, scaled(90_000));

  it('fc-local build runs the steps of the functions named, skips them when nothing changed, and fails on a failing step', async () => {
    const dir = project();
    const tpl = path.join(dir, 's.yaml');
    const first = await runCli(['build', '-t', tpl, 'web']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/web {3}built v1/);
    expect(first.stdout).toMatch(/web build: done in \d+ ms/);
    const again = await runCli(['build', '-t', tpl, 'web']);
    expect(again.stdout).toContain('web: build steps up to date (--force runs them anyway)');
    const forced = await runCli(['build', '-t', tpl, 'web', '--force']);
    expect(forced.stdout).toMatch(/web {3}built v1/);
    const broken = await runCli(['build', '-t', tpl, 'broken']);
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toContain('build failed: node fail.js exited with code 3');
    const unknown = await runCli(['build', '-t', tpl, 'nope']);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('no function nope');
  }, scaled(60_000));
});

import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { BIN, fixture, ROOT, runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';

// What published FC projects need before any code runs: a runtime fc-local does not run must
// not sink the template, and the small things a new user trips on.

const TPL = fixture('real-projects', 'fc.yml');

describe('a runtime fc-local does not run', () => {
  it('is a warning at its position in validate, not an error', async () => {
    const r = await runCli(['validate', '-t', TPL]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/fc\.yml:11:18: warning: function 'mixed\/go' uses go1, which fc-local does not emulate/);
    expect(r.stdout).toMatch(/valid/);
  });

  it('stays an error when FC never had that runtime', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-rt-'));
    const file = path.join(dir, 'fc.yml');
    (await import('node:fs')).writeFileSync(file, 'services:\n  s:\n    functions:\n      f: { runtime: cobol85, handler: a.b, codeUri: ./ }\n');
    const r = await runCli(['validate', '-t', file]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/runtime must be one of .*\(got "cobol85"\)/);
  });
});

describe.each(BACKENDS)('a mixed project [$name]', (backend) => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'fc-local-st-')), ...backend.args]);
  });
  afterAll(async () => {
    await srv.stop();
  });
  const invoke = (fn: string) => fetch(`${srv.base}/2016-08-15/services/mixed/functions/${fn}/invocations`, { method: 'POST' });

  it('serves the other functions and lists the one it does not emulate', async () => {
    expect(srv.output()).toMatch(/not emulated mixed\/go \(go1\)/);
    expect(await (await invoke('node')).text()).toBe('node ok');
    // php7.2 runs (the published sample's PHP function answers as on FC).
    if (backend.name === 'docker' || (await execa('php', ['-v'], { reject: false })).exitCode === 0) expect(await (await invoke('php')).text()).toBe('php');
  });

  it("answers FC's error JSON naming the runtime when that one is invoked", async () => {
    const r = await invoke('go');
    expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
    expect((await r.json()).errorMessage).toMatch(/fc-local does not emulate the go1 runtime of mixed\/go: deploy it to Function Compute/);
  });

  it('says to run npm install when a package in package.json is missing, with FC frames', async () => {
    const body = await (await invoke('needs-install')).json();
    expect(body.errorMessage).toMatch(/Cannot find module 'left-pad'.* run npm install in /);
    expect(body.errorMessage).not.toMatch(/Require stack/);
    for (const frame of body.stackTrace) expect(frame).toMatch(/^at /);
  });
});

describe('small things a new user trips on', () => {
  it('reads an event that arrives slowly on a pipe', async () => {
    const r = await execa('sh', ['-c', `(sleep 1; echo '{"slow":true}') | node ${BIN} invoke demo/hello -e - -t fc.yml.example --backend process`], { cwd: ROOT, reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('"input":"{\\"slow\\":true}\\n"');
  });

  it('exits quietly when the reader of its output goes away', async () => {
    const r = await execa('sh', ['-c', `node ${BIN} events generate oss | head -1`], { cwd: ROOT, reject: false });
    expect(r.stdout).toBe('{');
    expect(r.stderr).toBe('');
  });

  it('creates no .fc-local folders for a template without OSS or Log triggers', async () => {
    const srv = await startServer(['-t', TPL, '--no-auth', '--backend', 'process', '--state-dir', mkdtempSync(path.join(os.tmpdir(), 'fc-local-st-'))]);
    await srv.stop();
    expect(existsSync(fixture('real-projects', '.fc-local'))).toBe(false);
    expect(readdirSync(fixture('real-projects'))).not.toContain('.fc-local');
  });
});

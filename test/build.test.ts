import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BACKENDS } from './helpers/backends.js';
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

  // A dependency with an install script (made here, installed from a tarball in the code dir: no
  // registry needed) records where it was built.
  function dependencyProject(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-deps-'));
    chmodSync(dir, 0o755);
    const probe = path.join(dir, 'probe');
    mkdirSync(probe);
    writeFileSync(path.join(probe, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0', scripts: { install: 'node record.js' } }));
    writeFileSync(path.join(probe, 'record.js'), "require('fs').writeFileSync('built-for.json', JSON.stringify({ platform: process.platform, node: process.versions.node.split('.')[0] }));\n");
    mkdirSync(path.join(dir, 'code', 'vendor'), { recursive: true });
    writeFileSync(path.join(dir, 'code', 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { probe: 'file:./vendor/probe-1.0.0.tgz' } }));
    writeFileSync(path.join(dir, 'code', 'index.js'), "exports.handler = (e, c, cb) => cb(null, require('probe/built-for.json'));\n");
    writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  s:\n    functions:\n      f:\n        runtime: nodejs18\n        handler: index.handler\n        codeUri: ./code\n');
    return dir;
  }
  const pack = (dir: string) => execa('npm', ['pack', '--pack-destination', path.join(dir, 'code', 'vendor')], { cwd: path.join(dir, 'probe') });
  const builtFor = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'code', 'node_modules', 'probe', 'built-for.json'), 'utf8')) as { platform: string; node: string };

  it.runIf(BACKENDS.some((b) => b.name === 'docker'))("fc-local build --docker installs dependencies in the runtime's image (its Node, Linux), and a second build with nothing changed runs nothing", async () => {
    const docker = BACKENDS.find((b) => b.name === 'docker')!;
    const dir = dependencyProject();
    await pack(dir);
    const first = await runCli(['build', '-t', path.join(dir, 'fc.yml'), '--docker', '--image', docker.image!]);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect(first.stdout).toContain(`s/f dependencies: npm install --no-audit --no-fund in a container of ${docker.image}`);
    // The runtime's Node (nodejs18 in the image), not this machine's.
    expect(builtFor(dir)).toEqual({ platform: 'linux', node: '18' });
    expect(existsSync(path.join(dir, 'code', 'package-lock.json'))).toBe(true);
    const installedAt = statSync(path.join(dir, 'code', 'node_modules', 'probe', 'built-for.json')).mtimeMs;
    const second = await runCli(['build', '-t', path.join(dir, 'fc.yml'), '--docker', '--image', docker.image!]);
    expect(second.stdout).toContain('s/f: dependencies up to date (--force installs them anyway)');
    expect(statSync(path.join(dir, 'code', 'node_modules', 'probe', 'built-for.json')).mtimeMs).toBe(installedAt);
    // The files are this user's, not the container's.
    expect(statSync(path.join(dir, 'code', 'node_modules')).uid).toBe(process.getuid!());
  }, scaled(120_000));

  it('fc-local build --no-docker installs on this machine, and again when the manifest changes', async () => {
    const dir = dependencyProject();
    await pack(dir);
    const first = await runCli(['build', '-t', path.join(dir, 'fc.yml'), '--no-docker']);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect(first.stdout).toContain('s/f dependencies: npm install --no-audit --no-fund on this machine');
    expect(builtFor(dir)).toEqual({ platform: process.platform, node: process.versions.node.split('.')[0] });
    const pkg = JSON.parse(readFileSync(path.join(dir, 'code', 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, 'code', 'package.json'), JSON.stringify({ ...pkg, description: 'changed' }));
    const again = await runCli(['build', '-t', path.join(dir, 'fc.yml'), '--no-docker']);
    expect(again.stdout).toContain('s/f dependencies: npm ci --no-audit --no-fund on this machine');
  }, scaled(120_000));

  it.runIf(BACKENDS.some((b) => b.name === 'docker'))("fc-local build --docker pip-installs requirements.txt into the code dir with the image's Python", async () => {
    const docker = BACKENDS.find((b) => b.name === 'docker')!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-pip-'));
    chmodSync(dir, 0o755);
    mkdirSync(path.join(dir, 'code', 'vendor'), { recursive: true });
    // A wheel made here (no package index here): a module and its metadata.
    const wheel = path.join(dir, 'code', 'vendor', 'hello_dep-1.0-py3-none-any.whl');
    await execa('python3', ['-c', [
      'import sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1], "w")',
      'z.writestr("hello_dep/__init__.py", "VALUE = \\"from a wheel\\"\\n")',
      'z.writestr("hello_dep-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: hello-dep\\nVersion: 1.0\\n")',
      'z.writestr("hello_dep-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")',
      'z.writestr("hello_dep-1.0.dist-info/RECORD", "hello_dep/__init__.py,,\\nhello_dep-1.0.dist-info/METADATA,,\\nhello_dep-1.0.dist-info/WHEEL,,\\nhello_dep-1.0.dist-info/RECORD,,\\n")',
      'z.close()',
    ].join('\n'), wheel]);
    writeFileSync(path.join(dir, 'code', 'requirements.txt'), './vendor/hello_dep-1.0-py3-none-any.whl\n');
    writeFileSync(path.join(dir, 'code', 'index.py'), 'import hello_dep\n\ndef handler(event, context):\n    return hello_dep.VALUE\n');
    writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  s:\n    functions:\n      py:\n        runtime: python3.10\n        handler: index.handler\n        codeUri: ./code\n');
    const built = await runCli(['build', '-t', path.join(dir, 'fc.yml'), '--docker', '--image', docker.image!]);
    expect(built.exitCode, `${built.stdout}\n${built.stderr}`).toBe(0);
    expect(built.stdout).toContain(`s/py dependencies: pip install --no-input --disable-pip-version-check -t . -r requirements.txt in a container of ${docker.image}`);
    // Byte-compiled by the image's Python, not this machine's.
    const tag = (await execa('docker', ['run', '--rm', docker.image!, 'python3', '-c', 'import sys; print(sys.implementation.cache_tag)'])).stdout.trim();
    expect(existsSync(path.join(dir, 'code', 'hello_dep', '__pycache__', `__init__.${tag}.pyc`))).toBe(true);
    const run = await runCli(['invoke', 's/py', '-t', path.join(dir, 'fc.yml'), '--backend', 'process']);
    expect(run.stdout).toBe('from a wheel');
    const again = await runCli(['build', '-t', path.join(dir, 'fc.yml'), '--docker', '--image', docker.image!]);
    expect(again.stdout).toContain('s/py: dependencies up to date');
  }, scaled(120_000));
});

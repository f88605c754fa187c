import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvocationError, startEmulator, TemplateError } from '../src/index.js';
import { processesWith, RUN_VAR } from '../src/runtime/host/proc-scan.js';
import { fixture, ROOT } from './helpers/cli.js';
import { BACKENDS } from './helpers/backends.js';
import { scaled } from './helpers/time-scale.js';

// fc-local as a user's test suite uses it: only the public API (`import ... from 'fc-local'`).

describe('the public API', () => {
  it('starts on a template, invokes, fetches an HTTP trigger, emits an OSS event, reads logs, stops leaving nothing', async () => {
    // auth on: the library's own calls (invoke, async, emit) do not go through signed routes.
    const emulator = await startEmulator({ template: path.join(ROOT, 'fc.yml.example'), backend: 'process', auth: true });
    try {
      expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulator.functions.map((f) => f.name)).toEqual(['demo/hello', 'demo/web', 'demo/on-events']);
      const r = await emulator.invoke('demo/hello', { key: 'value' });
      expect(r.json()).toMatchObject({ message: 'hello, fc-local', input: '{"key":"value"}' });
      expect(r.logs.some((l) => l.includes('hello from hello'))).toBe(true);
      const web = await emulator.fetch('demo/web', { method: 'POST', body: 'a body' });
      expect(web.status).toBe(200);
      const fired = await emulator.emit('oss', { bucket: 'demo-bucket', key: 'uploads/cat.png', size: 10 });
      expect(fired).toMatchObject([{ function: 'on-events', trigger: 'uploads', status: 'succeeded' }]);
      const seen: string[] = [];
      for await (const l of emulator.logs) {
        seen.push(l.function);
        if (l.function === 'demo/on-events') break;
      }
      expect(seen).toContain('demo/on-events');
      const queued = await emulator.invoke('demo/hello', { key: 'later' }, { async: true });
      await expect.poll(() => emulator.logs.lines.some((l) => l.line.includes(queued.requestId)), { timeout: scaled(10_000) }).toBe(true);
      expect(emulator.metrics()['demo/hello']).toMatchObject({ instances: 1, busy: 0 });
    } finally {
      await emulator.stop();
    }
    // Nothing of this process's run is left (its instances carry its run marker).
    expect(processesWith(RUN_VAR, (v) => v.startsWith(`${process.pid}-`))).toEqual([]);
  });

  it('throws typed errors: TemplateError with positions, InvocationError with FC\'s error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-api-'));
    writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  s:\n    functions:\n      f: { runtime: nodejs99, handler: index.handler, codeUri: ./ }\n');
    const err = await startEmulator({ template: path.join(dir, 'fc.yml'), backend: 'process' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as TemplateError).errors[0]).toMatchObject({ line: 4, message: expect.stringMatching(/runtime must be one of/) });

    await using emulator = await startEmulator({ template: fixture('nodejs', 'fc.yml'), backend: 'process' });
    const failure = await emulator.invoke('node-svc/handled').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InvocationError);
    expect(failure).toMatchObject({ errorType: 'HandledInvocationError', body: { errorMessage: 'oops' } });
  });

  it('installs from `npm pack` into another project and imports, types included', async () => {
    const dest = mkdtempSync(path.join(os.tmpdir(), 'fc-local-pack-'));
    const packed = await execa('npm', ['pack', '--pack-destination', dest, '--ignore-scripts'], { cwd: ROOT });
    const tarball = path.join(dest, packed.stdout.trim().split('\n').pop()!);
    const project = mkdtempSync(path.join(os.tmpdir(), 'fc-local-user-'));
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true }));
    await execa('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project });
    // `fc-local init` works from the package: its templates are in it.
    expect(existsSync(path.join(project, 'node_modules/fc-local/templates/nodejs-event/template.json'))).toBe(true);
    writeFileSync(
      path.join(project, 'check.ts'),
      "import { startEmulator, type RunningEmulator } from 'fc-local';\nconst e: RunningEmulator = await startEmulator({ template: 'fc.yml', backend: 'process' });\nawait e.stop();\n",
    );
    writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['check.ts'] }));
    const tsc = await execa('node', [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project, reject: false });
    expect(tsc.stdout + tsc.stderr).toBe('');
    cpTemplate(project);
    const run = await execa('node', ['--input-type=module', '-e', "import { startEmulator } from 'fc-local'; const e = await startEmulator({ template: 'fc.yml', backend: 'process' }); console.log((await e.invoke('f', 'x')).text()); await e.stop();"], { cwd: project, reject: false });
    expect(run.stdout).toBe('packed: x');
    // The installed package builds the offline image (present already: at once) and, on Docker with
    // no image named and none pullable here, serves the example on it.
    if (BACKENDS.some((b) => b.name === 'docker')) {
      const bin = path.join(project, 'node_modules/fc-local/bin/fc-local.js');
      const built = await execa('node', [bin, 'image', 'build'], { cwd: project, reject: false, all: true });
      expect(built.exitCode, built.all).toBe(0);
      expect(built.all).toMatch(/runtime image fc-local\/runtime:offline-\d+ already present|built fc-local\/runtime:offline-\d+/);
      const server = execa('node', [bin, 'start', '--backend', 'docker', '--port', '0', '--no-auth', '--no-watch', '--no-workbench'], { cwd: project, reject: false, all: true });
      try {
        let out = '';
        const base = await new Promise<string>((resolve, reject) => {
          server.all!.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /listening on (http:\/\/\S+)/.exec(out);
            if (m) resolve(m[1]!);
          });
          void server.then(() => reject(new Error(`start exited:\n${out}`)));
        });
        const r = await fetch(`${base}/2016-08-15/services/s/functions/f/invocations`, { method: 'POST', body: 'y' });
        expect(await r.text(), out).toBe('packed: y');
        // Where the default image cannot be pulled (no registry here), the offline image stands in.
        if (!/pulled image /.test(out)) expect(out).toMatch(/using fc-local\/runtime:offline-\d+, fc-local's offline image on this machine/);
      } finally {
        server.kill('SIGINT');
        await server;
      }
    }
  }, scaled(240_000));
});

/** A function beside the user's (ESM) project: its own folder, CommonJS as FC's Node.js code is. */
function cpTemplate(dir: string): void {
  mkdirSync(path.join(dir, 'fn'));
  writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  s:\n    functions:\n      f: { runtime: nodejs18, handler: index.handler, codeUri: ./fn }\n');
  writeFileSync(path.join(dir, 'fn', 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(path.join(dir, 'fn', 'index.js'), "exports.handler = (e, c, cb) => cb(null, 'packed: ' + String(e));\n");
}

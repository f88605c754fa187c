import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from './helpers/backends.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

const TEMPLATE = (extra = '') => `services:
  s:
    functions:
      a:
        runtime: nodejs18
        handler: index.handler
        codeUri: ./code
        triggers:
          web: { type: http, config: { methods: [GET] } }
      b:
        runtime: nodejs18
        handler: index.other
        codeUri: ./code
${extra}`;

const CODE = (v: string) => `exports.handler = function (req, resp) { resp.send('${v}'); };
exports.other = function (event, context, callback) { callback(null, 'other ${v}'); };
`;

/** A project in a temp dir that containers' non-root user can read. */
function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-reload-'));
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'code'));
  writeFileSync(path.join(dir, 'fc.yml'), TEMPLATE());
  writeFileSync(path.join(dir, 'code', 'index.js'), CODE('v1'));
  return dir;
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = scaled(10_000)): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const backend of ENGINES) {
  describe(`hot reload [${backend.label}]`, () => {
    let dir: string;
    let srv: RunningServer;
    const get = async () => {
      const r = await fetch(`${srv.base}/2016-08-15/proxy/s/a/`);
      return `${r.status} ${await r.text()}`;
    };
    const invoke = async (fn: string) => {
      const r = await fetch(`${srv.base}/2016-08-15/services/s/functions/${fn}/invocations`, { method: 'POST' });
      return `${r.status} ${r.headers.get('x-fc-error-type') ?? ''} ${await r.text()}`.replace(/ {2}/, ' ');
    };
    const reloads = () => (srv.output().match(/fc-local reloaded /g) ?? []).length;

    beforeAll(async () => {
      dir = project();
      srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args]);
    });
    afterAll(() => srv.stop());

    it('says reload is on in the banner', () => {
      expect(srv.output()).toMatch(/reload\s+on: saved code and template changes apply/);
    });

    it('serves the new code on the next request after a save, for every function of the code dir', async () => {
      const checksum = async () => (await (await fetch(`${srv.base}/2016-08-15/services/s/functions/a`)).json()).codeChecksum as string;
      const before = await checksum();
      expect(await get()).toBe('200 v1');
      expect(await invoke('b')).toBe('200 other v1');
      writeFileSync(path.join(dir, 'code', 'index.js'), CODE('v2'));
      await srv.waitFor(/fc-local reloaded s\/a \(index\.js changed\) in \d+ ms, 1 instance\(s\) restarted/);
      await srv.waitFor(/fc-local reloaded s\/b \(index\.js changed\) in \d+ ms/);
      expect(await get()).toBe('200 v2');
      expect(await invoke('b')).toBe('200 other v2');
      expect(await checksum()).not.toBe(before);
    });

    it('ignores editor noise, .git and .fcignore patterns', async () => {
      writeFileSync(path.join(dir, 'code', '.fcignore'), 'data/\n*.log\n');
      await srv.waitFor(/reloaded s\/a \(\.fcignore changed\)[^]*reloaded s\/b \(\.fcignore changed\)|reloaded s\/b \(\.fcignore changed\)[^]*reloaded s\/a \(\.fcignore changed\)/);
      const before = reloads();
      mkdirSync(path.join(dir, 'code', '.git'));
      writeFileSync(path.join(dir, 'code', '.git', 'HEAD'), 'x');
      writeFileSync(path.join(dir, 'code', '.index.js.swp'), 'x');
      writeFileSync(path.join(dir, 'code', 'index.js~'), 'x');
      mkdirSync(path.join(dir, 'code', 'data'));
      writeFileSync(path.join(dir, 'code', 'data', 'big.bin'), 'x');
      writeFileSync(path.join(dir, 'code', 'debug.log'), 'x');
      await new Promise((r) => setTimeout(r, scaled(400)));
      expect(reloads()).toBe(before);
      expect(await get()).toBe('200 v2');
    });

    it('gives the clear loading error for broken code, and works again once fixed', async () => {
      writeFileSync(path.join(dir, 'code', 'index.js'), 'exports.handler = function (req, resp) { resp.send("oops" };\n');
      const broken = await eventually(
        async () => {
          const r = await fetch(`${srv.base}/2016-08-15/proxy/s/a/`);
          return { status: r.status, type: r.headers.get('x-fc-error-type'), body: await r.text() };
        },
        (r) => r.status === 502,
      );
      expect(broken.type).toBe('UnhandledInvocationError');
      expect(JSON.parse(broken.body)).toMatchObject({ errorType: 'SyntaxError' });
      writeFileSync(path.join(dir, 'code', 'index.js'), CODE('v3'));
      expect(await eventually(get, (v) => v === '200 v3')).toBe('200 v3');
    });

    it('applies template changes: added and removed functions, changed settings', async () => {
      writeFileSync(
        path.join(dir, 'fc.yml'),
        TEMPLATE(`      c:
        runtime: nodejs18
        handler: index.other
        codeUri: ./code
`),
      );
      await srv.waitFor(/fc-local template reloaded in \d+ ms: added s\/c/);
      expect(await invoke('c')).toBe('200 other v3');

      writeFileSync(path.join(dir, 'fc.yml'), TEMPLATE().replace(/ {6}b:\n(.*\n){3}/, ''));
      await srv.waitFor(/template reloaded in \d+ ms: removed s\/b, s\/c/);
      const gone = await fetch(`${srv.base}/2016-08-15/services/s/functions/b/invocations`, { method: 'POST' });
      expect(gone.status).toBe(404);
      expect((await gone.json()).ErrorCode).toBe('FunctionNotFound');
      expect(await get()).toBe('200 v3');
    });

    it('keeps serving the previous template when the new one is invalid, and says why', async () => {
      writeFileSync(path.join(dir, 'fc.yml'), TEMPLATE().replace('codeUri: ./code\n        triggers', 'codeUri: ./code\n        memorySize: 100\n        triggers'));
      await srv.waitFor(/template has 1 error\(s\); still serving the previous version:\n.*fc\.yml:8:21: function 's\/a': memorySize must be 128-3072 MB in steps of 64 \(got 100\)/);
      expect(await get()).toBe('200 v3');
    });
  });
}

describe('hot reload off', () => {
  it('keeps the running code with --no-watch', async () => {
    const dir = project();
    const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--no-watch', '--backend', 'process']);
    try {
      expect(srv.output()).toMatch(/reload\s+off \(--no-watch\)/);
      const get = async () => (await fetch(`${srv.base}/2016-08-15/proxy/s/a/`)).text();
      expect(await get()).toBe('v1');
      writeFileSync(path.join(dir, 'code', 'index.js'), CODE('v2'));
      await new Promise((r) => setTimeout(r, scaled(400)));
      expect(await get()).toBe('v1');
      expect(srv.output()).not.toMatch(/reloaded/);
    } finally {
      await srv.stop();
    }
  });
});

describe('saving in place', () => {
  it('a load that finds the handler file empty mid-save waits for the write instead of failing', async () => {
    const { loadTemplate } = await import('../src/template/load.js');
    const { createExecutor } = await import('../src/runtime/index.js');
    const { ProcessBackend } = await import('../src/runtime/process/backend.js');
    const dir = project();
    const tpl = loadTemplate(path.join(dir, 'fc.yml')).template!;
    const fn = tpl.services[0]!.functions.find((f) => f.name === 'b')!;
    const rt = createExecutor({ backend: new ProcessBackend(), credentials: { accessKeyId: '', accessKeySecret: '', securityToken: '', source: 'none' }, template: () => tpl });
    try {
      await rt.pools.pool(fn).warm(1); // started; the agent loads the code at the first request
      writeFileSync(path.join(dir, 'code', 'index.js'), ''); // an editor truncated the file...
      const out = rt.invoker.invokeEvent(fn, Buffer.from('{}'));
      await new Promise((r) => setTimeout(r, 120));
      writeFileSync(path.join(dir, 'code', 'index.js'), CODE('saved')); // ...and wrote it
      const r = await out;
      expect(r.errorType).toBeUndefined();
      expect(r.body.toString()).toBe('other saved');
    } finally {
      await rt.close();
    }
  });
});

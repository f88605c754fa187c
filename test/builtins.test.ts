import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import OSS from 'ali-oss';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/runtime/instance-io.js';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { RUNTIME_IMAGE } from './helpers/docker.js';
import { startServer, type RunningServer } from './helpers/server.js';

// FC's built-in modules: function code with no node_modules requires them as the guide's examples
// do, on both backends; a function's own copy wins; what fc-local cannot provide says so.

describe.each(BACKENDS)('built-in modules [$name]', (backend) => {
  let srv: RunningServer;
  let ossPort: number;
  // The local OSS, read from outside with the same SDK.
  const outside = () => new OSS({ endpoint: `http://127.0.0.1:${ossPort}`, accessKeyId: 'test-key-id', accessKeySecret: 'test-key-secret', bucket: 'my-bucket' });
  // Signed as FC's SDKs sign (auth on), so that @alicloud/fc2 inside a function is checked too.
  const signedInvoke = async (fn: string, body: string | Buffer = '') => {
    const { default: FC } = await import('@alicloud/fc2');
    const client = new FC('1234567890123456', { accessKeyID: 'test-key-id', accessKeySecret: 'test-key-secret', region: 'cn-hangzhou', endpoint: srv.base, timeout: 60_000 });
    const invokeRaw = client.invokeFunction.bind(client) as unknown as (...a: unknown[]) => Promise<unknown>;
    return (await invokeRaw('bi', fn, body, {}, undefined, { rawBuf: true })) as { headers: Record<string, string>; data: Buffer | string | { errorMessage: string } };
  };

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-builtins-'));
    cpSync(fixture('builtins'), dir, { recursive: true });
    // The guide's bucket, as a folder of the local OSS.
    mkdirSync(path.join(dir, '.fc-local', 'oss', 'my-bucket'), { recursive: true });
    ossPort = await freePort();
    srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--oss-port', String(ossPort), ...backend.args]);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it("lets a function's own node_modules/ali-oss win over the built-in", async () => {
    const r = await signedInvoke('own');
    expect(JSON.parse(String(r.data))).toEqual({ own: true, version: '0.0.1-own' });
  });

  it("runs the guide's OSS example unchanged: require('ali-oss').Wrapper on nodejs8, the region's internal name, the function's credentials", async () => {
    const r = await signedInvoke('oss');
    expect(JSON.parse(String(r.data))).toEqual({ status: 200, name: 'my-object' });
    expect((await outside().get('my-object')).content.toString()).toBe('hello world');
  });

  it('gives nodejs18 the ali-oss 6.x of FC nodejs18 runtime (no Wrapper)', async () => {
    const r = await signedInvoke('oss18');
    expect(JSON.parse(String(r.data))).toEqual({ status: 200, version: '6.19.0', wrapper: 'undefined' });
    expect((await outside().get('modern-object')).content.toString()).toBe('hello 18');
  });

  it("invokes another function through fc-local's API with @alicloud/fc2 built from the account, region and context.credentials", async () => {
    const r = await signedInvoke('fc2');
    expect(String(r.data)).toBe('target said: got from fc2');
  });

  it.runIf(backend.name === 'docker')("flips an image with gm, as the guide's example does", async () => {
    const { default: png } = await import('./helpers/png.js');
    const input = png.encode(3, 2, [
      [255, 0, 0], [0, 255, 0], [0, 0, 255],
      [255, 255, 0], [0, 255, 255], [255, 0, 255],
    ]);
    const r = await signedInvoke('gm', input);
    expect(r.headers['x-fc-error-type'], String(r.data)).toBeUndefined();
    const out = png.decode(r.data as Buffer);
    // flip: upside down, rows swapped.
    expect(out.pixels).toEqual([
      [255, 255, 0], [0, 255, 255], [255, 0, 255],
      [255, 0, 0], [0, 255, 0], [0, 0, 255],
    ]);
  });

  it.runIf(backend.name === 'docker')("rotates an image with wand (Python), as the guide's example does", async () => {
    const { default: png } = await import('./helpers/png.js');
    const input = png.encode(2, 1, [[255, 0, 0], [0, 0, 255]]);
    const r = await signedInvoke('wand', input);
    expect(r.headers['x-fc-error-type'], JSON.stringify(r.data)).toBeUndefined();
    expect(png.decode(r.data as Buffer).pixels).toEqual([[0, 0, 255], [255, 0, 0]]);
  });

  it.runIf(backend.name === 'docker')('imports numpy in a python3.10 function', async () => {
    expect(String((await signedInvoke('numpy')).data)).toBe('45');
  });

  it("answers opencv (built into FC, not emulated) and a module that is nobody's with FC's error, naming the module", async () => {
    const cv = await signedInvoke('opencv');
    expect(cv.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(JSON.parse(String(cv.data)).errorMessage).toMatch(/^Cannot find module 'opencv': FC's Node\.js runtime has opencv built in, a native module .* Package it with your code/);
    const missing = await signedInvoke('missing');
    expect(missing.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(JSON.parse(String(missing.data)).errorMessage).toMatch(/^Cannot find module 'left-pad'/);
  });

  it('answers an import of a built-in this Python lacks (oss2) with the module named and the fixes', async () => {
    const r = await signedInvoke('oss2');
    expect(r.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    const body = JSON.parse(String(r.data)) as { errorMessage: string };
    expect(body.errorMessage).toMatch(/No module named 'oss2': FC's Python runtime has it built in/);
    expect(body.errorMessage).toMatch(/pip install -t \. oss2 in codeUri/);
  });
});

describe.runIf(BACKENDS.some((b) => b.name === 'docker'))('the offline image --full variant', () => {
  // Tags of the test's own (the real images stay as they are): the variant is the base retagged.
  const base = 'fc-local/runtime:offline-99';
  const docker = new Docker();
  beforeAll(async () => {
    const [repo, tag] = base.split(':') as [string, string];
    await docker.getImage(RUNTIME_IMAGE).tag({ repo, tag });
  });
  afterAll(async () => {
    for (const t of [base, `${base}-full`]) await docker.getImage(t).remove({ noprune: true }).catch(() => undefined);
  });

  it('runs a Python function that imports scipy on <image>-full where the engine has it, and says how to build it where not', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-heavy-'));
    cpSync(fixture('builtins', 'heavy'), path.join(dir, 'heavy'), { recursive: true });
    writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  h:\n    functions:\n      heavy: { runtime: python3.10, handler: index.handler, codeUri: ./heavy }\n');
    const run = async () => {
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--backend', 'docker', '--image', base]);
      try {
        const r = await fetch(`${srv.base}/2016-08-15/services/h/functions/heavy/invocations`, { method: 'POST' });
        expect(await r.text()).toBe('ok');
        const [c] = await docker.listContainers({ filters: { label: ['fc-local=1', `fc-local.pid=${srv.proc.pid}`] } });
        return { image: c!.Image, output: srv.output() };
      } finally {
        await srv.stop();
      }
    };
    const without = await run();
    expect(without.image).toBe(base);
    expect(without.output).toContain(`h/heavy imports scipy, which ${base} lacks: build ${base}-full with scripts/build-runtime-image.sh --full`);
    await docker.getImage(RUNTIME_IMAGE).tag({ repo: 'fc-local/runtime', tag: 'offline-99-full' });
    const withFull = await run();
    expect(withFull.image).toBe(`${base}-full`);
    // Said in the banner, before the first request.
    expect(withFull.output.slice(0, withFull.output.indexOf('listening on'))).toContain(`h/heavy imports scipy: running it on ${base}-full`);
  });
});

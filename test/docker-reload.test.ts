import Docker from 'dockerode';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerReady, RUNTIME_IMAGE } from './helpers/docker.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Hot reload on Docker restarts the runtime inside the warm container: same container, a new
// instance to the function (initializer again, fresh globals, /tmp emptied); a change to what
// the container is made from (memorySize) replaces it.

const ready = await dockerReady();
const docker = new Docker();

const template = (memory: number) => `services:
  s:
    functions:
      f:
        runtime: nodejs18
        handler: index.handler
        initializer: index.init
        memorySize: ${memory}
        codeUri: ./code
      py:
        runtime: python3
        handler: main.handler
        codeUri: ./py
`;
const code = (v: string) => `const fs = require('fs');
let inits = 0;
let calls = 0;
exports.init = (context, callback) => { inits++; callback(null, ''); };
exports.handler = (event, context, callback) => {
  const tmp = fs.readdirSync('/tmp');
  fs.writeFileSync('/tmp/left-behind', 'x');
  callback(null, JSON.stringify({ v: '${v}', inits, calls: ++calls, tmp }));
};
`;

describe.runIf(ready)('hot reload in the warm container [docker]', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-dreload-'));
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'code'));
  mkdirSync(path.join(dir, 'py'));
  writeFileSync(path.join(dir, 'fc.yml'), template(128));
  writeFileSync(path.join(dir, 'code', 'index.js'), code('v1'));
  writeFileSync(path.join(dir, 'py', 'main.py'), "def handler(event, context):\n    return 'py v1'\n");
  let srv: RunningServer;
  const invoke = async (fn = 'f') => (await fetch(`${srv.base}/2016-08-15/services/s/functions/${fn}/invocations`, { method: 'POST' })).text();
  const containers = async (fn = 'f') =>
    (await docker.listContainers({ filters: { label: ['fc-local=1', `fc-local.pid=${srv.proc.pid}`, `fc-local.function=s/${fn}`] } })).map((c) => c.Id);

  beforeAll(async () => {
    srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--backend', 'docker', '--image', RUNTIME_IMAGE]);
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('restarts the runtime in the same container: initializer again, fresh globals, /tmp emptied', async () => {
    expect(JSON.parse(await invoke())).toMatchObject({ v: 'v1', inits: 1, calls: 1 });
    expect(JSON.parse(await invoke())).toMatchObject({ calls: 2, tmp: ['left-behind'] });
    const before = await containers();
    expect(before).toHaveLength(1);
    const mark = srv.output().length;
    writeFileSync(path.join(dir, 'code', 'index.js'), code('v2'));
    await srv.waitFor(/reloaded s\/f /, undefined, mark);
    expect(JSON.parse(await invoke())).toEqual({ v: 'v2', inits: 1, calls: 1, tmp: [] });
    expect(await containers()).toEqual(before);
  });

  it('restarts a Python runtime in place too', async () => {
    expect(await invoke('py')).toBe('py v1');
    const before = await containers('py');
    writeFileSync(path.join(dir, 'py', 'main.py'), "def handler(event, context):\n    return 'py v2'\n");
    await srv.waitFor(/reloaded s\/py /);
    expect(await invoke('py')).toBe('py v2');
    expect(await containers('py')).toEqual(before);
  });

  it('replaces the container when memorySize changes', async () => {
    await invoke();
    const before = await containers();
    writeFileSync(path.join(dir, 'fc.yml'), template(256));
    await srv.waitFor(/template reloaded [^\n]*changed s\/f/);
    expect(JSON.parse(await invoke()).v).toBe('v2');
    const after = await containers();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    const info = await docker.getContainer(after[0]!).inspect();
    expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
  });
});

import Docker from 'dockerode';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { readRecord } from '../src/runtime/docker/parking.js';
import { dockerReady, RUNTIME_IMAGE } from './helpers/docker.js';
import { startServer, type RunningServer } from './helpers/server.js';

const ready = await dockerReady();
const TPL = 'fixtures/nodejs/fc.yml';
const DOCKER = ['--backend', 'docker', '--image', RUNTIME_IMAGE];

describe.runIf(ready)('Docker backend', () => {
  const docker = new Docker();
  let srv: RunningServer;
  const invoke = (fn: string, body = '') =>
    fetch(`${srv.base}/2016-08-15/services/node-svc/functions/${fn}/invocations`, { method: 'POST', body });
  const ours = (fn?: string) =>
    docker.listContainers({ all: true, filters: { label: ['fc-local=1', `fc-local.pid=${srv.proc.pid}`, ...(fn ? [`fc-local.function=node-svc/${fn}`] : [])] } });

  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', ...DOCKER]);
  });
  afterAll(async () => {
    if (srv.proc.exitCode === null) await srv.stop();
  });

  it('runs functions as a non-root user with read-only code, a writable /tmp and FC limits', async () => {
    const r = await (await invoke('sandbox')).json();
    expect(r.uid).not.toBe(0);
    expect(r.code).toBe('EROFS');
    expect(r.root).toBe('EROFS');
    expect(r.tmp).toBe('ok');
    expect(r.nofile).toBe('1024');
    expect(r.pidsMax).toBe('1024');
  });

  it('publishes instance ports on 127.0.0.1 only', async () => {
    await invoke('sandbox');
    const [c] = await ours('sandbox');
    expect(c).toBeDefined();
    const bindings = (await docker.getContainer(c!.Id).inspect()).HostConfig.PortBindings as Record<string, { HostIp: string }[]>;
    expect(Object.values(bindings).flat().map((b) => b.HostIp)).toEqual(['127.0.0.1']);
  });

  it('holds the memory limit: an OOM reports FC\'s error and the instance is replaced', async () => {
    const oom = await invoke('hog', '300');
    expect(oom.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
    expect(await oom.json()).toEqual({ errorMessage: "Process exited unexpectedly before completing request (out of memory: the function's memorySize is 128 MB)" });
    const ok = await invoke('hog', '20');
    expect(await ok.text()).toBe('allocated 20 MB');
  });

  it('replaces a container removed from outside, and the next request does not fail', async () => {
    const first = await (await invoke('counter')).json();
    const [c] = await ours('counter');
    await docker.getContainer(c!.Id).remove({ force: true });
    const r = await invoke('counter');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-fc-error-type')).toBeNull();
    const second = await r.json();
    expect(second.instance).not.toBe(first.instance);
    expect(second.invocations).toBe(1);
  });

  it('removes every container it started when it stops', async () => {
    expect((await ours()).length).toBeGreaterThan(0);
    const { exitCode } = await srv.stop();
    expect(exitCode).toBe(0);
    expect(await ours()).toEqual([]);
  });
});

describe.runIf(ready)('Docker backend housekeeping', () => {
  const docker = new Docker();

  it("removes leftovers of a crashed run at start, and never others' containers", async () => {
    const labels = { 'fc-local': '1', 'fc-local.host': os.hostname(), 'fc-local.pid': '999999999', 'fc-local.function': 'x/y' };
    const leftover = await docker.createContainer({ Image: RUNTIME_IMAGE, Cmd: ['sleep', '60'], Labels: labels, HostConfig: { NetworkMode: 'none' } });
    const foreign = await docker.createContainer({ Image: RUNTIME_IMAGE, Cmd: ['sleep', '60'], Labels: { 'someone-else': '1' }, HostConfig: { NetworkMode: 'none' } });
    try {
      const srv = await startServer(['-t', TPL, '--no-auth', ...DOCKER]);
      await srv.stop();
      // Any fc-local starting meanwhile (parallel test files) may be the one that removed it.
      await expect(leftover.inspect()).rejects.toThrow();
      expect((await foreign.inspect()).Id).toBe(foreign.id);
    } finally {
      await foreign.remove({ force: true });
      await leftover.remove({ force: true }).catch(() => undefined);
    }
  });

  it('starts instances eagerly with --warm', async () => {
    const srv = await startServer(['-t', 'fc.yml.example', '--no-auth', '--warm', '1', ...DOCKER]);
    try {
      const list = await docker.listContainers({ filters: { label: ['fc-local=1', `fc-local.pid=${srv.proc.pid}`] } });
      expect(list.map((c) => c.Labels['fc-local.function']).sort()).toEqual(['demo/hello', 'demo/on-events', 'demo/web']);
      const r = await fetch(`${srv.base}/2016-08-15/proxy/demo/web/x`);
      expect(r.status).toBe(200);
    } finally {
      await srv.stop();
    }
  });

  it('explains an image it cannot get, and how to use another', async () => {
    // A registry on a refused loopback port: the engine fails at once without leaving the machine.
    const r = await runCli(['invoke', 'echo', '-t', TPL, '--backend', 'docker', '--image', '127.0.0.1:9/fc-local/missing:0']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/image 127\.0\.0\.1:9\/fc-local\/missing:0 is not present and could not be pulled/);
    expect(r.stderr).toMatch(/--image NAME, FC_LOCAL_IMAGE=NAME, or .*fc-local\.json/);
  });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.runIf(ready)('a warm restart (--keep-warm)', () => {
  const docker = new Docker();
  // A copy of its own: another run of the same code would be entitled to take its containers over.
  let dir: string;
  let tpl: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-keep-warm-'));
    cpSync('fixtures/nodejs', dir, { recursive: true });
    // The code dir itself is mounted: the function's user reads it.
    chmodSync(dir, 0o755);
    tpl = path.join(dir, 'fc.yml');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const counters = () => docker.listContainers({ all: true, filters: { label: ['fc-local=1', 'fc-local.function=node-svc/counter'] } }).then((l) => l.filter((c) => JSON.stringify(c.Mounts).includes(dir)));
  const count = async (srv: RunningServer) => (await (await fetch(`${srv.base}/2016-08-15/services/node-svc/functions/counter/invocations`, { method: 'POST' })).json()) as { invocations: number; instance: string };

  it('leaves idle containers running at a clean exit; the next start of the same code answers its first request from one of them, warm', async () => {
    const first = await startServer(['-t', tpl, '--no-auth', '--keep-warm', '2m', ...DOCKER]);
    const before = await count(first);
    expect(before.invocations).toBe(1);
    expect((await first.stop()).exitCode).toBe(0);
    const [parked] = await counters();
    expect(parked?.State).toBe('running');
    expect(parked?.Names[0]).toMatch(/^\/fc-local-parked-\d+-/);

    // The first run's guardian waits to remove it at its time, unless a run takes it over sooner.
    const { guardian } = readRecord(parked!.Id)!;
    expect(guardian).toBeGreaterThan(0);
    const second = await startServer(['-t', tpl, '--no-auth', ...DOCKER]);
    try {
      expect(second.output()).toMatch(/warm restart: took over 1 x node-svc\/counter from the last run/);
      // Told of the takeover, that guardian has nothing left to wait for.
      while (alive(guardian!)) await new Promise((r) => setTimeout(r, 50));
      // The same instance, its memory intact: no container was created for it.
      const after = await count(second);
      expect(after).toMatchObject({ instance: before.instance, invocations: 2 });
      expect((await counters()).map((c) => c.Id)).toEqual([parked!.Id]);
      const [rec] = (await (await fetch(`${second.base}/_fc-local/api/invocations?function=node-svc/counter&limit=1`)).json()) as { coldStart: boolean }[];
      expect(rec?.coldStart).toBe(false);
    } finally {
      await second.stop();
    }
    // Without --keep-warm the taken-over container goes with the run.
    expect(await counters()).toEqual([]);
  });

  it('removes a parked container made for other code instead of taking it over, and one nobody took when its time is up', async () => {
    const first = await startServer(['-t', tpl, '--no-auth', '--keep-warm', '2m', ...DOCKER]);
    const before = await count(first);
    await first.stop();
    const [stale] = await counters();
    expect(stale).toBeDefined();
    // The code changes while nothing runs.
    writeFileSync(path.join(dir, 'index.js'), `${readFileSync(path.join(dir, 'index.js'), 'utf8')}\n// changed\n`);
    const second = await startServer(['-t', tpl, '--no-auth', '--keep-warm', '1s', ...DOCKER]);
    try {
      expect(second.output()).not.toMatch(/warm restart/);
      await expect(docker.getContainer(stale!.Id).inspect()).rejects.toThrow();
      const fresh = await count(second);
      expect(fresh.instance).not.toBe(before.instance);
      expect(fresh.invocations).toBe(1);
    } finally {
      await second.stop();
    }
    // Parked for a second: fc-local's guardian removes it then, though no fc-local runs.
    const [left] = await counters();
    expect(left?.Names[0]).toMatch(/^\/fc-local-parked-/);
    for (;;) {
      const gone = await docker
        .getContainer(left!.Id)
        .inspect()
        .then(() => false, () => true);
      if (gone) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});

describe('Docker backend selection', () => {
  it('fails clearly with --backend docker when no engine answers', async () => {
    const r = await runCli(['invoke', 'echo', '-t', TPL, '--backend', 'docker'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:9' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--backend docker: no container engine answers at tcp:\/\/127\.0\.0\.1:9 \(DOCKER_HOST\)/);
  });

  it('finds the engine through the current docker context and names it in the banner', async () => {
    const config = mkdtempSync(path.join(os.tmpdir(), 'fc-docker-config-'));
    try {
      const meta = path.join(config, 'contexts', 'meta', createHash('sha256').update('ci').digest('hex'));
      mkdirSync(meta, { recursive: true });
      writeFileSync(path.join(meta, 'meta.json'), JSON.stringify({ Name: 'ci', Endpoints: { docker: { Host: 'unix:///var/run/docker.sock' } } }));
      writeFileSync(path.join(config, 'config.json'), JSON.stringify({ currentContext: 'ci' }));
      const srv = await startServer(['-t', TPL, '--no-auth', ...DOCKER], { DOCKER_HOST: '', DOCKER_CONFIG: config });
      try {
        expect(srv.output()).toMatch(/backend\s+docker \((Docker Engine|Podman) [^ ]+ at unix:\/\/\/var\/run\/docker\.sock \(docker context ci\); image/);
        expect(await (await fetch(`${srv.base}/2016-08-15/services/node-svc/functions/echo/invocations`, { method: 'POST', body: 'ctx' })).text()).toBe('ctx');
      } finally {
        await srv.stop();
      }
    } finally {
      rmSync(config, { recursive: true, force: true });
    }
  });

  it('falls back to the process backend with auto when no engine answers, and says so', async () => {
    const srv = await startServer(['-t', TPL, '--no-auth', '--backend', 'auto'], { DOCKER_HOST: 'tcp://127.0.0.1:9' });
    try {
      expect(srv.output()).toMatch(/backend\s+process \(child processes on 127\.0\.0\.1; no container engine answers at tcp:\/\/127\.0\.0\.1:9 \(DOCKER_HOST\)\)/);
      expect(await (await fetch(`${srv.base}/2016-08-15/services/node-svc/functions/echo/invocations`, { method: 'POST', body: 'p' })).text()).toBe('p');
    } finally {
      await srv.stop();
    }
  });
});

describe.runIf(process.env.FC_LOCAL_TCP_ENGINE)('a remote engine (tcp://, code copied in)', () => {
  const address = process.env.FC_LOCAL_TCP_ENGINE!;
  const url = new URL(address);
  const remote = new Docker({ host: url.hostname, port: Number(url.port), protocol: 'http' });

  it('runs containers without bind mounts, from volumes it removes at the end (its own parts stay cached)', async () => {
    const srv = await startServer(['-t', TPL, '--no-auth', ...DOCKER], { DOCKER_HOST: address });
    let session = '';
    try {
      expect(srv.output()).toMatch(/backend\s+docker \(Docker Engine [^ ]+ at tcp:\/\/127\.0\.0\.1:\d+ \(DOCKER_HOST\); code copied to the engine, not mounted; image/);
      expect(await (await fetch(`${srv.base}/2016-08-15/services/node-svc/functions/echo/invocations`, { method: 'POST', body: 'far' })).text()).toBe('far');
      const [c] = await remote.listContainers({ filters: { label: ['fc-local.function=node-svc/echo'] } });
      expect(c).toBeDefined();
      session = c!.Labels['fc-local.session']!;
      const info = await remote.getContainer(c!.Id).inspect();
      expect(info.HostConfig.Binds ?? []).toEqual([]);
      expect(info.Mounts.length).toBeGreaterThan(0);
      expect(info.Mounts.every((m) => m.Type === 'volume' && m.RW === false)).toBe(true);
      expect(info.Mounts.map((m) => m.Destination)).toEqual(expect.arrayContaining(['/code', '/var/fc-local/runtimes', '/var/fc-local/node_modules']));
    } finally {
      await srv.stop();
    }
    const left = (await remote.listVolumes({ filters: { label: [`fc-local.session=${session}`] } })).Volumes ?? [];
    expect(left.map((v) => v.Name)).toEqual([]);
    const cached = (await remote.listVolumes({ filters: { label: ['fc-local.cache=1'] } })).Volumes ?? [];
    expect(cached.length).toBeGreaterThanOrEqual(2);
  });
});

describe.runIf(ready)('an engine that goes away mid-run', () => {
  // The engine as fc-local sees it: a TCP proxy in front of the real one's socket, closed and
  // opened again by the test. Containers keep running on the real engine meanwhile.
  it("answers FC's start error while it is away, keeps warm instances serving, and starts again once it is back", async () => {
    const sockets = new Set<net.Socket>();
    const open = (port = 0) =>
      new Promise<net.Server>((resolve) => {
        const server = net.createServer((client) => {
          const engine = net.connect('/var/run/docker.sock');
          sockets.add(client).add(engine);
          client.pipe(engine).pipe(client);
          const end = () => (client.destroy(), engine.destroy());
          client.on('error', end).on('close', end);
          engine.on('error', end).on('close', end);
        });
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    let proxy = await open();
    const port = (proxy.address() as net.AddressInfo).port;
    const srv = await startServer(['-t', TPL, '--no-auth', '--backend', 'docker', '--engine', `tcp://127.0.0.1:${port}`, '--image', RUNTIME_IMAGE]);
    const invoke = async (fn: string) => {
      const r = await fetch(`${srv.base}/2016-08-15/services/node-svc/functions/${fn}/invocations`, { method: 'POST', body: 'x' });
      return { status: r.status, type: r.headers.get('x-fc-error-type'), body: await r.text() };
    };
    try {
      expect(await invoke('echo')).toMatchObject({ status: 200, body: 'x' });
      // Away: connections refused and cut.
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        sockets.forEach((s) => s.destroy());
      });
      const away = await invoke('object');
      expect(away.type).toBe('UnhandledInvocationError');
      expect(JSON.parse(away.body).errorMessage).toMatch(new RegExp(`the container engine at tcp://127\\.0\\.0\\.1:${port} \\(--engine\\) does not answer \\(ECONNREFUSED\\): start it again`));
      // The warm instance still runs on the engine: it keeps serving.
      expect(await invoke('echo')).toMatchObject({ status: 200, body: 'x' });
      // Back on the same address: a new instance starts, and the warm one was never replaced.
      proxy = await open(port);
      expect(await invoke('object')).toMatchObject({ status: 200 });
      expect(await invoke('echo')).toMatchObject({ status: 200, body: 'x' });
      expect(srv.output().match(/node-svc\/echo: instance started/g)).toHaveLength(1);
    } finally {
      await srv.stop();
      proxy.close();
      sockets.forEach((s) => s.destroy());
    }
  });
});

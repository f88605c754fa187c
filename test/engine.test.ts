import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EngineAddressError, engineAt, findEngine } from '../src/runtime/docker/engine.js';

// Finding the engine as the docker CLI does, on a made-up home and system root.
const dirs: string[] = [];
const servers: net.Server[] = [];
afterAll(() => {
  servers.forEach((s) => s.close());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'fc-engine-'));
  dirs.push(d);
  return d;
}

async function socketAt(file: string): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(file, resolve));
}

function context(configDir: string, name: string, host: string): void {
  const meta = path.join(configDir, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'));
  mkdirSync(meta, { recursive: true });
  writeFileSync(path.join(meta, 'meta.json'), JSON.stringify({ Name: name, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
}

describe('finding the engine', () => {
  it('takes DOCKER_HOST first, then the docker context, then the sockets engines create', async () => {
    const home = tmp();
    const root = tmp();
    expect(findEngine({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }, home, root)).toMatchObject({ how: 'DOCKER_HOST', remote: true, options: { protocol: 'http', host: '127.0.0.1', port: 2375 } });
    // No socket anywhere: the default one, named as such.
    expect(findEngine({}, home, root)).toMatchObject({ host: 'unix:///var/run/docker.sock', how: 'the default socket' });
    // Colima's socket in the home folder.
    await socketAt(path.join(home, '.colima', 'default', 'docker.sock'));
    expect(findEngine({}, home, root)).toMatchObject({ how: "Colima's socket", remote: false, options: { socketPath: path.join(home, '.colima', 'default', 'docker.sock') } });
    // Rootless Podman comes after it; on its own it is found.
    const runtimeDir = tmp();
    await socketAt(path.join(runtimeDir, 'podman', 'podman.sock'));
    expect(findEngine({ XDG_RUNTIME_DIR: runtimeDir }, tmp(), root)).toMatchObject({ how: "Podman's socket (rootless)" });
    // The current context of config.json wins over sockets; DOCKER_CONTEXT over config.json.
    const config = path.join(home, '.docker');
    context(config, 'far', 'ssh://dev@build.localhost:2222');
    context(config, 'near', 'unix:///tmp/near.sock');
    writeFileSync(path.join(config, 'config.json'), JSON.stringify({ currentContext: 'far' }));
    expect(findEngine({}, home, root)).toMatchObject({ how: 'docker context far', remote: true, options: { protocol: 'ssh', host: 'build.localhost', port: 2222, username: 'dev' } });
    expect(findEngine({ DOCKER_CONTEXT: 'near' }, home, root)).toMatchObject({ how: 'docker context near', remote: false, options: { socketPath: '/tmp/near.sock' } });
    expect(findEngine({ DOCKER_CONTEXT: 'default' }, home, root)).toMatchObject({ how: "Colima's socket" });
  });

  it('says what is wrong with an address or a context it cannot use', () => {
    const home = tmp();
    expect(() => findEngine({ DOCKER_CONTEXT: 'gone' }, home, tmp())).toThrow(/the docker context "gone" \(DOCKER_CONTEXT\) has no readable .*meta\.json: `docker context ls`/);
    expect(() => engineAt('fd://3', 'DOCKER_HOST')).toThrow(EngineAddressError);
    expect(() => engineAt('fd://3', 'DOCKER_HOST')).toThrow(/does not speak fd:\/\/ to an engine/);
    expect(() => engineAt('not a url', 'DOCKER_HOST')).toThrow(/DOCKER_HOST is not an engine address: not a url/);
    expect(engineAt('tcp://10.0.0.2:2376', 'DOCKER_HOST', { DOCKER_API_VERSION: '1.41' }).options).toMatchObject({ protocol: 'http', port: 2376, version: 'v1.41' });
  });
});

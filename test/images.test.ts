import { execa, type ResultPromise } from 'execa';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/runtime/instance-io.js';
import { BACKENDS } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { scaled } from './helpers/time-scale.js';

// Where runtime images come from: a real registry on 127.0.0.1 (Debian's docker-registry) as a
// mirror prefix (--registry), the registry stopped mid-run (fc-local's offline image stands in,
// and the failed pull is remembered, so the next one-shot invoke does not wait for it again),
// and --pull never. The registry's images are the offline image retagged under mirror names.

const registryBin = ['/usr/bin/docker-registry'].find((p) => existsSync(p));
if (!registryBin && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error('the image tests need Debian\'s docker-registry (apt-get install docker-registry)');
const docker = BACKENDS.find((b) => b.name === 'docker');

describe.runIf(docker && registryBin)('[docker] images from a registry', () => {
  let registry: ResultPromise | undefined;
  let port: number;
  let prefix: string;
  let dir: string;
  const mirrored = () => `${prefix}/node:18-slim`;
  const fcMirrored = () => `${prefix}/aliyunfc/runtime-nodejs18:latest`;

  const startRegistry = async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'fc-local-registry-'));
    writeFileSync(path.join(root, 'config.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    registry = execa(registryBin!, ['serve', path.join(root, 'config.yml')], { reject: false, all: true });
    const deadline = Date.now() + scaled(20_000);
    while (Date.now() < deadline) {
      if (await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the registry did not start');
  };

  beforeAll(async () => {
    port = await freePort();
    // A namespace of this run's own: parallel suites share the engine.
    prefix = `127.0.0.1:${port}/mirror-${randomUUID().slice(0, 8)}`;
    await startRegistry();
    await execa('docker', ['tag', docker!.image!, mirrored()]);
    await execa('docker', ['push', mirrored()]);
    await execa('docker', ['rmi', mirrored()]);
    // FC's own image name for nodejs18 in the same registry (the offline image again, under FC's name).
    await execa('docker', ['tag', docker!.image!, fcMirrored()]);
    await execa('docker', ['push', fcMirrored()]);
    await execa('docker', ['rmi', fcMirrored()]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-images-'));
    chmodSync(dir, 0o755);
    mkdirSync(path.join(dir, 'code'));
    writeFileSync(path.join(dir, 'code', 'index.js'), "exports.handler = (e, c, cb) => cb(null, 'from ' + process.version.split('.')[0]);\n");
    writeFileSync(path.join(dir, 'fc.yml'), 'services:\n  s:\n    functions:\n      f:\n        runtime: nodejs18\n        handler: index.handler\n        codeUri: ./code\n');
  }, scaled(120_000));
  afterAll(async () => {
    registry?.kill();
    await execa('docker', ['rmi', '-f', mirrored(), fcMirrored()], { reject: false });
  });

  const invoke = (...extra: string[]) => runCli(['invoke', 's/f', '-t', path.join(dir, 'fc.yml'), '--backend', 'docker', '--event', '{}', ...extra], { timeout: scaled(120_000) });

  it('pulls the runtime image through a registry prefix (--registry) and serves from it', async () => {
    const r = await invoke('--registry', prefix);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toBe('from v18');
    expect(r.stderr).toContain(`pulling image ${mirrored()} ...`);
    expect(r.stderr).toContain(`pulled image ${mirrored()}`);
    // Present now: the next run pulls nothing.
    const again = await invoke('--registry', prefix);
    expect(again.stderr).not.toContain('pulling image');
    // FC's own image family: aliyunfc/runtime-nodejs18, through the same registry prefix.
    const fc = await invoke('--registry', prefix, '--images', 'fc');
    expect(fc.exitCode, String(fc.stderr)).toBe(0);
    expect(fc.stdout).toBe('from v18');
    expect(fc.stderr).toContain(`pulled image ${fcMirrored()}`);
    // No registry named: the first candidate that answers is chosen (a refused one first), and kept.
    await execa('docker', ['rmi', '-f', fcMirrored()]);
    const env = { FC_LOCAL_REGISTRY_CANDIDATES: `127.0.0.1:9/nothing,${prefix}` };
    const viaProbe = await runCli(['invoke', 's/f', '-t', path.join(dir, 'fc.yml'), '--backend', 'docker', '--images', 'fc', '--event', '{}'], { env, timeout: scaled(120_000) });
    expect(viaProbe.stdout, String(viaProbe.stderr)).toBe('from v18');
    expect(viaProbe.stderr).toContain(`pulled image ${fcMirrored()}`);
    expect(JSON.parse(readFileSync(path.join(dir, '.fc-local', 'registry.json'), 'utf8'))).toMatchObject({ chosen: prefix });
  }, scaled(120_000));

  it('names the image and the cause for a registry that answers 404 or garbage, and for an image without the runtime\'s language', async () => {
    const missing = await invoke('--image', `${prefix}/absent:1`);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toMatch(new RegExp(`image ${prefix.replace(/[.]/g, '\\.')}/absent:1 is not present and could not be pulled \\(.*(not found|unknown)`));
    // A server that answers anything with garbage, where a registry should be.
    const garbagePort = await freePort();
    const garbage = http.createServer((_req, res) => res.end('<<not a registry>>')).listen(garbagePort, '127.0.0.1');
    try {
      const r = await invoke('--image', `127.0.0.1:${garbagePort}/some/image:1`);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(`image 127.0.0.1:${garbagePort}/some/image:1 is not present and could not be pulled (`);
    } finally {
      garbage.close();
    }
    // One that wants credentials fc-local does not have.
    const lockedPort = await freePort();
    const locked = http.createServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'docker-distribution-api-version': 'registry/2.0' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}')).listen(lockedPort, '127.0.0.1');
    try {
      const r = await invoke('--image', `127.0.0.1:${lockedPort}/private/image:1`);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`image 127\\.0\\.0\\.1:${lockedPort}/private/image:1 is not present and could not be pulled \\(.*(unauthorized|auth|401).*docker login 127\\.0\\.0\\.1:${lockedPort} gives the engine them`, 'i'));
    } finally {
      locked.close();
    }
    // An image without node for a nodejs18 function.
    const noNode = `fc-local-test-no-node-${randomUUID().slice(0, 8)}:1`;
    const ctx = mkdtempSync(path.join(os.tmpdir(), 'fc-local-no-node-'));
    writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${docker!.image}\nRUN rm -f /usr/bin/node /usr/bin/nodejs\n`);
    await execa('docker', ['build', '-q', '-t', noNode, ctx]);
    try {
      const r = await invoke('--image', noNode);
      expect(r.stdout).toContain(`the image ${noNode} has no node for the nodejs18 runtime of s/f (looked for \`node\` on the image's PATH)`);
    } finally {
      await execa('docker', ['rmi', '-f', noNode], { reject: false });
    }
  }, scaled(120_000));

  it('uses the local copy or the offline image when the registry is gone, remembers the failed pull, and --pull never pulls nothing', async () => {
    registry?.kill();
    await registry;
    // The copy pulled before is there: --pull always tries, fails, and uses it.
    const always = await invoke('--registry', prefix, '--pull', 'always');
    expect(always.stdout).toBe('from v18');
    expect(always.stderr).toMatch(new RegExp(`could not pull image ${mirrored().replace(/[.]/g, '\\.')} \\(.*\\): using the copy this machine has`));
    // Without it: fc-local's offline image stands in for the default image.
    await execa('docker', ['rmi', '-f', mirrored()]);
    const fallback = await invoke('--registry', prefix);
    expect(fallback.stdout).toBe('from v18');
    expect(fallback.stderr).toMatch(/could not be pulled \(.*\): using fc-local\/runtime:offline-\d+, fc-local's offline image on this machine/);
    const memory = JSON.parse(readFileSync(path.join(dir, '.fc-local', 'pull-failures.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(memory)).toContain(mirrored());
    // The next one-shot invoke does not try the registry again.
    const remembered = await invoke('--registry', prefix);
    expect(remembered.stdout).toBe('from v18');
    expect(remembered.stderr).toContain('remembered from a pull');
    expect(remembered.stderr).not.toContain(`pulling image ${mirrored()}`);
    // --pull never: an image that is not here is an error at once, naming it and the ways out.
    const never = await invoke('--image', `${prefix}/absent:1`, '--pull', 'never');
    expect(never.exitCode).not.toBe(0);
    expect(never.stderr).toContain(`image ${prefix}/absent:1 is not present and could not be pulled (--pull never)`);
  }, scaled(180_000));
});

import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { dockerReady } from './helpers/docker.js';
import { scaled } from './helpers/time-scale.js';

// fc-local's own image builds here, from the offline base (no registry), and runs functions.

const ready = await dockerReady();

describe.runIf(ready)("fc-local's own image", () => {
  it('builds from the offline base and invokes a function inside', async () => {
    const tag = 'fc-local/fc-local:test';
    // The suite runs on a fresh build: no rebuild in place under the other tests' CLIs.
    // Its own limit, within the test's: a stalled step fails with the steps it printed (stderr).
    const built = await execa('bash', ['scripts/build-fc-local-image.sh', tag], {
      cwd: ROOT,
      env: { FC_LOCAL_IMAGE_PREBUILT: '1' },
      timeout: scaled(200_000),
    });
    expect(built.stdout.trim()).toBe(tag);
    const version = await execa('docker', ['run', '--rm', tag, '--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const run = await execa('docker', ['run', '--rm', '--network', 'host', '-v', `${ROOT}:/project`, tag, 'invoke', 'demo/hello', '-t', 'fc.yml.example', '--backend', 'process', '--event', 'from the image']);
    expect(JSON.parse(run.stdout)).toMatchObject({ message: 'hello, fc-local', input: 'from the image' });
  }, scaled(300_000));
});

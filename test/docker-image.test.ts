import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { dockerReady, RUNTIME_IMAGE } from './helpers/docker.js';

const ready = await dockerReady();

describe.runIf(ready)('offline runtime image', () => {
  it('runs node and python3 without a registry', async () => {
    const docker = new Docker();
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const [result] = (await docker.run(RUNTIME_IMAGE, ['sh', '-c', 'node -e "console.log(process.version)" && python3 -c "import sys; print(sys.version_info[0])"'], out, {
      HostConfig: { AutoRemove: true, NetworkMode: 'none' },
    })) as [{ StatusCode: number }];
    expect(result.StatusCode).toBe(0);
    expect(text).toMatch(/^v\d+\.\d+\.\d+\s+3\s*$/);
  });
});

import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { fixture } from './helpers/cli.js';
import { scaled } from './helpers/time-scale.js';

// A test suite on a machine with no Alibaba Cloud keys at all: the library gives the emulator
// placeholder keys, so a function's ali-oss client (which refuses empty keys) reaches the local
// OSS with the credentials FC hands it, and a test's own client signs with fc.oss's.

for (const k of ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ACCESS_KEY_ID', 'ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN']) delete process.env[k];

describe('startEmulator without local credentials', () => {
  it("gives the functions keys that the local OSS takes: an upload's function reads and writes with ali-oss", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-nokeys-'));
    cpSync(fixture('oss'), dir, { recursive: true });
    await using fc = await startEmulator({ template: path.join(dir, 'fc.yml'), backend: 'process' });
    // Keys of its own unless the machine has some (a ~/.fcli profile).
    if (fc.oss.accessKeyId === 'fc-local-test-key') expect(fc.oss.accessKeySecret).toBe('fc-local-test-secret');
    expect(fc.oss.accessKeyId).not.toBe('');
    expect((await fetch(`${fc.oss.endpoint}/photos/in/n.txt`, { method: 'PUT', body: 'keys' })).status).toBe(200);
    const thumb = await fc.invocations.next({ function: 'photos/thumb', source: 'oss', timeout: scaled(20_000) });
    expect(thumb.status, thumb.result?.toString()).toBe('succeeded');
    expect(await (await fetch(`${fc.oss.endpoint}/photos/out/n.txt`)).text()).toBe('syek');
  });
});

import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { startEmulator, StateArchiveError } from '../src/index.js';
import { fixture, runCli } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// fc-local's state (the local OSS, queued and finished async work, the workbench's history):
// kept across restarts by default, nothing kept with `ephemeral`, and one archive to save, load
// or reset between tests.

const copy = (name: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `fc-local-state-${name}-`));
  cpSync(fixture(name), dir, { recursive: true });
  return dir;
};

const putObject = async (endpoint: string, key: string, body: string) => {
  await fetch(`${endpoint}/notes`, { method: 'PUT' });
  const r = await fetch(`${endpoint}/notes/${key}`, { method: 'PUT', body });
  expect(r.status).toBe(200);
};
const getObject = async (endpoint: string, key: string) => {
  const r = await fetch(`${endpoint}/notes/${key}`);
  return r.status === 200 ? r.text() : r.status;
};

describe('state', () => {
  it('saves, resets and loads OSS objects and queued async work as one archive', async () => {
    await using fc = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process', clock: 'manual' });
    await putObject(fc.oss.endpoint, 'a.txt', 'kept');
    // A failed async invocation waiting for its retry: queued work, in the journal.
    await fc.invoke('clock/flaky', 'order-9', { async: true });
    expect(await fc.invocations.next({ function: 'clock/flaky' })).toMatchObject({ status: 'failed', attempt: 1 });
    const archive = await fc.state.save();
    await fc.state.reset();
    expect(await getObject(fc.oss.endpoint, 'a.txt')).toBe(404);
    // Reset: the retry is gone with the journal.
    await fc.clock.advance('1m');
    await expect(fc.invocations.next({ function: 'clock/flaky', timeout: 1 })).rejects.toThrow(/no invocation/);
    await fc.state.load(archive);
    expect(await getObject(fc.oss.endpoint, 'a.txt')).toBe('kept');
    // Loaded: the queued retry runs (at once: its back-off began before the save).
    await fc.clock.advance('1s');
    expect(await fc.invocations.next({ function: 'clock/flaky', timeout: scaled(10_000) })).toMatchObject({ attempt: 2 });
  });

  it('waits for running invocations before it resets', async () => {
    await using fc = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process' });
    const finished = fc.invoke('clock/slow').then(() => performance.now());
    for (const t0 = Date.now(); fc.metrics()['clock/slow']!.busy === 0; ) {
      if (Date.now() - t0 > scaled(10_000)) throw new Error('the invocation never ran');
      await new Promise((r) => setTimeout(r, 5));
    }
    await fc.state.reset();
    const resetAt = performance.now();
    expect(await finished).toBeLessThanOrEqual(resetAt);
  });

  it('refuses a corrupt or foreign archive and leaves the state as it was', async () => {
    await using fc = await startEmulator({ template: path.join(copy('clock'), 'fc.yml'), backend: 'process' });
    await putObject(fc.oss.endpoint, 'b.txt', 'still here');
    await expect(fc.state.load(Buffer.from('not an archive'))).rejects.toThrow(StateArchiveError);
    await expect(fc.state.load(gzipSync(Buffer.alloc(1024)))).rejects.toThrow(/no manifest\.json/);
    expect(await getObject(fc.oss.endpoint, 'b.txt')).toBe('still here');
    // Over HTTP too, with the same words.
    const r = await fc.fetch('/_fc-local/api/state', { method: 'PUT', body: 'junk' });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { ErrorMessage: string }).ErrorMessage).toMatch(/current state is unchanged/);
    expect(await getObject(fc.oss.endpoint, 'b.txt')).toBe('still here');
  });

  it('keeps the state across a restart by default, and nothing with ephemeral', async () => {
    const dir = copy('clock');
    const template = path.join(dir, 'fc.yml');
    const stateDir = path.join(dir, '.fc-local');
    {
      await using fc = await startEmulator({ template, backend: 'process', stateDir });
      await putObject(fc.oss.endpoint, 'c.txt', 'survives');
      await fc.invoke('clock/audit', JSON.stringify({ responsePayload: 'x' }));
    }
    {
      await using fc = await startEmulator({ template, backend: 'process', stateDir });
      expect(await getObject(fc.oss.endpoint, 'c.txt')).toBe('survives');
      const history = (await (await fc.fetch('/_fc-local/api/invocations')).json()) as { function: string }[];
      expect(history.map((h) => h.function)).toContain('clock/audit');
      // The per-minute figures too.
      const series = (await (await fc.fetch('/_fc-local/api/series?function=clock/audit')).json()) as { invocations: number }[];
      expect(series.reduce((n, m) => n + m.invocations, 0)).toBe(1);
    }
    const other = copy('clock');
    {
      await using fc = await startEmulator({ template: path.join(other, 'fc.yml'), backend: 'process', ephemeral: true });
      await putObject(fc.oss.endpoint, 'd.txt', 'gone');
    }
    expect(existsSync(path.join(other, '.fc-local', 'oss', 'notes'))).toBe(false);
    {
      await using fc = await startEmulator({ template: path.join(other, 'fc.yml'), backend: 'process' });
      expect(await getObject(fc.oss.endpoint, 'd.txt')).not.toBe('gone');
    }
  });

  it('fc-local state save, reset and load: through a running fc-local, or on the folders when none runs', async () => {
    const dir = copy('clock');
    const template = path.join(dir, 'fc.yml');
    const archive = path.join(dir, 'saved.tar.gz');
    const stateDir = path.join(dir, 'state');
    const serve = () => startServer(['-t', template, '--backend', 'process', '--no-auth', '--state-dir', stateDir]);
    const endpoint = (out: string) => /oss {10}(http:\/\/\S+)/.exec(out)![1]!;
    let srv = await serve();
    try {
      await putObject(endpoint(srv.output()), 'e.txt', 'archived');
      const saved = await runCli(['state', 'save', archive, '-t', template, '--state-dir', stateDir]);
      expect(saved.exitCode, String(saved.stderr)).toBe(0);
      expect(saved.stdout).toMatch(/saved the state to .*saved\.tar\.gz \(through the fc-local at http:\/\/127\.0\.0\.1:\d+\)/);
    } finally {
      await srv.stop();
    }
    expect((await runCli(['state', 'reset', '-t', template, '--state-dir', stateDir])).stdout).toMatch(/^reset the state$/m);
    srv = await serve();
    try {
      expect(await getObject(endpoint(srv.output()), 'e.txt')).toBe(404);
    } finally {
      await srv.stop();
    }
    writeFileSync(path.join(dir, 'junk.tar.gz'), 'junk');
    const bad = await runCli(['state', 'load', path.join(dir, 'junk.tar.gz'), '-t', template, '--state-dir', stateDir]);
    expect(bad.exitCode).not.toBe(0);
    expect(String(bad.stderr)).toMatch(/junk\.tar\.gz: the archive cannot be read: .*the state is unchanged/);
    expect((await runCli(['state', 'load', archive, '-t', template, '--state-dir', stateDir])).stdout).toMatch(/^loaded the state from /m);
    srv = await serve();
    try {
      expect(await getObject(endpoint(srv.output()), 'e.txt')).toBe('archived');
    } finally {
      await srv.stop();
    }
  }, scaled(60_000));
});

import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// Custom containers: the function's own image, built by fc-local from a Dockerfile (on the
// offline base image, no registry), serving HTTP and event functions on FC's contract, gated by
// its health check, rebuilt on a save and swapped with no failed request; a missing image says
// how to make it; the process backend names the Docker backend.

const tag = `fc-local-test-cc-${randomUUID().slice(0, 8)}`;
function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-cc-'));
  cpSync(fixture('container'), dir, { recursive: true });
  chmodSync(dir, 0o755);
  const docker = BACKENDS.find((b) => b.name === 'docker');
  writeFileSync(path.join(dir, 'app', 'Dockerfile'), `FROM ${docker?.image ?? 'fc-local/runtime'}\nCOPY server.js VERSION /app/\nCMD ["node", "/app/server.js"]\n`);
  const tpl = path.join(dir, 'fc.yml');
  writeFileSync(tpl, readFileSync(tpl, 'utf8').replaceAll('IMAGE', `${tag}:1`).replace('MISSING', `${tag}-missing:1`));
  writeFileSync(path.join(dir, 'fc-local.json'), JSON.stringify({ build: { 'cc/web': { context: 'app' } } }));
  return dir;
}

const invoke = (srv: RunningServer, fn: string, body = '') =>
  fetch(`${srv.base}/2016-08-15/services/cc/functions/${fn}/invocations`, { method: 'POST', body }).then(async (r) => ({ status: r.status, body: await r.text() }));

afterAll(async () => {
  await execa('docker', ['rmi', '-f', `${tag}:1`], { reject: false });
});

describe.runIf(BACKENDS.some((b) => b.name === 'docker'))('[docker] custom containers', () => {
  const docker = BACKENDS.find((b) => b.name === 'docker')!;

  it('builds the image from its Dockerfile, waits for its health check, serves HTTP and events, and rebuilds on a save with no failed request', async () => {
    const dir = project();
    const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...docker.args]);
    try {
      expect(srv.output()).toMatch(new RegExp(`cc/web image: built ${tag}:1 in \\d+ ms`));
      const first = JSON.parse(await (await fetch(`${srv.base}/2016-08-15/proxy/cc/web/hello`)).text()) as { version: string; firstRequestAfterMs: number };
      expect(first.version).toBe('v1');
      // Healthy 2 s after it starts: no request before.
      expect(first.firstRequestAfterMs).toBeGreaterThanOrEqual(2000);
      expect(await invoke(srv, 'ev', 'hi')).toEqual({ status: 200, body: 'event hi in ev v1' });

      // A steady 20 requests a second while the image is rebuilt and the containers swapped.
      let failed = 0;
      const samples: string[] = [];
      let sent = 0;
      let latest = 'v1';
      const inFlight: Promise<void>[] = [];
      const ticker = setInterval(() => {
        sent++;
        inFlight.push(
          fetch(`${srv.base}/2016-08-15/proxy/cc/web/load`)
            .then(async (r) => {
              const text = await r.text();
              if (r.status !== 200) {
                failed++;
                if (samples.length < 3) samples.push(`${r.status} ${text.slice(0, 300)}`);
              }
              else latest = (JSON.parse(text) as { version: string }).version;
            })
            .catch((err: Error) => {
              failed++;
              if (samples.length < 3) samples.push(err.message);
            }),
        );
      }, 50);
      try {
        const mark = srv.output().length;
        writeFileSync(path.join(dir, 'app', 'VERSION'), 'v2\n');
        await srv.waitFor(new RegExp(`cc/web image: built ${tag}:1`), undefined, mark);
        await srv.waitFor(/reloaded cc\/web \(rebuilt after VERSION changed\)/, undefined, mark);
        const deadline = Date.now() + scaled(30_000);
        while (latest !== 'v2' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        clearInterval(ticker);
        await Promise.all(inFlight);
      }
      expect(latest).toBe('v2');
      expect(sent).toBeGreaterThan(10);
      expect(failed, `failed requests, the first: ${samples.join(' | ')}\n${srv.output().slice(-3000)}`).toBe(0);
    } finally {
      await srv.stop();
    }
  }, scaled(120_000));

  it('says how to make a missing image, what a container that exits printed, and keeps the old image when a build fails', async () => {
    const dir = project();
    const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...docker.args]);
    try {
      const r = await invoke(srv, 'missing');
      expect(JSON.parse(r.body)).toMatchObject({ errorType: 'InstanceStartError', errorMessage: expect.stringContaining(`the image ${tag}-missing:1 of cc/missing is not on this machine: build it (docker build -t ${tag}-missing:1 .)`) });
      const crash = JSON.parse((await invoke(srv, 'crash')).body) as { errorMessage: string };
      expect(crash.errorMessage).toContain(`the image ${tag}:1 for cc/crash (expected to listen on port 9000, customContainerConfig.port) failed to start`);
      expect(crash.errorMessage).toContain('broken on purpose');
      expect((await invoke(srv, 'ev', 'still')).body).toBe('event still in ev v1');
      // A Dockerfile that fails to build: the log's tail, and the image before it keeps serving.
      const mark = srv.output().length;
      writeFileSync(path.join(dir, 'app', 'Dockerfile'), `${readFileSync(path.join(dir, 'app', 'Dockerfile'), 'utf8')}RUN echo failing on purpose && exit 7\n`);
      await srv.waitFor(/cc\/web image: build failed: [^\n]*returned a non-zero code: 7/, undefined, mark);
      expect(srv.output().slice(mark)).toContain('failing on purpose');
      expect((await invoke(srv, 'ev', 'after')).body).toBe('event after in ev v1');
    } finally {
      await srv.stop();
    }
  }, scaled(120_000));
});

describe('custom containers on the process backend', () => {
  it('are named in the banner and answer an error naming --backend docker; the rest serves', async () => {
    const dir = project();
    const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--backend', 'process']);
    try {
      expect(srv.output()).toContain(`not served   cc/web (custom-container ${tag}:1), cc/ev (custom-container ${tag}:1), cc/missing (custom-container ${tag}-missing:1), cc/crash (custom-container ${tag}:1): custom containers run on the Docker backend only (--backend docker)`);
      const r = await invoke(srv, 'ev');
      expect(JSON.parse(r.body).errorMessage).toContain('it runs on the Docker backend only: start with --backend docker');
    } finally {
      await srv.stop();
    }
  });
});

import AdmZip from 'adm-zip';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Code as FC takes it: a .zip (unpacked once per version, followed by hot reload), a jar that
// stays a jar, and a Maven project that was never built (a clear error, not a class-not-found).

function project(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-zip-'));
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'maven'));
  writeFileSync(path.join(dir, 'maven', 'pom.xml'), '<project><artifactId>demo</artifactId></project>\n');
  writeFileSync(
    path.join(dir, 'fc.yml'),
    `services:
  zipped:
    functions:
      fn: { runtime: nodejs18, handler: index.handler, codeUri: ./code.zip }
      java: { runtime: java8, handler: example.App::handleRequest, codeUri: ./maven }
      slip: { runtime: nodejs18, handler: index.handler, codeUri: ./slip.zip }
`,
  );
  writeZip(dir, 'v1');
  const slip = new AdmZip();
  slip.addFile('index.js', Buffer.from('exports.handler = (e, c, cb) => cb(null, "x");'));
  slip.getEntries()[0]!.entryName = '../escaped.js';
  slip.writeZip(path.join(dir, 'slip.zip'));
  return dir;
}

function writeZip(dir: string, version: string): void {
  const zip = new AdmZip();
  zip.addFile('index.js', Buffer.from(`const util = require('./lib/util');\nexports.handler = (event, context, callback) => callback(null, util.answer('${version}', String(event)));\n`));
  zip.addFile('lib/util.js', Buffer.from('exports.answer = (v, e) => `zipped ${v}: ${e}`;\n'));
  zip.writeZip(path.join(dir, 'code.zip'));
}

describe.each(BACKENDS)('code packages [$name]', (backend) => {
  const dir = project();
  const tpl = path.join(dir, 'fc.yml');
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', tpl, '--no-auth', ...backend.args]);
  });
  afterAll(async () => {
    await srv.stop();
  });
  const invoke = (fn: string, body: string) => fetch(`${srv.base}/2016-08-15/services/zipped/functions/${fn}/invocations`, { method: 'POST', body });

  it('runs code from a .zip, and `invoke` does too', async () => {
    expect(await (await invoke('fn', 'a')).text()).toBe('zipped v1: a');
    const r = await runCli(['invoke', 'zipped/fn', '-t', tpl, '--event', 'b', ...backend.args]);
    expect(r.stdout).toBe('zipped v1: b');
  });

  it('follows a rewritten zip with hot reload', async () => {
    await invoke('fn', 'warm');
    writeZip(dir, 'v2');
    await srv.waitFor(/reloaded zipped\/fn \(code\.zip changed\)/);
    expect(await (await invoke('fn', 'c')).text()).toBe('zipped v2: c');
  });

  it('refuses a zip whose entries would land outside the code folder', async () => {
    const r = await invoke('slip', '');
    expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
    expect((await r.json()).errorMessage).toMatch(/slip\.zip: entry '\.\.\/escaped\.js' would unpack outside the code folder/);
  });

  it('says to build a Maven project that a Java codeUri points at', async () => {
    const r = await invoke('java', '');
    expect((await r.json()).errorMessage).toMatch(/zipped\/java is a Maven project, not built code: run `mvn package` in it and point codeUri at target\/<name>\.jar/);
  });
});

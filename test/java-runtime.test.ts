import { execa } from 'execa';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JAVA_AGENT_JAR } from '../src/runtime/agents.js';
import { fixture, runCli } from './helpers/cli.js';
import { BACKENDS } from './helpers/backends.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// The Java agent is built by scripts/build-java-agent.sh (CI runs it); without it, or without a
// JDK to compile the fixtures, these tests cannot run.
const ready = existsSync(JAVA_AGENT_JAR) && (await execa('javac', ['-version'], { reject: false })).exitCode === 0;
if (!ready && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error('Java tests need runtimes/java/fc-local-java-agent.jar (scripts/build-java-agent.sh) and a JDK');
if (!ready) console.warn('\n!!! SKIPPING JAVA TESTS !!! build the agent with scripts/build-java-agent.sh (needs a JDK and gson)\n');

const find = (dir: string, ext: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? find(path.join(dir, e.name), ext) : e.name.endsWith(ext) ? [path.join(dir, e.name)] : []));

/** Compiles the fixtures like a user's Maven build: a jar with lib/dep.jar inside, and a classes folder with lib/. */
async function buildProject(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-java-'));
  chmodSync(dir, 0o755);
  const dep = path.join(dir, 'dep-classes');
  await execa('javac', ['--release', '8', '-nowarn', '-Xlint:-options', '-d', dep, ...find(fixture('java', 'dep'), '.java')]);
  const classes = path.join(dir, 'classes');
  mkdirSync(path.join(classes, 'lib'), { recursive: true });
  await execa('jar', ['cf', path.join(classes, 'lib', 'dep.jar'), '-C', dep, '.']);
  await execa('javac', ['--release', '8', '-nowarn', '-Xlint:-options', '-cp', `${JAVA_AGENT_JAR}:${dep}`, '-d', classes, ...find(fixture('java', 'src'), '.java')]);
  // The jar layout: classes plus lib/dep.jar inside the jar.
  const staging = path.join(dir, 'staging');
  cpSync(classes, staging, { recursive: true });
  await execa('jar', ['cf', path.join(dir, 'hello.jar'), '-C', staging, '.']);
  const fn = (name: string, handler: string, codeUri: string, extra = '') =>
    `      ${name}:\n        runtime: java8\n        handler: ${handler}\n        codeUri: ${codeUri}\n        memorySize: 256\n        timeout: 10\n${extra}`;
  writeFileSync(
    path.join(dir, 'fc.yml'),
    `services:\n  java-svc:\n    functions:\n${[
      fn('hello', 'example.HelloFC::handleRequest', './hello.jar'),
      fn('pojo', 'example.PojoHello::handleRequest', './hello.jar'),
      fn('fails', 'example.Fails::handleRequest', './classes'),
      fn('counter', 'example.Counter::handleRequest', './classes', '        initializer: example.Counter::initialize\n'),
      fn('counter-jar', 'example.Counter::handleRequest', './hello.jar', '        initializer: example.Counter::initialize\n'),
      fn('missing', 'example.Nope::handleRequest', './classes'),
      fn('life', 'example.Lifecycle::handleRequest', './classes', '        instanceLifecycleConfig:\n          preStop: { handler: "example.Lifecycle::preStop", timeout: 5 }\n          preFreeze: { handler: "example.Lifecycle::preFreeze", timeout: 5 }\n'),
    ].join('')}`,
  );
  return dir;
}

describe.runIf(ready)('Java runtime', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await buildProject();
  }, scaled(120_000));

  for (const backend of BACKENDS) {
    describe(`[${backend.name}]`, () => {
      let srv: RunningServer;
      const invoke = async (fn: string, body = '') => {
        const r = await fetch(`${srv.base}/2016-08-15/services/java-svc/functions/${fn}/invocations`, { method: 'POST', body, headers: { 'X-Fc-Log-Type': 'Tail' } });
        return { status: r.status, type: r.headers.get('x-fc-error-type'), body: await r.text(), logs: Buffer.from(r.headers.get('x-fc-log-result') ?? '', 'base64').toString(), id: r.headers.get('x-fc-request-id') };
      };
      beforeAll(async () => {
        srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args], { ALIBABA_CLOUD_ACCESS_KEY_ID: 'java-key', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 's' });
      }, scaled(60_000));
      afterAll(() => srv.stop());

      it("runs the guide's HelloFC stream handler from a jar, with FC's log lines", async () => {
        const r = await invoke('hello');
        expect(r.status).toBe(200);
        expect(r.body).toBe('hello world');
        const lines = r.logs.trim().split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'TS '));
        expect(lines).toEqual([`FC Invoke Start RequestId: ${r.id}`, `TS ${r.id} [INFO] hello world`, `TS ${r.id} [WARN] a warning`, 'plain stdout line', `FC Invoke End RequestId: ${r.id}`]);
      });

      it("runs the guide's POJO example", async () => {
        const r = await invoke('pojo', '{"firstName": "FC", "lastName": "aliyun"}');
        expect(r.body).toBe('{"message":"Hello, FC aliyun"}');
      });

      it("maps an exception to UnhandledInvocationError with FC's Java error JSON", async () => {
        const r = await invoke('fails');
        expect(r.type).toBe('UnhandledInvocationError');
        expect(JSON.parse(r.body)).toEqual({ errorMessage: 'oops', errorType: 'java.io.IOException', errorCause: 'oops', stackTrace: [expect.stringMatching(/^example\.Fails\.handleRequest\(Fails\.java:\d+\)$/)] });
      });

      it('runs the initializer once per instance, gives the context, and loads lib/ jars (folder and jar)', async () => {
        for (const fn of ['counter', 'counter-jar']) {
          const a = await invoke(fn);
          expect(a.logs).toMatch(new RegExp(`^FC Initialize Start RequestId: ${a.id}\n.*\\[INFO\\] initializing ${fn}\nFC Initialize End`));
          const b = JSON.parse((await invoke(fn)).body);
          expect(JSON.parse(a.body)).toMatchObject({ initialized: 1, invocations: 1, requestId: a.id, accessKeyId: 'java-key', function: fn, handler: 'example.Counter::handleRequest', memory: 256, timeoutMs: 10_000, greeting: 'hello from lib' });
          expect(b).toMatchObject({ initialized: 1, invocations: 2 });
        }
      });

      it('runs preFreeze after each invocation and preStop before the instance stops (PreFreezeHandler, PreStopHandler)', async () => {
        const own = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', ...backend.args]);
        try {
          const r = await fetch(`${own.base}/2016-08-15/services/java-svc/functions/life/invocations`, { method: 'POST', body: '' });
          expect(await r.text()).toBe('java 1');
          await own.waitFor(/FC PreFreeze Start RequestId: \S+\n.*\[INFO\] java preFreeze after 1\n.*FC PreFreeze End/);
        } finally {
          await own.stop();
        }
        expect(own.output()).toMatch(/FC PreStop Start RequestId: \S+\n.*\[INFO\] java preStop after 1\n.*FC PreStop End/);
      }, scaled(60_000));

      it('names a missing class', async () => {
        const r = await invoke('missing');
        expect(r.type).toBe('UnhandledInvocationError');
        expect(JSON.parse(r.body)).toMatchObject({ errorMessage: "Class 'example.Nope' is missing from the code", errorType: 'java.lang.ClassNotFoundException' });
      });
    });
  }

  it('works through `fc-local invoke` too', async () => {
    const r = await runCli(['invoke', 'java-svc/pojo', '-t', path.join(dir, 'fc.yml'), '--backend', 'process', '--event', '{"firstName":"A","lastName":"B"}']);
    expect(r.stdout).toBe('{"message":"Hello, A B"}');
  });
});

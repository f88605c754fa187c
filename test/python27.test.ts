import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPython27 } from '../src/runtime/process/interpreters.js';
import { BACKENDS } from './helpers/backends.js';
import { fixture, runCli } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// python2.7 functions on a real Python 2.7 interpreter (found as a user's machine has it: on
// PATH, else pyenv's versions), through `invoke` and `start`. The Docker half runs where the
// image has python2 and otherwise checks that the error names the missing interpreter.

const TPL = fixture('python27', 'fc.yml');
const python27 = findPython27();
if (!python27.found) console.warn(`\n!!! SKIPPING PYTHON 2.7 TESTS: no interpreter (${python27.lookedFor}) !!!\n`);

describe.runIf(python27.found)('python2.7 on a real 2.7 interpreter [process]', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', '--backend', 'process', '--state-dir', fixture('python27', '.fc-local')]);
  });
  afterAll(async () => {
    await srv.stop();
  });
  const invoke = (fn: string, body: string) => fetch(`${srv.base}/2016-08-15/services/py27/functions/${fn}/invocations`, { method: 'POST', body });

  it('runs the handler on Python 2 with the initializer, warm, bytes in and JSON out', async () => {
    const first = await (await invoke('event', 'h\u00e9')).json();
    expect(first).toEqual({ major: 2, event: 'h\u00e9', n: 1, initialized: true });
    const second = await (await invoke('event', 'again')).json();
    expect(second.n).toBe(2);
  });

  it("maps an exception to FC's error JSON with the guide's frames", async () => {
    const r = await invoke('fails', '');
    expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
    const body = await r.json();
    expect(body.errorType).toBe('ValueError');
    expect(body.errorMessage).toBe('bad value \u00e9');
    expect(body.stackTrace[0][2]).toBe('in fails');
  });

  it('serves a WSGI app through the HTTP trigger', async () => {
    expect(await (await fetch(`${srv.base}/2016-08-15/proxy/py27/web/a/b`)).text()).toBe('wsgi 2 GET /a/b');
  });

  it('acknowledges receipt, so a crash runs once', async () => {
    await invoke('event', 'ok');
    const r = await invoke('event', 'exit');
    expect((await r.json()).errorMessage).toBe('Process exited unexpectedly before completing request');
    await new Promise((res) => setTimeout(res, scaled(200)));
    expect(srv.output().split(`RUN ${r.headers.get('x-fc-request-id')}`).length - 1).toBe(1);
  });
});

describe.runIf(BACKENDS.some((b) => b.name === 'docker'))('python2.7 [docker]', () => {
  it('names the interpreter the image lacks', async () => {
    const docker = BACKENDS.find((b) => b.name === 'docker')!;
    const r = await runCli(['invoke', 'py27/event', '-t', TPL, '--json', ...docker.args]);
    const out = JSON.parse(String(r.stdout));
    if (out.result) {
      expect(JSON.parse(out.result).major).toBe(2); // an image with python2: it runs
    } else {
      // The image has no python2: fc-local names the image, the runtime and the program it looked for.
      expect(out.error.errorMessage).toMatch(/the image \S+ has no python2 for the python2\.7 runtime of py27\/event \(looked for `python2` on the image's PATH\)/);
    }
  });
});

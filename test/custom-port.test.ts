import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';

// Custom runtimes as published demos write them: servers on FC's default caPort 9000 (shell +
// Node.js, shell + Python) that ignore FC_SERVER_PORT, and a start command from
// customRuntimeConfig. On Docker each container has its own 9000; on the process backend a
// fixed-port function runs one instance at a time and requests queue.

const TPL = fixture('custom-port', 'fc.yml');

describe.each(BACKENDS)('custom runtimes on their caPort [$name]', (backend) => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(['-t', TPL, '--no-auth', ...backend.args]);
  });
  afterAll(async () => {
    await srv.stop();
  });
  const invoke = (fn: string, body: string) => fetch(`${srv.base}/2016-08-15/services/ports/functions/${fn}/invocations`, { method: 'POST', body }).then((r) => r.text());

  it.each(['node9000', 'py9000'])('serves %s, a server that listens on 9000', async (fn) => {
    expect(await invoke(fn, 'hello')).toMatch(new RegExp(`^${fn} pid=\\d+ POST /invoke hello$`));
  });

  it('answers concurrent requests to a fixed-port server: queued on one process, or one container each', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => invoke('node9000', 'sleep:300')));
    const pids = new Set(answers.map((a) => /pid=(\d+)/.exec(a)![1]));
    for (const a of answers) expect(a).toMatch(/^node9000 pid=\d+ POST \/invoke sleep:300$/);
    if (backend.name === 'process') {
      expect(pids.size).toBe(1);
      expect(srv.output()).toMatch(/ports\/node9000: its server listens on its fixed port 9000 \(caPort\)/);
    }
  });

  it('serves a fixed-port server behind its HTTP trigger', async () => {
    const r = await fetch(`${srv.base}/2016-08-15/proxy/ports/node9000/a/b?c=1`);
    expect(await r.text()).toMatch(/^node9000 pid=\d+ GET \/2016-08-15\/proxy\/ports\/node9000\/a\/b\?c=1 $/);
  });

  it('starts customRuntimeConfig.command with its args', async () => {
    expect(await invoke('cmd', 'e1')).toBe('cmd args=--greeting hello event=e1');
  });
});

describe.runIf(BACKENDS.some((b) => b.name === 'process'))('a caPort taken by another program [process]', () => {
  it('names the port and the function', async () => {
    const other = http.createServer((_q, s) => s.end('someone else')).listen(9002, '127.0.0.1');
    await new Promise((r) => other.once('listening', r));
    const srv = await startServer(['-t', TPL, '--no-auth', '--backend', 'process']);
    try {
      const r = await fetch(`${srv.base}/2016-08-15/services/ports/functions/taken/invocations`, { method: 'POST' });
      expect(r.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
      expect((await r.json()).errorMessage).toMatch(/Port 9002 \(the caPort of ports\/taken\) is in use by another program/);
    } finally {
      await srv.stop();
      other.close();
    }
  });
});

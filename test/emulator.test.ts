import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emulator } from '../src/emulator/emulator.js';
import { ProcessBackend } from '../src/runtime/process/backend.js';
import { loadTemplateText } from '../src/template/load.js';
import { scaled } from './helpers/time-scale.js';

// The emulator core: one live template that every part follows. A reload that removes triggers
// must stop them everywhere in the same step: the HTTP route, the injection API and the
// sources that fire on their own (a timer), with no window where one part serves the old one.

const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-core-'));
chmodSync(dir, 0o755);
mkdirSync(path.join(dir, 'code'), { mode: 0o755 });
writeFileSync(
  path.join(dir, 'code', 'index.js'),
  `exports.handler = (event, context, callback) => { console.log('RUN ' + String(event).slice(0, 40)); callback(null, 'ok'); };
exports.web = (req, resp) => resp.send('web');`,
);
const file = path.join(dir, 'fc.yml');
const withTriggers = `
services:
  s:
    functions:
      f:
        runtime: nodejs18
        handler: index.handler
        codeUri: ./code
        triggers:
          tick: { type: timer, config: { cronExpression: '* * * * * *', enable: true } }
          files: { type: oss, config: { bucketName: bkt, events: ['oss:ObjectCreated:*'] } }
      w:
        runtime: nodejs18
        handler: index.web
        codeUri: ./code
        triggers:
          web: { type: http, config: { authType: anonymous, methods: [GET] } }
`;
const withoutTriggers = `
services:
  s:
    functions:
      f: { runtime: nodejs18, handler: index.handler, codeUri: ./code }
      w: { runtime: nodejs18, handler: index.web, codeUri: ./code }
`;

describe('emulator core', () => {
  const lines: { at: number; line: string }[] = [];
  let emulator: Emulator;
  let base: string;

  beforeAll(async () => {
    writeFileSync(file, withTriggers);
    emulator = new Emulator({
      template: loadTemplateText(file, withTriggers).template!,
      backend: new ProcessBackend(),
      credentials: { accessKeyId: '', accessKeySecret: '', securityToken: '', source: 'none' },
      note: () => {},
      onFunctionLine: (_fn, line) => lines.push({ at: performance.now(), line }),
    });
    base = await emulator.serve({ port: 0, host: '127.0.0.1', auth: false, asyncBackoffMs: 50, asyncConcurrency: 2, stateDir: path.join(dir, 'state'), ossDir: path.join(dir, 'oss'), logDir: path.join(dir, 'log'), warm: 0, watch: false });
  });
  afterAll(async () => {
    await emulator.stop();
  });

  const inject = (type: string, body: unknown) =>
    fetch(`${base}/_fc-local/events/${type}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('stops a removed trigger\'s route, injection and timer in the same step as the reload', async () => {
    // Before: the route serves, the OSS trigger fires, the timer ticks.
    expect(await (await fetch(`${base}/2016-08-15/proxy/s/w/`)).text()).toBe('web');
    expect((await (await inject('oss', { bucket: 'bkt', key: 'a.txt' })).json())[0].status).toBe('succeeded');
    await expect.poll(() => lines.filter((l) => l.line.includes('RUN {"triggerTime"')).length, { timeout: 5000 }).toBeGreaterThan(0);

    // Publish, and ask every part before any subscriber has run (no await in between).
    const published = emulator.store.publish(loadTemplateText(file, withoutTriggers).template!);
    const wallAt = Date.now();
    const [route, oss, timer] = await Promise.all([
      fetch(`${base}/2016-08-15/proxy/s/w/`),
      inject('oss', { bucket: 'bkt', key: 'b.txt' }),
      inject('timer', { service: 's', function: 'f', trigger: 'tick' }),
    ]);
    const diff = await published;

    expect(diff.changed.map((f) => f.name).sort()).toEqual(['f', 'w']);
    expect(route.status).toBe(404);
    expect((await route.json()).ErrorCode).toBe('TriggerNotFound');
    expect(await oss.json()).toEqual([]);
    expect(timer.status).toBe(404);
    // The timer fired no more: no tick due after the reload ran (one due before may still be
    // printing: its line can come late on a busy machine, so the tick's own time decides).
    await new Promise((r) => setTimeout(r, scaled(1500)));
    const dueAfter = lines.filter((l) => {
      const m = /RUN \{"triggerTime":"([^"]+)"/.exec(l.line);
      return m && Date.parse(m[1]!) > wallAt + 20;
    });
    expect(dueAfter.map((l) => l.line)).toEqual([]);
  });
});

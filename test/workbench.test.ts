import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// The workbench in a real headless Chromium (Debian's package): the page loads, invokes, lists
// invocations from every source live, filters, replays, fires events and charts FC's metrics.
// Each view's screenshot goes to docs/workbench/.

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
if (!CHROMIUM && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error('the workbench tests need Chromium (apt-get install chromium)');
const SHOTS = path.join(ROOT, 'docs', 'workbench');

describe.runIf(CHROMIUM)('workbench in Chromium', () => {
  let srv: RunningServer;
  let browser: Browser;
  let page: Page;
  const ossDir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-workbench-oss-'));
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) as `${string}.png`, fullPage: true });
  const tab = async (name: string) => {
    await page.click(`#tab-${name}`);
    await page.waitForSelector(`#tab-${name}.on`);
  };
  const text = (sel: string) => page.$eval(sel, (e) => (e as HTMLElement).innerText);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    srv = await startServer(['-t', 'fc.yml.example', '--no-auth', '--backend', 'process', '--oss-dir', ossDir], { FC_LOCAL_WORKBENCH_TOKEN: 'wb-token' });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run', '--disable-extensions'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
  }, scaled(60_000));
  afterAll(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it('needs the token from the banner when one is set, then serves every asset from fc-local', async () => {
    expect(srv.output()).toContain('/_fc-local/?token=wb-token');
    expect((await fetch(`${srv.base}/_fc-local/api/functions`)).status).toBe(401);
    expect((await fetch(`${srv.base}/_fc-local/events/oss`, { method: 'POST' })).status).toBe(401);
    const external: string[] = [];
    page.on('request', (r) => !r.url().startsWith(srv.base) && external.push(r.url()));
    await page.goto(`${srv.base}/_fc-local/?token=wb-token`, { waitUntil: 'networkidle2' });
    await page.waitForSelector('#functions tr[data-fn="demo/hello"]');
    expect(external).toEqual([]);
    expect(await text('#functions')).toContain('index.handler');
    await shot('functions');
  });

  it('answers bad input to its API with FC\'s error JSON', async () => {
    const call = (p: string, init: RequestInit = {}) =>
      fetch(`${srv.base}/_fc-local/api/${p}`, { ...init, headers: { 'x-fc-local-token': 'wb-token', 'content-type': 'application/json' } });
    const noName = await call('invoke', { method: 'POST', body: JSON.stringify({ function: 5 }) });
    expect(noName.status).toBe(400);
    expect(await noName.json()).toMatchObject({ ErrorCode: 'InvalidArgument', ErrorMessage: expect.stringContaining('function') });
    const badMethod = await call('invoke', { method: 'POST', body: JSON.stringify({ function: 'demo/web', http: { method: 'get;' } }) });
    expect((await badMethod.json()).ErrorMessage).toContain('http.method: an HTTP method in capitals');
    const unknown = await call('invoke', { method: 'POST', body: JSON.stringify({ function: 'demo/nope' }) });
    expect(unknown.status).toBe(404);
    expect((await call('invocations?limit=abc')).status).toBe(400);
    expect((await call('invoke', { method: 'POST', body: '{not json' })).status).toBe(400);
  });

  it('invokes a function from the editor and shows its result, logs, duration and memory', async () => {
    await tab('Invoke');
    await page.select('#invoke-fn', 'demo/hello');
    await page.select('#invoke-template', 'oss');
    expect(await page.$eval('#invoke-event', (e) => (e as HTMLTextAreaElement).value)).toContain('ObjectCreated:PutObject');
    await page.click('#invoke-run');
    await page.waitForSelector('#result .result-logs');
    expect(await text('#result .result-body')).toContain('hello, fc-local');
    const summary = await text('#result');
    expect(summary).toMatch(/succeeded[^]*duration \d+ ms[^]*billed \d+ ms[^]*memory \d+ MB[^]*(cold start|warm)/);
    expect(await text('#result .result-logs')).toMatch(/FC Invoke Start RequestId: [^]*FC Invoke End RequestId/);
    await shot('invoke');
  });

  it('shows an HTTP-trigger call made outside the page in Invocations within a second, filters and replays it', async () => {
    await tab('Invocations');
    const r = await fetch(`${srv.base}/2016-08-15/proxy/demo/web/from-curl?x=1`);
    const id = r.headers.get('x-fc-request-id')!;
    const t0 = Date.now();
    await page.waitForSelector(`#invocations tr[data-id="${id}"]`, { timeout: 1000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await text(`#invocations tr[data-id="${id}"]`)).toMatch(/demo\/web\s+http\s+succeeded 200/);
    await page.select('#filter-fn', 'demo/web');
    expect(await page.$$eval('#invocations tbody tr', (rows) => rows.map((row) => row.children[1]!.textContent))).toEqual(['demo/web']);
    await page.select('#filter-fn', '');
    await page.type('#filter-text', id.slice(0, 13));
    expect(await page.$$eval('#invocations tbody tr', (rows) => rows.length)).toBe(1);
    await shot('invocations');
    await page.click(`#invocations tr[data-id="${id}"]`);
    await page.waitForSelector('#detail-logs');
    expect(await text('#detail')).toContain('GET /2016-08-15/proxy/demo/web/from-curl?x=1');
    await page.click('#replay');
    await page.waitForSelector('#detail #result');
    expect(await text('#detail #result')).toMatch(/succeeded[^]*HTTP 200/);
    expect(await text('#detail #result .result-body')).toContain('/from-curl');
    await shot('invocation');
    // The replay is an invocation of its own, from the workbench.
    await page.click('#tab-Functions');
    await tab('Invocations');
    await page.waitForFunction(() => [...document.querySelectorAll('#invocations tbody tr')].some((tr) => /demo\/web\s+workbench/.test((tr as HTMLElement).innerText)));
  });

  it('fires an OSS event and the invocation it caused appears', async () => {
    await tab('Events');
    await page.click('#fire-oss');
    await page.waitForSelector('#fired');
    const fired = JSON.parse(await text('#fired')) as { requestId: string; status: string; function: string }[];
    expect(fired).toEqual([expect.objectContaining({ function: 'on-events', status: 'succeeded' })]);
    await shot('events');
    await tab('Invocations');
    await page.waitForSelector(`#invocations tr[data-id="${fired[0]!.requestId}"]`);
    expect(await text(`#invocations tr[data-id="${fired[0]!.requestId}"]`)).toMatch(/demo\/on-events\s+oss\s+succeeded/);
  });

  it('browses the local OSS: uploads from the page, opens folders, downloads, deletes, and links each write to the invocations it started', async () => {
    const { endpoint } = (await (await fetch(`${srv.base}/_fc-local/api/oss`, { headers: { 'x-fc-local-token': 'wb-token' } })).json()) as { endpoint: string };
    // Writes from outside the page: a client of the OSS API (unsigned: this server runs --no-auth).
    expect((await fetch(`${endpoint}/demo-bucket/docs/readme.txt`, { method: 'PUT', body: 'read me' })).status).toBe(200);
    expect((await fetch(`${endpoint}/demo-bucket/uploads/first.png`, { method: 'PUT', body: 'PNG' })).status).toBe(200);
    await tab('OSS');
    await page.waitForSelector('#oss-objects tr[data-prefix="uploads/"]');
    expect(await text('#oss-activity tr[data-key="docs/readme.txt"]')).toMatch(/ObjectCreated:PutObject[^]*api\s+no trigger/);
    await page.click('#oss-objects tr[data-prefix="uploads/"]');
    await page.waitForSelector('#oss-objects tr[data-key="uploads/first.png"]');
    expect(await text('#oss-path')).toMatch(/demo-bucket \/ uploads/);
    // An upload from the page lands in the folder shown, and fires the bucket's trigger (uploads/*.png).
    const file = path.join(ossDir, '..', `${path.basename(ossDir)}-photo.png`);
    writeFileSync(file, 'from the page');
    await ((await page.$('input#oss-upload')) as ElementHandle<HTMLInputElement>).uploadFile(file);
    const key = `uploads/${path.basename(file)}`;
    await page.waitForSelector(`#oss-objects tr[data-key="${key}"]`);
    await page.waitForSelector(`#oss-activity tr[data-key="${key}"] .oss-invocation`);
    expect(await text(`#oss-activity tr[data-key="${key}"]`)).toMatch(/ObjectCreated:PutObject\s+demo-bucket\/uploads\/\S+ 13 B\s+api\s+demo\/on-events/);
    const download = await page.$eval(`#oss-objects tr[data-key="${key}"] a[download]`, (a) => fetch((a as HTMLAnchorElement).href).then((r) => r.text()));
    expect(download).toBe('from the page');
    await shot('oss');
    await page.click('#oss-objects tr[data-key="uploads/first.png"] .oss-delete');
    await page.waitForFunction(() => !document.querySelector('#oss-objects tr[data-key="uploads/first.png"]'));
    await page.waitForFunction(() => /ObjectRemoved:DeleteObject[^]*uploads\/first\.png[^]*demo\/on-events/.test((document.querySelector('#oss-activity tbody tr') as HTMLElement | null)?.innerText ?? ''));
    expect(existsSync(path.join(ossDir, 'demo-bucket', 'uploads', 'first.png'))).toBe(false);
    const id = await page.$eval(`#oss-activity tr[data-key="${key}"] .oss-invocation`, (a) => (a as HTMLElement).dataset.id!);
    await page.click(`#oss-activity tr[data-key="${key}"] .oss-invocation`);
    await page.waitForSelector('#detail-logs');
    expect(await text('#detail')).toContain(id);
    expect(await text('#detail')).toContain(key);
  });

  it('streams logs live and filters them by level and request id', async () => {
    await tab('Logs');
    const r = await fetch(`${srv.base}/2016-08-15/services/demo/functions/hello/invocations`, { method: 'POST', body: '{"live":true}' });
    const id = r.headers.get('x-fc-request-id')!;
    await page.waitForFunction((rid) => document.querySelector('#logs')!.textContent!.includes(`hello from hello request ${rid}`), {}, id);
    await page.type('#logs-rid', id);
    await page.select('#logs-level', 'VERBOSE');
    const shown = await text('#logs');
    expect(shown.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^demo/hello .* ${id} \\[VERBOSE\\] hello from hello request ${id}$`))]);
    await shot('logs');
  });

  it("charts FC's metrics with the right count, and serves them to Prometheus", async () => {
    await tab('Metrics');
    await page.select('#metrics-fn', 'demo/hello');
    // demo/hello ran twice: once from the editor, once through the invoke API.
    await page.waitForFunction(() => /invocations 2 · billable 2/.test((document.querySelector('[data-chart="Invocations"] .total') as HTMLElement | null)?.innerText ?? ''));
    expect(await page.$$eval('[data-chart] canvas', (c) => c.length)).toBeGreaterThanOrEqual(6);
    await shot('metrics');
    const prom = await (await fetch(`${srv.base}/_fc-local/metrics`, { headers: { 'x-fc-local-token': 'wb-token' } })).text();
    expect(prom).toContain('fc_invocations_total{function="demo/hello"} 2');
    expect(prom).toContain('fc_invocations_total{function="demo/web"} 2');
    expect(prom).toMatch(/fc_duration_milliseconds_count\{function="demo\/hello"\} 2/);
  });

  it('keeps the last 1,000 invocations, lists them all and filters them', async () => {
    const api = `${srv.base}/2016-08-15/services/demo/functions/hello/invocations`;
    for (let i = 0; i < 1050; i += 25) await Promise.all(Array.from({ length: 25 }, () => fetch(api, { method: 'POST', body: '{}' }).then((r) => r.arrayBuffer())));
    await page.click('#tab-Functions');
    await page.reload({ waitUntil: 'networkidle2' });
    await tab('Invocations');
    await page.waitForFunction(() => document.querySelectorAll('#invocations tbody tr').length === 1000);
    await page.select('#filter-status', 'failed');
    await page.waitForFunction(() => document.querySelectorAll('#invocations tbody tr').length === 0);
    expect(await text('#invocation-count')).toBe('0 of 1000');
  }, scaled(120_000));
});

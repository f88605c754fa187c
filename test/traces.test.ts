import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/index.js';
import { fixture, ROOT } from './helpers/cli.js';
import { scaled } from './helpers/time-scale.js';

// Each invocation's trace in the workbench, in a real headless Chromium: the waterfall of a cold
// HTTP invocation (instance start, initializer, handler), and a chain (an upload fires a function
// that queues another through FC's API, which fails, retries, and reaches its destination) as one
// tree; with no console error on the way.

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
if (!CHROMIUM && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error('the trace tests need Chromium (apt-get install chromium)');

interface Chain {
  requestId: string;
  function: string;
  source: string;
  cause?: { parent?: string; what?: string };
  attempts: { attempt?: number; status: string }[];
  writes: unknown[];
  children: Chain[];
}

describe.runIf(CHROMIUM)('traces in the workbench', () => {
  let fc: RunningEmulator;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const open = async (requestId: string) => {
    await page.goto(`${fc.url}/_fc-local/#Invocations/${encodeURIComponent(requestId)}`, { waitUntil: 'networkidle2' });
    await page.waitForSelector('#detail');
  };

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-traces-'));
    cpSync(fixture('traces'), dir, { recursive: true });
    fc = await startEmulator({ template: path.join(dir, 'fc.yml'), backend: 'process' });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'] });
    page = await browser.newPage();
    // The machine's own network changing (other tests' container bridges) is not the page's error.
    page.on('console', (m) => m.type() === 'error' && !m.text().includes('ERR_NETWORK_CHANGED') && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, scaled(60_000));
  afterAll(async () => {
    await browser?.close();
    await fc?.stop();
  });

  it('shows the waterfall of a cold HTTP invocation: instance start, initializer, handler; the page is titled by the project', async () => {
    const res = await fc.fetch('shop/web');
    expect(await res.text()).toBe('hello');
    const requestId = res.headers.get('x-fc-request-id')!;
    const inv = (await (await fc.fetch(`/_fc-local/api/invocations/${requestId}`)).json()) as { coldStart: boolean; spans: { startMs: number; initMs: number; queueMs: number }; cause: { what: string } };
    expect(inv.coldStart).toBe(true);
    expect(inv.spans.startMs).toBeGreaterThan(0);
    expect(inv.spans.initMs).toBeGreaterThanOrEqual(45);
    expect(inv.cause.what).toBe('GET /2016-08-15/proxy/shop/web/');
    // preFreeze runs after the answer: its span arrives once it has run.
    for (const t0 = Date.now(); ; ) {
      const again = (await (await fc.fetch(`/_fc-local/api/invocations/${requestId}`)).json()) as { spans: { preFreezeMs?: number } };
      if (again.spans.preFreezeMs !== undefined) {
        expect(again.spans.preFreezeMs).toBeGreaterThanOrEqual(25);
        break;
      }
      if (Date.now() - t0 > scaled(10_000)) throw new Error('no preFreeze span');
      await new Promise((r) => setTimeout(r, 20));
    }
    await open(requestId);
    await page.waitForSelector('#waterfall [data-span="handler"]');
    const spans = await page.$$eval('#waterfall [data-span]', (els) => els.map((e) => (e as HTMLElement).dataset.span));
    expect(spans).toEqual(expect.arrayContaining(['start', 'init', 'handler', 'preFreeze']));
    expect(await page.$eval('#waterfall h4', (e) => (e as HTMLElement).innerText)).toContain('cold start');
    expect(await page.title()).toMatch(/^fc-local-traces-\w+ · fc-local workbench$/);
  });

  it('shows an upload -> function -> async (retried) -> destination chain as one tree', async () => {
    await fetch(`${fc.oss.endpoint}/photos`, { method: 'PUT' });
    expect((await fetch(`${fc.oss.endpoint}/photos/in/a.png`, { method: 'PUT', body: 'png' })).status).toBe(200);
    const audit = await fc.invocations.next({ function: 'shop/audit', source: 'destination', timeout: scaled(20_000) });
    expect(audit.result?.toString()).toMatch(/^noted \w+InvocationError$/);
    const resize = ((await (await fc.fetch('/_fc-local/api/invocations?function=shop/resize')).json()) as { requestId: string }[])[0]!;
    const tree = (await (await fc.fetch(`/_fc-local/api/invocations/${audit.requestId}/chain`)).json()) as Chain;
    // From any member, the same tree from its root: the upload's function.
    expect(tree).toMatchObject({ requestId: resize.requestId, function: 'shop/resize', source: 'oss', cause: { what: 'oss ObjectCreated:PutObject photos/in/a.png' } });
    // Its write to the local OSS, a call from the function to fc-local's service, is in its node.
    expect(tree.writes).toEqual([expect.objectContaining({ bucket: 'photos', key: 'out/a.png', eventName: 'ObjectCreated:PutObject' })]);
    expect(tree.children).toHaveLength(1);
    const notify = tree.children[0]!;
    expect(notify).toMatchObject({ function: 'shop/notify', source: 'async', cause: { parent: resize.requestId } });
    expect(notify.attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    expect(notify.children.map((c) => [c.function, c.source])).toEqual([['shop/audit', 'destination']]);
    // Each attempt's wait in the async queue is its first span.
    expect((notify.attempts as { spans?: { asyncQueueMs?: number } }[]).every((a) => (a.spans?.asyncQueueMs ?? -1) >= 0)).toBe(true);

    await open(audit.requestId);
    await page.waitForSelector(`#chain li[data-chain="${resize.requestId}"] li[data-chain="${notify.requestId}"] li[data-chain="${audit.requestId}"]`);
    expect(await page.$$eval(`#chain li[data-chain="${notify.requestId}"] > [data-attempt]`, (els) => els.length)).toBe(2);
    expect(await page.$eval(`#chain li[data-chain="${notify.requestId}"] > [data-attempt="2"]`, (e) => (e as HTMLElement).innerText)).toMatch(/attempt 2 · after \d+ ms/);
    await page.waitForSelector(`#chain li[data-chain="${resize.requestId}"] > [data-write="out/a.png"]`);
    expect(await page.$eval(`#chain li[data-chain="${audit.requestId}"]`, (e) => e.className)).toBe('here');
    await page.setViewport({ width: 1400, height: 900 });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'workbench', 'trace.png') as `${string}.png`, fullPage: true });
    // Its link opens the root's own page.
    await page.click(`#chain li[data-chain="${resize.requestId}"] > .node > a`);
    await page.waitForFunction((id) => location.hash === `#Invocations/${id}`, {}, resize.requestId);
    await page.waitForSelector(`#chain li.here[data-chain="${resize.requestId}"]`);
    expect(consoleErrors).toEqual([]);
  });
});

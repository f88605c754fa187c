// The shop's behaviour, tested with vitest against fc-local's library API (docs/testing.md).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from 'fc-local';

let fc: RunningEmulator;
beforeAll(async () => {
  fc = await startEmulator({ template: new URL('./fc.yml', import.meta.url).pathname, backend: 'process' });
});
afterAll(async () => {
  await fc?.stop();
});

it('takes an order over HTTP', async () => {
  const res = await fc.fetch('shop/order', { method: 'POST', body: JSON.stringify({ items: ['tea'] }) });
  expect(await res.json()).toEqual({ order: 42, items: ['tea'] });
});

it('fulfils an order asynchronously: awaited, not slept for', async () => {
  await fc.invoke('shop/fulfil', { order: 7 }, { async: true });
  const done = await fc.invocations.next({ function: 'shop/fulfil', source: 'async' });
  expect(done.status).toBe('succeeded');
  expect(JSON.parse(done.result!.toString())).toEqual({ order: 7, shipped: true });
});

it("sends a failure to its destination", async () => {
  await fc.invoke('shop/flaky', {}, { async: true });
  expect((await fc.invocations.next({ function: 'shop/flaky', source: 'async' })).status).toBe('failed');
  const audit = await fc.invocations.next({ function: 'shop/audit', source: 'destination' });
  expect(audit.result!.toString()).toBe('noted');
  await fc.idle();
});

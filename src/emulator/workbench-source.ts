import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import http from 'node:http';
import path from 'node:path';
import { allFunctions, fc3Name, fnKey, functionUrl, type FunctionSpec, type Template } from '../model.js';
import { apiGatewayEvent, cdnEvent, datahubEvent, DEFAULT_OSS_EVENT, iotEvent, logEvent, ossEvent, tablestoreEvent, timerEvent } from '../events/builders.js';
import type { EventSources } from '../events/index.js';
import { inject } from '../gateway/event-routes.js';
import { FcError } from '../gateway/errors.js';
import type { WorkbenchSource } from '../gateway/workbench.js';
import type { InvocationSource, Invoker, Outcome } from '../runtime/invoker.js';
import type { Clock, ManualClock } from '../runtime/clock.js';
import { StateArchiveError } from './state-archive.js';
import type { EmulatorState } from './state.js';
import type { PoolSet } from '../runtime/pool.js';
import type { OssBrowser } from '../services/oss/browser.js';
import type { Recorder, InvocationEntry } from './recorder.js';
import { InvocationTimeoutError, type FinishedInvocation, type InvocationFeed } from './invocation-feed.js';

// The emulator's side of the workbench: functions and their instances from the pools, the
// recorder's invocations, logs and figures, invoking, replaying and firing events.

export interface WorkbenchParts {
  template: () => Template;
  pools: PoolSet;
  invoker: Invoker;
  events: EventSources;
  recorder: Recorder;
  baseUrl: () => string;
  invokeAsync: (fn: FunctionSpec, event: Buffer) => Promise<string>;
  token?: string;
  /** The local OSS's facts, once serving. */
  oss: () => unknown;
  ossBrowser: OssBrowser;
  /** Finished invocations, for the HTTP waits of tests in other languages. */
  feed: InvocationFeed;
  /** Resolves when nothing runs or is queued (Emulator.idle). */
  idle: () => Promise<void>;
  clock: Clock;
  state: () => EmulatorState;
}

/** A finished invocation as JSON: its answer as text when it is UTF-8, else base64. */
function invocationJson(inv: FinishedInvocation): Record<string, unknown> {
  const { result, ...rest } = inv;
  if (!result) return rest;
  const text = result.toString('utf8');
  return Buffer.from(text, 'utf8').equals(result) ? { ...rest, result: text } : { ...rest, result: result.toString('base64'), resultEncoding: 'base64' };
}

const InvokeBody = z.object({
  function: z.string(),
  event: z.string().optional(),
  async: z.boolean().optional(),
  http: z
    .object({
      method: z.string().regex(/^[A-Z]+$/, 'an HTTP method in capitals').optional(),
      path: z.string().optional(),
      query: z.string().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.string().optional(),
    })
    .optional(),
});
type InvokeBody = z.output<typeof InvokeBody>;

export function workbenchSource(p: WorkbenchParts): WorkbenchSource {
  // The HTTP waits read with cursors of their own: the feed keeps invocations once the first comes.
  let feeding = false;
  const feed = () => {
    if (!feeding) {
      feeding = true;
      p.feed.reader();
    }
    return p.feed;
  };
  const find = (key: string | undefined): FunctionSpec => {
    const f = allFunctions(p.template()).find((x) => fnKey(x) === key);
    if (!f) throw new FcError(404, 'FunctionNotFound', `no function ${key}`);
    return f;
  };
  const view = (out: Outcome) => ({
    requestId: out.requestId,
    status: out.errorType ? 'failed' : 'succeeded',
    errorType: out.errorType,
    result: out.body.toString('utf8'),
    statusCode: out.statusCode,
    logs: out.logs,
    durationMs: out.durationMs,
    billedDurationMs: out.billedDurationMs,
    memoryMB: out.maxMemoryUsedMB,
    coldStart: out.coldStart,
  });
  const summary = (e: InvocationEntry) => ({ ...e, payload: undefined, logs: undefined, result: undefined, request: { method: e.request.method, url: e.request.url } });

  return {
    oss: p.oss,
    ossBrowser: p.ossBrowser,
    ossActivity: () => p.recorder.ossActivityLog(),
    token: p.token,
    functions: () =>
      allFunctions(p.template()).map((f) => {
        const pool = p.pools.existing(f.service, f.name);
        const base = p.baseUrl();
        const http = f.triggers.filter((t) => t.type === 'http');
        return {
          key: fnKey(f),
          service: f.service,
          name: f.name,
          runtime: f.runtime,
          handler: f.handler,
          memorySize: f.memorySize,
          timeout: f.timeout,
          instanceConcurrency: f.instanceConcurrency,
          triggers: f.triggers.map((t) => ({ name: t.name, type: t.type })),
          http: http.length > 0,
          urls: [
            ...(f.service ? [`POST ${base}/2016-08-15/services/${f.service}/functions/${f.name}/invocations`] : []),
            `POST ${base}/2023-03-30/functions/${fc3Name(f)}/invocations`,
            ...(http.length ? [f.service ? `${base}/2016-08-15/proxy/${f.service}/${f.name}/` : functionUrl(f, base)] : []),
          ],
          instances: [
            ...Array.from({ length: pool?.startingCount ?? 0 }, () => ({ id: '', state: 'starting' })),
            ...(pool?.instances ?? []).map((i) => ({ id: i.handle.id.slice(0, 12), state: i.restarting ? 'restarting' : i.state === 'retiring' ? 'retiring' : i.state, busy: i.busySlots, served: i.served, ...(f.session ? { sessions: i.sessions.size } : {}) })),
          ],
          ...(f.session ? { sessions: { type: f.session.type, perInstance: f.session.perInstance, active: pool?.sessions?.size ?? 0 } } : {}),
        };
      }),
    invocations: (q) => {
      const text = q.q?.toLowerCase();
      return p.recorder
        .invocations()
        .filter((e) => (!q.function || e.function === q.function) && (!q.status || e.status === q.status))
        .filter((e) => !text || `${e.requestId} ${e.function} ${e.source} ${e.errorType ?? ''} ${e.request.url ?? ''}`.toLowerCase().includes(text) || e.logs.some((l) => l.toLowerCase().includes(text)))
        .slice(0, q.limit ?? 1000)
        .map(summary);
    },
    invocation: (id) => {
      const e = p.recorder.invocation(id);
      return e && { ...e, payload: e.payload.toString('utf8'), result: e.result?.toString('utf8') };
    },
    chain: (id) => chainOf(p.recorder, id),
    replay: async (id) => {
      const e = p.recorder.invocation(id);
      if (!e) throw new FcError(404, 'NotFound', `No recent invocation ${id}`);
      const f = find(e.function);
      if (e.request.method) {
        const call = { method: e.request.method, url: e.request.url ?? '/', headers: e.request.headers ?? {}, body: e.payload, clientIP: '127.0.0.1' };
        return view(await p.invoker.invokeHttp(f, call, randomUUID(), 'workbench'));
      }
      return view(await p.invoker.invokeEvent(f, e.payload, randomUUID(), 'workbench'));
    },
    invoke: async (raw) => {
      const parsed = InvokeBody.safeParse(raw ?? {});
      if (!parsed.success) throw new FcError(400, 'InvalidArgument', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      const b = parsed.data;
      const f = find(b.function);
      if (b.http) return viaGateway(f, b.http, p.baseUrl());
      const event = Buffer.from(b.event ?? '');
      if (b.async) return { requestId: await p.invokeAsync(f, event), status: 'accepted' };
      return view(await p.invoker.invokeEvent(f, event, randomUUID(), 'workbench'));
    },
    project: () => ({ name: path.basename(path.dirname(p.template().file)), template: p.template().file }),
    feed: {
      cursor: () => feed().cursor,
      next: async (after, f) => {
        const reader = { cursor: after };
        try {
          const inv = await feed().next(reader, {
            ...(f.function ? { function: f.function } : {}),
            ...(f.source ? { source: f.source as InvocationSource[] } : {}),
            ...(f.status ? { filter: (i: FinishedInvocation) => i.status === f.status } : {}),
            timeout: f.timeout,
          });
          return { cursor: reader.cursor, invocation: invocationJson(inv) };
        } catch (err) {
          if (err instanceof InvocationTimeoutError) throw new FcError(408, 'InvocationTimeout', err.message);
          throw err;
        }
      },
      idle: (ms) => {
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([p.idle().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]).finally(() => clearTimeout(timer));
      },
    },
    state: {
      save: () => p.state().save(),
      load: async (archive) => {
        try {
          await p.state().load(archive);
        } catch (err) {
          if (err instanceof StateArchiveError) throw new FcError(400, 'InvalidStateArchive', `${err.message}; the current state is unchanged`);
          throw err;
        }
      },
      reset: () => p.state().reset(),
    },
    clock: {
      manual: p.clock.manual,
      now: () => p.clock.now(),
      advance: (by) => (p.clock as ManualClock).advance(by),
      set: (to) => (p.clock as ManualClock).set(to),
    },
    fire: (type, body) => inject(p.events, type, body, true),
    eventTemplates: () => eventTemplates(p.template()),
    logs: () => p.recorder.logs(),
    series: (fn) => p.recorder.series(fn),
    metricsText: async () => ({ contentType: p.recorder.registry.contentType, text: await p.recorder.registry.metrics() }),
    subscribe: (send) =>
      p.recorder.subscribe((e) => {
        if (e.type === 'invocation') send('invocation', summary(e.data));
        else if (e.type === 'log') send('log', e.data);
        else if (e.type === 'oss') send('oss', e.data);
        else send('instances', {});
      }),
  };
}

/** An HTTP function called the way a client calls it: through fc-local's own port. */
function viaGateway(f: FunctionSpec, h: NonNullable<InvokeBody['http']>, base: string): Promise<unknown> {
  const port = Number(new URL(base).port);
  const path = (h.path ?? '/').replace(/^(?!\/)/, '/') + (h.query ? `?${h.query.replace(/^\?/, '')}` : '');
  const url = f.service ? `/2016-08-15/proxy/${f.service}/${f.name}${path}` : path;
  const headers: Record<string, string> = { ...(h.headers ?? {}), ...(f.service ? {} : { host: new URL(functionUrl(f, base)).host }) };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: h.method ?? 'GET', path: url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          requestId: res.headers['x-fc-request-id'],
          status: res.statusCode && res.statusCode < 500 ? 'succeeded' : 'failed',
          statusCode: res.statusCode,
          headers: res.headers,
          result: Buffer.concat(chunks).toString('utf8'),
          durationMs: Math.round(performance.now() - t0),
        }),
      );
    });
    req.on('error', reject);
    req.end(h.body ?? '');
  });
}

/** `events generate`'s shapes for the editor, and what the template's triggers can be fired with. */
function eventTemplates(tpl: Template): Record<string, unknown> {
  const { region, accountId } = tpl;
  const fns = allFunctions(tpl);
  const triggers = (type: string) => fns.flatMap((f) => f.triggers.filter((t) => t.type === type).map((t) => ({ fn: f, t })));
  return {
    events: {
      oss: ossEvent({ eventName: DEFAULT_OSS_EVENT, bucket: 'my-bucket', key: 'source/image.png', size: 1024, region, accountId }),
      log: logEvent({ endpoint: `https://${region}.log.aliyuncs.com`, projectName: 'my-project', logstoreName: 'my-logstore', begin: 0, end: 1, jobName: 'my-job' }),
      cdn: cdnEvent({ eventName: 'CachedObjectsRefreshed', domain: 'www.example.com', region, accountId, objectPath: ['/index.html'] }),
      timer: timerEvent({ triggerName: 'my-timer', payload: '' }),
      tablestore: tablestoreEvent(),
      apigw: apiGatewayEvent(),
      datahub: datahubEvent({ region }),
      iot: iotEvent(),
    },
    fire: {
      oss: triggers('oss').map(({ t }) => {
        // A key the trigger's filter lets through.
        const key = (t.config as { filter?: { key?: { prefix?: string; suffix?: string } } }).filter?.key;
        return { bucket: (t.config as { bucketName?: string }).bucketName ?? t.sourceArn?.split(':').pop() ?? 'my-bucket', key: `${key?.prefix ?? 'source/'}example${key?.suffix ?? '.png'}` };
      }),
      timer: triggers('timer').map(({ fn, t }) => ({ service: fn.service, function: fn.name, trigger: t.name })),
      log: triggers('log').map(({ t }) => ({ logstore: (t.config as { sourceConfig?: { logstore?: string } }).sourceConfig?.logstore ?? 'my-logstore' })),
      cdn: triggers('cdn_events').map(({ t }) => ({ eventName: (t.config as { eventName?: string }).eventName ?? 'CachedObjectsRefreshed', domain: Object.values((t.config as { filter?: Record<string, string[]> }).filter ?? {}).flat()[0] ?? 'www.example.com' })),
    },
  };
}

/** One invocation in a chain: its attempts, the OSS writes it made, and what it caused. */
export interface ChainNode {
  requestId: string;
  function: string;
  source: string;
  cause?: { parent?: string; what?: string };
  attempts: { at: number; attempt?: number; status: string; errorType?: string; durationMs?: number; coldStart?: boolean; spans?: InvocationEntry['spans'] }[];
  writes: { at: number; bucket: string; key: string; eventName: string }[];
  children: ChainNode[];
}

/**
 * The chain an invocation belongs to, as a tree from its root: the invocation with no recorded
 * parent, reached by following causes up (a destination's async invocation, the function whose
 * write or call started it). Attempts of one async invocation are one node.
 */
export function chainOf(recorder: Recorder, requestId: string): ChainNode | undefined {
  const all = recorder.invocations().reverse();
  const byId = new Map<string, InvocationEntry[]>();
  for (const e of all) byId.set(e.requestId, [...(byId.get(e.requestId) ?? []), e]);
  if (!byId.has(requestId)) return undefined;
  let root = requestId;
  const seen = new Set<string>([root]);
  for (;;) {
    const parent = byId.get(root)!.find((e) => e.cause?.parent)?.cause?.parent;
    if (!parent || !byId.has(parent) || seen.has(parent)) break;
    seen.add(parent);
    root = parent;
  }
  const writes = recorder.ossActivityLog();
  const build = (id: string, depth: number): ChainNode => {
    const entries = byId.get(id)!;
    const first = entries[0]!;
    const children = depth > 20 ? [] : [...new Set(all.filter((e) => e.cause?.parent === id && e.requestId !== id).map((e) => e.requestId))].map((c) => build(c, depth + 1));
    return {
      requestId: id,
      function: first.function,
      source: first.source,
      ...(first.cause ? { cause: first.cause } : {}),
      attempts: entries.map((e) => ({ at: e.at, ...(e.attempt ? { attempt: e.attempt } : {}), status: e.status, ...(e.errorType ? { errorType: e.errorType } : {}), ...(e.durationMs !== undefined ? { durationMs: e.durationMs } : {}), ...(e.coldStart !== undefined ? { coldStart: e.coldStart } : {}), ...(e.spans ? { spans: e.spans } : {}) })),
      writes: writes.filter((w) => w.parent === id).map((w) => ({ at: w.at, bucket: w.bucket, key: w.key, eventName: w.eventName })).reverse(),
      children,
    };
  };
  return build(root, 0);
}

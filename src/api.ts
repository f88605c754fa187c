import http from 'node:http';
import type { FinishedInvocation, InvocationFilter } from './emulator/invocation-feed.js';
import path from 'node:path';
import { allFunctions, fc3Name, findFunction, fnKey, functionUrl, type FunctionSpec, type Template } from './model.js';
import { formatError, type TemplateError as TemplateProblem } from './template/source.js';
import { ManualClock, parseDuration, type Clock } from './runtime/clock.js';

// fc-local as a library, for users' test suites: start an emulator on a template, call its
// functions, fire events, read logs, stop it. The CLI's `start` and `invoke` run the same core
// (src/emulator/); this is a typed front for it.

export interface StartOptions {
  /** Template file (fc.yml, template.yml, s.yaml); default: found in `cwd` as the CLI does. */
  template?: string;
  cwd?: string;
  /** Where instances run (default auto: Docker when an engine answers, else processes). */
  backend?: 'auto' | 'docker' | 'process';
  /** Port on 127.0.0.1 (default 0: a free one). */
  port?: number;
  host?: string;
  /** Require FC signatures on the API (default false here: a test talks to its own emulator). */
  auth?: boolean;
  /** Hot reload (default off). */
  watch?: boolean;
  /** Docker image for every runtime. */
  image?: string;
  /** Instances of every function started before `startEmulator` resolves. */
  warm?: number;
  /** fc-local's own state (the async journal); default a folder of its own in the temp dir. */
  stateDir?: string;
  /**
   * `manual`: timer triggers, async retries' back-off and events' age, idle reaping and session
   * lifetimes follow `fc.clock`, which stands still until the test moves it (default `real`).
   * Functions keep the real clock.
   */
  clock?: 'real' | 'manual';
  /** Keep nothing: OSS objects, the async journal and history in a temporary folder, removed at stop. */
  ephemeral?: boolean;
  /**
   * A warm restart (Docker backend): at stop, idle containers stay running this long (ms, or
   * `30s`, `10m`) for the next emulator of the same code to take over; then they are removed.
   */
  keepWarm?: string | number;
  /**
   * How long a new instance may take to answer before its start fails (ms, or `5s`); default
   * FC's 120 s for custom runtimes and containers, fc-local's own allowance for the others.
   */
  startTimeout?: string | number;
}

/** The emulator's state: the local OSS's objects, queued and finished async work, the workbench's history. */
export interface EmulatorStateControls {
  /** One portable archive (tar.gz) of the state, once what runs has finished; also written to `file` if given. */
  save(file?: string): Promise<Buffer>;
  /** Replaces the state with an archive's (a file or its bytes); a corrupt or foreign one throws and changes nothing. */
  load(archive: string | Buffer): Promise<void>;
  /** Empties the state (between tests): buckets, async work and records, history, sessions. */
  reset(): Promise<void>;
}

/** A manual clock's controls (startEmulator({ clock: 'manual' })). */
export interface EmulatorClock {
  /** fc-local's time now. */
  now(): Date;
  /**
   * Moves it forward by a duration (ms, or `30s`, `15m`, `1h`, `1d`, `1h30m`): what falls due
   * fires in time order, each once what the previous one started has finished; resolves when all
   * of it has. A negative or unreadable duration throws RangeError.
   */
  advance(duration: string | number): Promise<void>;
  /** Sets the time: forward as advance does; backward moves the clock only. */
  set(to: Date | string | number): Promise<void>;
}

export interface FunctionInfo {
  /** `service/function`, or the name of an FC 3.0 function. */
  name: string;
  service: string;
  runtime: string;
  triggers: { name: string; type: string }[];
  /** FC 3.0 invoke URL (all functions). */
  invokeUrl: string;
  /** HTTP trigger URL, if the function has one. */
  httpUrl?: string;
}

export interface InvokeResult {
  requestId: string;
  /** The function's answer (for async: empty). */
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
  logs: string[];
  durationMs: number;
  coldStart: boolean;
}

export interface LogLine {
  function: string;
  line: string;
}

export interface RunningEmulator extends AsyncDisposable {
  url: string;
  /** The local OSS: its endpoint (path style, for ali-oss, oss2 and the like), region and keys. */
  oss: { endpoint: string; region: string; accessKeyId: string; accessKeySecret: string };
  functions: FunctionInfo[];
  /** Sync by default; `async: true` queues it (resolves once accepted). Function errors throw InvocationError. */
  invoke(fn: string, event?: string | Buffer | object, opts?: { async?: boolean }): Promise<InvokeResult>;
  /** A request to a function's HTTP trigger (by function name) or to a path or URL of the emulator. */
  fetch(fnOrUrl: string, init?: RequestInit): Promise<Response>;
  /** Injects an OSS, Log, CDN or Timer event; resolves with the invocations it caused. */
  emit(source: 'oss' | 'log' | 'cdn' | 'timer', body: Record<string, unknown>): Promise<{ function: string; trigger: string; status: string; requestId: string }[]>;
  /** Every line the functions print, as it comes. */
  logs: AsyncIterable<LogLine> & { lines: LogLine[] };
  /** Instances and requests in flight per function, now. */
  metrics(): Record<string, { instances: number; busy: number }>;
  /**
   * Finished invocations, whatever caused them (HTTP, the API, async and its retries, OSS, timers,
   * Log, CDN, destinations). `next()` resolves with the first match finished after the one it
   * returned last (or after the emulator started), even if it finished before the call: `await
   * put(); await fc.invocations.next({ function: 'resize' })` needs no sleep. Iterating yields
   * each match as it finishes from then on.
   */
  invocations: AsyncIterable<FinishedInvocation> & {
    next(filter?: InvocationFilter): Promise<FinishedInvocation>;
    watch(filter?: Omit<InvocationFilter, 'timeout'>): AsyncIterable<FinishedInvocation>;
  };
  /** Resolves when nothing runs or waits: no invocation in flight, nothing queued or waiting for a retry (async, destinations); on a manual clock, retries wait for an advance and do not count. */
  idle(): Promise<void>;
  /** The clock timers, retries, reaping and sessions follow; advance and set throw unless `clock: 'manual'`. */
  clock: EmulatorClock;
  state: EmulatorStateControls;
  stop(): Promise<void>;
}

/** The template has errors: each with its file, line and column. */
export class TemplateError extends Error {
  constructor(readonly errors: TemplateProblem[]) {
    super(`the template is not valid:\n${errors.map(formatError).join('\n')}`);
  }
}

/** The function answered with an error (FC's errorType and error JSON). */
export class InvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly body: unknown,
    readonly requestId: string,
  ) {
    super(`${errorType}: ${typeof body === 'object' && body && 'errorMessage' in body ? String((body as { errorMessage: unknown }).errorMessage) : JSON.stringify(body)}`);
  }
}

export async function startEmulator(options: StartOptions = {}): Promise<RunningEmulator> {
  const { findTemplate, loadTemplate } = await import('./template/load.js');
  const { loadCredentials } = await import('./template/profile.js');
  const { selectBackend } = await import('./runtime/select-backend.js');
  const { Emulator } = await import('./emulator/emulator.js');
  const os = await import('node:os');
  const { mkdtempSync } = await import('node:fs');

  const cwd = options.cwd ?? process.cwd();
  const file = findTemplate(cwd, options.template);
  const loaded = loadTemplate(file);
  if (!loaded.template) throw new TemplateError(loaded.errors);
  const template = loaded.template;
  const startTimeoutMs = options.startTimeout === undefined ? undefined : parseDuration(options.startTimeout);
  const { backend } = await selectBackend(options.backend ?? 'auto', { template, image: options.image, ...(startTimeoutMs ? { startTimeoutMs } : {}) });

  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stopped = false;
  // Without local credentials a test still has keys to sign with, and its functions get them as
  // FC hands a function its role's keys: ali-oss and the FC SDKs refuse empty ones. They reach
  // only this emulator (auth is off by default here; on, they are what it checks).
  const local = loadCredentials();
  const credentials = local.source === 'none' ? { ...local, accessKeyId: 'fc-local-test-key', accessKeySecret: 'fc-local-test-secret', source: 'fc-local (no local credentials: placeholder keys)' } : local;
  const emulator = new Emulator({
    template,
    backend,
    credentials,
    note: () => {},
    onFunctionLine: (fn, line) => {
      lines.push({ function: fnKey(fn), line });
      if (lines.length > 10_000) lines.splice(0, lines.length - 10_000);
      waiters.forEach((w) => w());
    },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const url = await emulator.serve({
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    auth: options.auth ?? false,
    asyncBackoffMs: 1000,
    asyncConcurrency: 10,
    stateDir: options.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'fc-local-state-')),
    warm: options.warm ?? 0,
    watch: options.watch ?? false,
    ...(options.ephemeral ? { ephemeral: true } : {}),
    ...(options.keepWarm !== undefined ? { keepWarmMs: parseDuration(options.keepWarm) } : {}),
  });

  // This handle's cursor in the feed of finished invocations: from the start on.
  const reader = emulator.invocations.reader();
  const tpl = (): Template => emulator.template;
  const lookup = (name: string): FunctionSpec => {
    const i = name.indexOf('/');
    const f = i < 0 ? (findFunction(tpl(), '', name) ?? allFunctions(tpl()).find((x) => x.name === name)) : findFunction(tpl(), name.slice(0, i), name.slice(i + 1));
    if (!f) throw new Error(`no function ${name} in the template (functions: ${allFunctions(tpl()).map(fnKey).join(', ')})`);
    return f;
  };
  const info = (f: FunctionSpec): FunctionInfo => {
    const http = f.triggers.some((t) => t.type === 'http');
    return {
      name: fnKey(f),
      service: f.service,
      runtime: f.runtime,
      triggers: f.triggers.map((t) => ({ name: t.name, type: t.type })),
      invokeUrl: `${url}/2023-03-30/functions/${fc3Name(f)}/invocations`,
      ...(http ? { httpUrl: f.service ? `${url}/2016-08-15/proxy/${f.service}/${f.name}/` : functionUrl(f, url) } : {}),
    };
  };
  const toBuffer = (e: string | Buffer | object | undefined) => (e === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e) ? e : Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)));

  const running: RunningEmulator = {
    url,
    oss: { endpoint: emulator.ossEndpoint, region: template.region, accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret },
    get functions() {
      return allFunctions(tpl()).map(info);
    },
    async invoke(name, event, opts) {
      const f = lookup(name);
      if (opts?.async) return result(await emulator.invokeAsync(f, toBuffer(event)), Buffer.alloc(0), [], 0, false);
      const out = await emulator.invoke(f, toBuffer(event));
      if (out.errorType) throw new InvocationError(out.errorType, parse(out.body), out.requestId);
      return result(out.requestId, out.body, out.logs, out.durationMs, out.coldStart);
    },
    async fetch(target, init) {
      if (/^https?:\/\//.test(target) || target.startsWith('/')) return fetch(target.startsWith('/') ? `${url}${target}` : target, init);
      const target2 = info(lookup(target)).httpUrl;
      if (!target2) throw new Error(`function ${target} has no HTTP trigger`);
      return hostFetch(target2, url, init);
    },
    async emit(source, body) {
      // In process, as the injection API does it, so that it works with auth on too.
      const { inject } = await import('./gateway/event-routes.js');
      return (await inject(emulator.eventSources!, source, body, true)) as { function: string; trigger: string; status: string; requestId: string }[];
    },
    logs: {
      lines,
      async *[Symbol.asyncIterator]() {
        let next = 0;
        while (!stopped) {
          while (next < lines.length) yield lines[next++]!;
          await new Promise<void>((resolve) => {
            const w = () => {
              waiters.delete(w);
              resolve();
            };
            waiters.add(w);
          });
        }
      },
    },
    invocations: {
      next: (filter) => emulator.invocations.next(reader, filter),
      watch: (filter) => emulator.invocations.iterate(filter),
      [Symbol.asyncIterator]: () => emulator.invocations.iterate(),
    },
    idle: () => emulator.idle(),
    clock: clockOf(emulator.clock),
    state: {
      async save(file) {
        const archive = await emulator.state.save();
        if (file) await (await import('node:fs/promises')).writeFile(file, archive);
        return archive;
      },
      async load(archive) {
        await emulator.state.load(typeof archive === 'string' ? await (await import('node:fs/promises')).readFile(archive) : archive);
      },
      reset: () => emulator.state.reset(),
    },
    metrics() {
      const m: Record<string, { instances: number; busy: number }> = {};
      for (const f of allFunctions(tpl())) {
        const pool = emulator.pools.existing(f.service, f.name);
        m[fnKey(f)] = { instances: pool?.size ?? 0, busy: pool?.busy ?? 0 };
      }
      return m;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      waiters.forEach((w) => w());
      await emulator.stop();
    },
    [Symbol.asyncDispose]() {
      return running.stop();
    },
  };
  return running;
}

function clockOf(c: Clock): EmulatorClock {
  const manual = () => {
    if (!(c instanceof ManualClock)) throw new Error("the clock is real: startEmulator({ clock: 'manual' }) gives one that tests move");
    return c;
  };
  return {
    now: () => new Date(c.now()),
    advance: async (d) => manual().advance(d),
    set: async (to) => manual().set(to),
  };
}

function parse(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return b.toString('utf8');
  }
}

function result(requestId: string, body: Buffer, logs: string[], durationMs: number, coldStart: boolean): InvokeResult {
  return { requestId, body, text: () => body.toString('utf8'), json: <T>() => JSON.parse(body.toString('utf8')) as T, logs, durationMs, coldStart };
}

/** fetch() for a URL whose host is a *.localhost name: sent to the emulator with that Host. */
async function hostFetch(target: string, base: string, init?: RequestInit): Promise<Response> {
  const u = new URL(target);
  if (!u.hostname.endsWith('.localhost')) return fetch(target, init);
  const b = new URL(base);
  const body = init?.body === undefined || init.body === null ? undefined : Buffer.from(await new Response(init.body).arrayBuffer());
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...Object.fromEntries(new Headers(init?.headers).entries()), host: u.host };
    if (body) headers['content-length'] = String(body.length);
    const req = http.request({ host: b.hostname, port: b.port, method: init?.method ?? 'GET', path: `${u.pathname}${u.search}`, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve(new Response(chunks.length ? new Uint8Array(Buffer.concat(chunks)) : null, { status: res.statusCode ?? 200, headers: h }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

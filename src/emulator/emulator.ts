import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { allFunctions, findFunction, fnKey, type Credentials, type FunctionSpec, type Template } from '../model.js';
import type { EventSources } from '../events/index.js';
import type { AsyncQueue } from '../runtime/async/queue.js';
import type { Backend, InstanceService, LogStream } from '../runtime/backend.js';
import { codeInfo, invalidateCodeInfo } from '../runtime/code-checksum.js';
import { createExecutor, type Executor } from '../runtime/index.js';
import type { InvocationSource, Outcome } from '../runtime/invoker.js';
import type { PoolEvent } from '../runtime/pool.js';
import { delay } from '../util.js';
import { TemplateStore } from './template-store.js';
import { formatDiagnostic, TypeScriptBuilds } from '../build/typescript.js';
import { BuildSteps } from '../build/steps.js';
import type { ContainerImageBuilds } from '../build/container-images.js';
import type { DockerBackend } from '../runtime/docker/backend.js';
import type { Recorder } from './recorder.js';
import { InvocationFeed } from './invocation-feed.js';
import { ManualClock, realClock, type Clock } from '../runtime/clock.js';
import type { EmulatorState } from './state.js';
import type { WorkbenchSource } from '../gateway/workbench.js';
import type { OssBrowser } from '../services/oss/browser.js';
import type { OssEvent } from '../services/oss/handler.js';
import { debuggerKind, type DebugTarget } from '../runtime/debug.js';

// The composition root: one emulator owns the live template (TemplateStore) and wires every
// part to it: the pools and invoker, the async queue, the event sources, the gateway, hot
// reload, code checksums, and the rule that a service's output feeds its logstore. `invoke`
// uses it without a server; `start` serves it.

export interface EmulatorOptions {
  template: Template;
  backend: Backend;
  credentials: Credentials;
  /** fc-local's own lines (already prefixed by the caller as it likes). */
  note: (line: string) => void;
  /** Each line a function prints. */
  onFunctionLine?: (fn: FunctionSpec, line: string, stream: LogStream) => void;
  onPoolEvent?: (event: PoolEvent) => void;
  /** Account-wide concurrent executions (FC's default: 100). */
  concurrency?: number;
  /** A build step that runs longer fails (default 10 minutes). */
  buildTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Idle instances each function keeps beyond its traffic once it has scaled out (--standby). */
  standby?: number;
  /** One function under a debugger (--debug-port). */
  debug?: DebugTarget;
  /** `manual`: timers, async retries and ages, idle reaping and sessions follow a clock that tests move (default real). */
  clock?: 'real' | 'manual';
}

export interface ServeOptions {
  port: number;
  host: string;
  /** Check FC signatures on the API, authType=function triggers and the injection API. */
  auth: boolean;
  asyncBackoffMs: number;
  asyncConcurrency: number;
  /** fc-local's state (the async journal), default `.fc-local` beside the template. */
  stateDir?: string;
  ossDir?: string;
  /** The local OSS's own port (path-style requests from any client); 0: any free one. */
  ossPort?: number;
  /** `remote`: functions reach the real OSS by OSS's names (the local one serves only clients that name it). */
  oss?: 'local' | 'remote';
  logDir?: string;
  /** Instances of every function to start before serving. */
  warm: number;
  /** Hot reload of code and template. */
  watch: boolean;
  /** The workbench at /_fc-local/ and its metrics (default on). */
  workbench?: boolean;
  /** Keep nothing: the state (OSS, async journal, history, logstores) in a temporary folder removed at stop. */
  ephemeral?: boolean;
  /**
   * A warm restart: at a clean stop, idle instances stay running this long (ms) for the next run
   * of the same code to take over (Docker backend); off by default, as nothing of fc-local's
   * outlives it otherwise.
   */
  keepWarmMs?: number;
}

export class ListenError extends Error {}

export class Emulator {
  readonly store: TemplateStore;
  private readonly executor: Executor;
  private events?: EventSources;
  private asyncQueue?: AsyncQueue;
  private server?: http.Server;
  private closers: (() => Promise<void>)[] = [];
  private inFlight = 0;
  private recorder?: Recorder;
  /** The workbench's token when the bind is wider than loopback. */
  workbenchToken?: string;
  private draining = false;
  private keepWarmMs?: number;
  baseUrl = '';
  /** The local OSS's endpoint (path style), once serving. */
  ossEndpoint = '';
  /** What new instances are told of fc-local's services. */
  private instanceEnv: Record<string, string> = {};
  /** fc-local's services that containers reach on a socket of their own. */
  private instanceServices: InstanceService[] = [];
  private readonly typescript: TypeScriptBuilds;
  private readonly steps: BuildSteps;
  /** Custom containers' images built from fc-local.json's `build` (Docker backend). */
  private images?: ContainerImageBuilds;

  private stateOps?: EmulatorState;
  /** --ephemeral: the folder of all state, removed last at stop. */
  private ephemeralRoot?: string;

  /** Saving, loading and resetting the state of a serving emulator. */
  get state(): EmulatorState {
    if (!this.stateOps) throw new Error('the state is a serving emulator\'s');
    return this.stateOps;
  }

  /** What timers, retries, reaping and sessions follow; `clock.manual` when tests move it. */
  readonly clock: Clock;

  constructor(private readonly opts: EmulatorOptions) {
    this.store = new TemplateStore(opts.template);
    const manual = opts.clock === 'manual' ? new ManualClock() : undefined;
    this.clock = manual ?? realClock;
    // An advance fires a due timer once what the previous one started has settled.
    if (manual) manual.settle = () => this.settled();
    // TypeScript handlers run compiled, built before an instance starts and again after a save.
    this.typescript = new TypeScriptBuilds(path.join(path.dirname(opts.template.file), '.fc-local', 'build', 'ts'), (fn, r) => {
      if (r.errors.length) for (const d of r.errors) opts.note(`${fnKey(fn)}: TypeScript ${formatDiagnostic(d)} (requests answer this error until the file is fixed)`);
      else opts.note(`${fnKey(fn)}: compiled ${r.compiled} TypeScript file(s) in ${r.ms} ms`);
    });
    this.steps = new BuildSteps({
      stateDir: path.join(path.dirname(opts.template.file), '.fc-local', 'build', 'steps'),
      out: (fn, line) => opts.note(`${fnKey(fn)} ${line}`),
      timeoutMs: opts.buildTimeoutMs ?? 10 * 60_000,
    });
    this.executor = createExecutor({
      // Before an instance starts: the function's build steps (if its folders changed) and its TypeScript.
      prepare: async (fn) => {
        const built = await this.steps.ensure(fn);
        if (built.failure) throw built.failure;
        // A custom container whose image failed to build, with no image from before to run.
        const imageFailure = await this.images?.failureOf(fn);
        if (imageFailure) throw imageFailure;
        return this.typescript.ensure(fn);
      },
      backend: opts.backend,
      credentials: opts.credentials,
      template: () => this.store.current,
      concurrencyLimit: opts.concurrency,
      idleTimeoutMs: opts.idleTimeoutMs,
      standby: opts.standby,
      clock: this.clock,
      onEvent: (e) => {
        if (opts.debug && fnKey(e.fn) === opts.debug.fn) this.noteDebugger(e);
        if (e.type !== 'starting') this.recorder?.instancesChanged();
        opts.onPoolEvent?.(e);
      },
      debug: opts.debug,
      instanceEnv: () => this.instanceEnv,
      instanceServices: () => this.instanceServices,
      onLine: (fn, line, stream) => {
        opts.onFunctionLine?.(fn, line, stream);
        this.recorder?.log(fn, line, stream);
        // A service's logConfig logstore gets its functions' output, as in FC, so that one
        // function's logs can feed another's Log trigger.
        const logConfig = this.store.current.services.find((s) => s.name === fn.service)?.logConfig;
        if (logConfig && this.events) void this.events.appendLog(logConfig.logstore, [{ message: line, serviceName: fn.service, functionName: fn.name }], false);
      },
    });
    // Pools and checksums follow the template.
    this.store.subscribe(async (tpl, diff) => {
      invalidateCodeInfo();
      for (const f of allFunctions(tpl)) void codeInfo(f.codeUri);
      await Promise.all(diff.removed.map((f) => this.executor.pools.remove(f.service, f.name)));
      await Promise.all(diff.changed.map((f) => this.executor.pools.existing(f.service, f.name)?.refresh(f)));
    });
  }

  private noteDebugger(e: PoolEvent): void {
    const what = fnKey(e.fn);
    if (e.type === 'debugger-listening') {
      const hint = { node: 'Node inspector', debugpy: 'debugpy (DAP)', jdwp: 'JDWP', custom: 'your bootstrap reads FC_DEBUG_PORT' }[debuggerKind(e.fn) ?? 'custom'];
      this.opts.note(`${what}: waiting for a debugger on 127.0.0.1:${e.debugPort} (${hint})`);
    } else if (e.type === 'started' || e.type === 'restarted') {
      this.opts.note(debuggerKind(e.fn) === 'custom' ? `${what}: instance ready (its debugger, if the bootstrap started one, is on 127.0.0.1:${this.opts.debug?.port})` : `${what}: debugger attached`);
    }
  }

  get template(): Template {
    return this.store.current;
  }

  get pools() {
    return this.executor.pools;
  }

  /** One synchronous invocation of an event function. */
  invoke(fn: FunctionSpec, event: Buffer, requestId?: string, source: InvocationSource = 'library'): Promise<Outcome> {
    return this.executor.invoker.invokeEvent(fn, event, requestId, source);
  }

  /** Queues an async invocation as the API does (journaled first); resolves with its request id. */
  async invokeAsync(fn: FunctionSpec, event: Buffer): Promise<string> {
    if (!this.asyncQueue) throw new Error('async invocations need a serving emulator');
    const requestId = randomUUID();
    await this.asyncQueue.enqueue(fn, event, { requestId });
    return requestId;
  }

  /** The event sources, once serving (the injection API and the library use them). */
  get eventSources(): EventSources | undefined {
    return this.events;
  }

  /** Where OSS buckets and logstore files are read from (when serving). */
  get eventRoots(): { ossRoot: string; logRoot: string } {
    return { ossRoot: this.events?.ossRoot ?? '', logRoot: this.events?.logRoot ?? '' };
  }

  /** Async invocations accepted and not yet finished (0 when not serving). */
  /** What tests wait on: every finished invocation, with a cursor per reader (invocation-feed.ts). */
  readonly invocations = new InvocationFeed(() => this.observe());

  /**
   * Every finished invocation goes to the workbench's recorder and to tests' readers, once either
   * is there; with neither, the invoker builds no record at all.
   */
  private observe(): void {
    const recorder = this.recorder;
    const feed = this.invocations.reading ? this.invocations : undefined;
    this.executor.invoker.observer =
      recorder || feed
        ? (r) => {
            recorder?.record(r);
            if (feed) void feed.add(r);
          }
        : undefined;
  }

  /**
   * Resolves when nothing runs or waits: no invocation in flight, nothing queued, waiting for a
   * retry or running in the async queue (destinations included, as they are queued).
   */
  async idle(): Promise<void> {
    // On a manual clock a retry waits for an advance: idle is then nothing running or ready.
    if (this.clock.manual) return this.settled();
    for (;;) {
      await this.executor.invoker.whenIdle();
      await this.asyncQueue?.idle();
      // A finished invocation may queue more in the same turn (a destination, a trigger): look again after it.
      await new Promise((r) => setImmediate(r));
      if (this.executor.invoker.running === 0 && (this.asyncQueue?.pending ?? 0) === 0) return;
    }
  }

  /** Nothing running and nothing ready to run; retries may wait on the (manual) clock. */
  private async settled(): Promise<void> {
    for (;;) {
      await this.executor.invoker.whenIdle();
      await this.asyncQueue?.quiet();
      // A finished invocation may start more in the same turn (a destination): look again after it.
      await new Promise((r) => setImmediate(r));
      if (this.executor.invoker.running === 0 && (this.asyncQueue?.readyOrRunning ?? 0) === 0) return;
    }
  }

  get pendingAsync(): number {
    return this.asyncQueue?.pending ?? 0;
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  private async startWorkbench(o: ServeOptions, events: EventSources, browser: OssBrowser): Promise<WorkbenchSource> {
    const [{ Recorder }, { workbenchSource }] = await Promise.all([import('./recorder.js'), import('./workbench-source.js')]);
    const pools = this.executor.pools;
    const recorder = new Recorder(
      (fn) => pools.existing(fn.service, fn.name)?.busy ?? 0,
      () => pools.all().flatMap((p) => (p.sessions ? [[fnKey(p.fn), p.sessions.size] as [string, number]] : [])),
    );
    this.recorder = recorder;
    this.observe();

    // A token guards the page and the injection API when the bind is wider than loopback (or when
    // FC_LOCAL_WORKBENCH_TOKEN asks for one anyway).
    this.workbenchToken = process.env.FC_LOCAL_WORKBENCH_TOKEN || (LOOPBACK_HOSTS.has(o.host) ? undefined : randomUUID().replace(/-/g, ''));
    return workbenchSource({
      template: () => this.store.current,
      pools,
      invoker: this.executor.invoker,
      events,
      recorder,
      baseUrl: () => this.baseUrl,
      invokeAsync: (fn, event) => this.invokeAsync(fn, event),
      token: this.workbenchToken,
      oss: () => ({
        endpoint: this.ossEndpoint,
        virtualHosted: `http://<bucket>.oss-${this.store.current.region}.localhost:${new URL(this.baseUrl).port}`,
        region: this.store.current.region,
        accessKeyId: this.opts.credentials.accessKeyId,
        // The secret stays out of an HTTP answer: it is the one of these credentials.
        accessKeySecretFrom: this.opts.credentials.source,
        signatures: o.auth ? 'OSS V1 and V4 (header, presigned URL or form)' : 'off (--no-auth)',
        buckets: this.events?.ossBuckets() ?? [],
      }),
      ossBrowser: browser,
      feed: this.invocations,
      idle: () => this.idle(),
      clock: this.clock,
      state: () => this.state,
    });
  }

  /** The local OSS on a port of its own (path style, for any client); resolves with its endpoint. */
  private async serveOss(handler: http.RequestListener, o: ServeOptions): Promise<string> {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ListenError(err.code === 'EADDRINUSE' ? `OSS port ${o.ossPort} on ${o.host} is in use; pick another with --oss-port` : `cannot listen on ${o.host}:${o.ossPort}: ${err.message}`)),
      );
      server.listen(o.ossPort ?? 0, o.host);
    });
    this.closers.push(async () => {
      server.close();
      server.closeAllConnections();
    });
    const addr = server.address() as AddressInfo;
    return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  }

  /** Serves the FC API, triggers, event sources and injection API; resolves with the base URL. */
  async serve(o: ServeOptions): Promise<string> {
    const tpl = this.store.current;
    const templateDir = path.dirname(tpl.file);
    // --ephemeral: every default folder of state in one temporary folder, gone at stop.
    const stateRoot = o.ephemeral ? mkdtempSync(path.join(os.tmpdir(), 'fc-local-ephemeral-')) : path.join(templateDir, '.fc-local');
    if (o.ephemeral) this.ephemeralRoot = stateRoot;
    const local = (dir: string | undefined, name: string) => path.resolve(dir ?? path.join(stateRoot, name));
    const note = this.opts.note;
    // What only a server needs is loaded here, so that `invoke` starts without it.
    const [{ EventSources }, { createGateway }, { upgradeHandler }, { AsyncQueue }, { startCodeReload }, { OssStore }, { ossApi, OSS_HOST }, { ossBrowser }] = await Promise.all([
      import('../events/index.js'),
      import('../gateway/app.js'),
      import('../gateway/websocket.js'),
      import('../runtime/async/queue.js'),
      import('./code-reload.js'),
      import('../services/oss/store.js'),
      import('../services/oss/handler.js'),
      import('../services/oss/browser.js'),
    ]);

    const ossRoot = local(o.ossDir, 'oss');
    // Object metadata lives beside the buckets' folder, never in it.
    const ossStore = new OssStore(ossRoot, `${ossRoot}.meta`);
    const events = new EventSources({
      invoker: this.executor.invoker,
      template: () => this.store.current,
      log: note,
      ossDir: ossRoot,
      ossWrittenByApi: (file) => ossStore.wroteRecently(file),
      onOssActivity: (a) => this.recorder?.ossActivity(a),
      logDir: local(o.logDir, 'log'),
      baseUrl: () => this.baseUrl,
      clock: this.clock,
    });
    this.events = events;
    // The local OSS's writes and deletes fire its triggers, whoever made them (a client, the workbench).
    const ossWrote = (e: OssEvent) => void events.fireOss({ bucket: e.bucket, key: e.key, eventName: e.eventName, size: e.size, ...(e.etag ? { eTag: e.etag } : {}), origin: 'api', ...(e.parent ? { parent: e.parent } : {}) }, false);
    const asyncQueue = new AsyncQueue(this.executor.invoker, {
      dir: path.join(local(o.stateDir, ''), 'async'),
      concurrency: o.asyncConcurrency,
      backoffMs: o.asyncBackoffMs,
      maxThrottledMs: 5 * 60 * 60_000,
      gate: this.executor.pools.gate,
      lookup: (s, f) => findFunction(this.store.current, s, f),
      region: tpl.region,
      accountId: tpl.accountId,
      log: note,
      clock: this.clock,
    });
    this.asyncQueue = asyncQueue;

    // Build steps first (those whose folders changed since their last run): a failure stops only its function.
    await Promise.all(allFunctions(tpl).filter((f) => f.build?.steps.length).map((f) => this.steps.ensure(f)));
    // Custom containers' images from fc-local.json's `build`, through the engine.
    if (this.opts.backend.name === 'docker') {
      const { ContainerImageBuilds, readContainerBuilds } = await import('../build/container-images.js');
      const specs = readContainerBuilds(tpl.file);
      if (Object.keys(specs).length) {
        const images = new ContainerImageBuilds((this.opts.backend as DockerBackend).docker, specs, (fn, line) => note(`${fnKey(fn)} ${line}`));
        this.images = images;
        await Promise.all(allFunctions(tpl).filter((f) => images.specOf(f)).map((f) => images.build(f)));
      }
    }
    const now = new Date().toISOString();
    const workbench = o.workbench === false ? undefined : await this.startWorkbench(o, events, ossBrowser(ossStore, ossWrote));
    const { EmulatorState } = await import('./state.js');
    const state = new EmulatorState({
      layout: { oss: ossRoot, ossMeta: `${ossRoot}.meta`, async: path.join(local(o.stateDir, ''), 'async'), history: path.join(local(o.stateDir, ''), 'history.json') },
      template: tpl.file,
      settled: () => this.settled(),
      pauseOss: () => events.pauseOss(),
      resumeOss: () => events.resumeOss(),
      asyncQueue,
      ...(this.recorder ? { recorder: this.recorder } : {}),
      pools: this.executor.pools,
    });
    this.stateOps = state;
    state.restoreHistory(note);
    const listener = createGateway({
      workbench,
      requestFailed: this.recorder ? (url, status) => this.recorder?.requestError(functionOfUrl(url), status) : undefined,
      template: () => this.store.current,
      invoker: this.executor.invoker,
      credentials: this.opts.credentials,
      auth: o.auth,
      times: { createdTime: now, lastModifiedTime: now },
      async: asyncQueue,
      log: note,
      events,
      baseUrl: () => this.baseUrl,
    });
    const oss = ossApi({
      store: ossStore,
      region: tpl.region,
      ...(o.auth ? { keys: this.opts.credentials } : {}),
      onEvent: ossWrote,
    });
    const handler: http.RequestListener = (req, res) => {
      if (this.draining) {
        res.writeHead(503, { 'Content-Type': 'application/json', Connection: 'close' });
        res.end(JSON.stringify({ ErrorCode: 'ServiceUnavailable', ErrorMessage: 'fc-local is shutting down' }));
        return;
      }
      this.inFlight++;
      res.once('close', () => this.inFlight--);
      // <bucket>.oss-<region>.localhost (and oss-<region>.localhost): the local OSS, virtual-hosted.
      if (OSS_HOST.test(req.headers.host ?? '')) oss(req, res);
      else listener(req, res);
    };
    const server = http.createServer(handler);
    server.on('upgrade', upgradeHandler({ template: () => this.store.current, invoker: this.executor.invoker, log: note }));
    // Instances answer quickly; keep client connections open for reuse like FC's front ends.
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ListenError(err.code === 'EADDRINUSE' ? `port ${o.port} on ${o.host} is in use; pick another with --port` : `cannot listen on ${o.host}:${o.port}: ${err.message}`)),
      );
      server.listen(o.port, o.host);
    });
    const addr = server.address() as AddressInfo;
    this.baseUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    this.ossEndpoint = await this.serveOss(oss, o);
    // Processes on this machine reach the OSS port; containers have a loopback of their own.
    // --oss remote: functions keep OSS's real names (and the local OSS fires only for its own clients).
    if (o.oss === 'remote') note('oss remote: functions reach the real OSS; the local OSS serves only clients that name its endpoint');
    else if (this.opts.backend.name === 'process') this.instanceEnv = { FC_LOCAL_OSS_ENDPOINT: this.ossEndpoint };
    else this.instanceServices = [{ name: 'oss', envVar: 'FC_LOCAL_OSS_SOCKET', listener: oss }];
    // FC's own API too (@alicloud/fc2 from a function, by FC's endpoint names).
    if (this.opts.backend.name === 'process') this.instanceEnv = { ...this.instanceEnv, FC_LOCAL_FC_ENDPOINT: this.baseUrl };
    else this.instanceServices = [...this.instanceServices, { name: 'fc', envVar: 'FC_LOCAL_FC_SOCKET', listener: handler }];

    // Instances start once fc-local's services are there to tell them of (the OSS's socket or port).
    // A warm restart: instances the last run left for this one (--keep-warm) serve first.
    const adopted = await this.executor.pools.adoptParked(allFunctions(tpl).filter((f) => fnKey(f) !== this.opts.debug?.fn));
    if (adopted.size) note(`warm restart: took over ${[...adopted].map(([fn, n]) => `${n} x ${fn}`).join(', ')} from the last run`);
    this.keepWarmMs = o.keepWarmMs;
    if (o.keepWarmMs && (!this.opts.backend.park || (this.opts.backend as Partial<DockerBackend>).remote)) {
      note(`--keep-warm: only the Docker backend on an engine of this machine keeps instances past exit; here they end with fc-local`);
    }
    // --warm for every function; provisionConfig.target for its function, whichever is more.
    // The debugged function starts at its first request: warming it would wait for the debugger.
    const toWarm = allFunctions(tpl).filter((f) => Math.max(o.warm, f.provisioned) > 0 && fnKey(f) !== this.opts.debug?.fn);
    if (toWarm.length) {
      note(`warming ${toWarm.map((f) => `${Math.max(o.warm, f.provisioned)} x ${fnKey(f)}`).join(', ')} ...`);
      await Promise.all(toWarm.map((f) => this.executor.pools.pool(f).warm(Math.max(o.warm, f.provisioned)).catch((err: Error) => note(`could not warm ${fnKey(f)}: ${err.message}`))));
    }
    await events.apply(tpl);
    this.store.subscribe((t) => events.apply(t));
    // Checksums for X-Fc-Code-Checksum, computed in the background before the first request.
    for (const f of allFunctions(tpl)) void codeInfo(f.codeUri);
    if (o.watch) {
      const code = await startCodeReload(this.store, this.executor.pools, note, (fn) => this.typescript.ensure(fn), (fn) => this.steps.isRunning(fn));
      const { startBuildWatch } = await import('./build-watch.js');
      const builds = await startBuildWatch(this.store, this.steps, code.reload, this.images);
      await this.store.watch(note);
      this.closers.push(() => this.store.close(), () => code.close(), () => builds.close());
    }
    asyncQueue.start();
    if (!o.ephemeral) {
      const unmark = state.markRunning(path.join(local(o.stateDir, ''), 'running.json'), this.baseUrl, this.workbenchToken);
      this.closers.push(async () => unmark());
    }
    return this.baseUrl;
  }

  /**
   * Stops in order: no new requests; requests in flight and running async invocations finish
   * (each within its timeout); queued async invocations stay in the journal; then instances.
   */
  async stop(): Promise<void> {
    this.draining = true;
    const server = this.server;
    server?.close();
    // Idle keep-alive connections go now, busy ones as soon as their answer is out.
    const closer = setInterval(() => server?.closeIdleConnections(), 50);
    server?.closeIdleConnections();
    try {
      for (const close of this.closers) await close();
      await this.events?.close();
      await this.asyncQueue?.close();
      // The workbench's history survives a restart, as the rest of the state does.
      try {
        if (!this.ephemeralRoot) this.stateOps?.writeHistory();
      } catch (err) {
        this.opts.note(`could not keep the workbench's history: ${(err as Error).message}`);
      }
      // A function held at a breakpoint (or waiting for its debugger) would hold the drain forever.
      while (this.inFlight > 0 && !this.opts.debug) await delay(20, true);
      // An answer is out before its invocation ends (its log's last lines, preFreeze): let those
      // finish, so that their instances stop (or are parked) idle.
      if (!this.opts.debug) await this.executor.invoker.whenIdle();
    } finally {
      clearInterval(closer);
    }
    server?.closeAllConnections();
    await this.executor.close(this.keepWarmMs ? Date.now() + this.keepWarmMs : undefined);
    if (this.ephemeralRoot) rmSync(this.ephemeralRoot, { recursive: true, force: true });
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** The function a failed request was for, from its path (ClientErrors / ServerErrors). */
function functionOfUrl(url: string): string {
  const m = /\/services\/([^/?]+)\/functions\/([^/?]+)|\/proxy\/([^/?]+)\/([^/?]+)|\/2023-03-30\/functions\/([^/?]+)/.exec(url);
  if (!m) return '-';
  // The path may be what failed (bad percent-encoding): never throw here.
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (m[5]) return decode(m[5]).replace('$', '/');
  return `${decode(m[1] ?? m[3]!)}/${decode(m[2] ?? m[4]!)}`;
}

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { headerBytes, LIMITS, runtimeFamily, TRACE_PARENT_HEADER, type FunctionSpec, type LogConfig } from '../model.js';
import { delay } from '../util.js';
import type { Credentials } from '../model.js';
import { InstanceStartError } from './backend.js';
import { UnsupportedRuntimeError } from './agents.js';
import { QueueTimeoutError, ThrottledError, type FunctionPool, type Instance, type Lease, type PoolSet } from './pool.js';
import type { SessionClaim } from './sessions.js';
import { CRASH_MESSAGE, functionErrorOf, protocolHeaders, type FunctionErrorType } from './protocol.js';
import { CallError, type RawResponse, type RequestKind } from './channel.js';

// One invocation, end to end: lease a warm instance, initialize it once, send the event (or the
// HTTP request) over the protocol, enforce the timeout, collect the invocation's log lines, map
// failures to FC's errors, and give the instance back (or replace it).

export interface Outcome {
  requestId: string;
  /** Set when the function failed; `body` is then FC's error JSON. */
  errorType?: FunctionErrorType;
  /** The function's answer broke FC's response limits (HTTP: 502 BadResponse). */
  badResponse?: boolean;
  body: Buffer;
  /** HTTP functions only: the status and headers the function set. */
  statusCode?: number;
  headers?: http.IncomingHttpHeaders;
  logs: string[];
  durationMs: number;
  billedDurationMs: number;
  maxMemoryUsedMB?: number;
  coldStart: boolean;
  /** The instance that ran it (FC 3.0's X-Fc-Instance-Id). */
  instanceId?: string;
  /** HTTP functions: the answer went to the call's `stream` as it came (body is then empty). */
  streamed?: boolean;
  /**
   * Where the time went before the handler (ms; plain numbers, not an object: one less allocation
   * per invocation): waiting in the queue for an instance (a busy one, or the concurrency limit,
   * its start excluded), starting the instance this request waited for (cold starts), and the
   * initializer where this request ran it.
   */
  queueMs?: number;
  startMs?: number;
  initMs?: number;
  /** An async invocation's wait in the async queue before this attempt (ms). */
  asyncQueueMs?: number;
}


/** What caused an invocation, as a trace shows it: a parent invocation, and what it was. */
export interface InvocationCause {
  /** The request id of the invocation that caused this one (a function's write or call, an async invocation's destination). */
  parent?: string;
  /** e.g. `GET /path`, `oss ObjectCreated:PutObject b/k`, `timer hourly`. */
  what?: string;
}

/**
 * Where an HTTP function's answer goes as it is written, when it streams (see streams()): the
 * caller starts its own answer with the status and headers, and returns where the body goes;
 * a close of that destination before the end is the client going away.
 */
export type StreamSink = (status: number, headers: http.IncomingHttpHeaders) => NodeJS.WritableStream & { on(event: 'close', cb: () => void): unknown; destroy(): void };

export interface HttpCall {
  method: string;
  /** Path and query as the instance sees them: /2016-08-15/proxy/{service}/{function}/... */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  clientIP: string;
  /** Pass a streaming answer through as it is written (custom runtimes and containers). */
  stream?: StreamSink;
  /** The request body as it arrives, instead of `body` (large or chunked uploads to custom runtimes). */
  bodyStream?: NodeJS.ReadableStream;
  /** FC 3.0 session affinity: the session the request belongs to or may begin. */
  session?: SessionRequest;
  cause?: InvocationCause;
}

/** A request's part in FC 3.0's sessions (the gateway reads it off the request and the answer). */
/** More about an event invocation: its async attempt, its session, what caused it. */
export interface EventExtras {
  attempt?: number;
  /** How long it waited in the async queue before this attempt (ms). */
  queuedMs?: number;
  session?: SessionRequest;
  cause?: InvocationCause;
}

export interface SessionRequest {
  claim: SessionClaim;
  /** The lease as soon as the request has an instance (a streamed answer binds its session through it). */
  leased?(lease: Lease): void;
  /** The function's answer, while the instance is still held: binds or ends sessions by it. */
  answered?(lease: Lease, status: number, headers: http.IncomingHttpHeaders): void;
}

export interface InvokerContext {
  region: string;
  accountId: string;
  credentials: Credentials;
  logConfigOf(service: string): LogConfig | undefined;
}

/** What started an invocation, as the workbench shows it. */
export type InvocationSource = 'api' | 'http' | 'timer' | 'oss' | 'log' | 'cdn' | 'async' | 'destination' | 'library' | 'workbench';

export interface InvocationRecord {
  fn: FunctionSpec;
  requestId: string;
  source: InvocationSource;
  /** Epoch ms when it was asked for. */
  at: number;
  request: { event: Buffer } | { http: HttpCall };
  /** Undefined when it was throttled (no instance ran it). */
  outcome?: Outcome;
  /** The invocation's log once complete (an HTTP trigger answers before its log is in). */
  logs: Promise<string[]>;
  /** An async invocation's attempt: 1, then 2 for its first retry, ... */
  attempt?: number;
  cause?: InvocationCause;
  /** The preFreeze hook's duration (ms), once it has run after the answer. */
  preFreezeMs?: Promise<number> | undefined;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
// Headers of one hop: the caller's `expect` was answered by the gateway, and ours is the receipt.
// fc-local's trace mark (a function's call to fc-local's services) is not the next function's business either.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'expect', 'upgrade', 'te', 'trailer', 'proxy-connection', TRACE_PARENT_HEADER]);
const END_MARKER_GRACE_MS = 250;
const QUIET_MS = 20;

export class Invoker {
  /** Told of every invocation once it ends (the workbench's record); must be cheap. */
  observer?: (record: InvocationRecord) => void;
  /** Invocations running now (waiting for an instance included). */
  running = 0;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly pools: PoolSet,
    private readonly ctx: InvokerContext,
  ) {}

  invokeEvent(fn: FunctionSpec, event: Buffer, requestId: string = randomUUID(), source: InvocationSource = 'api', extras: EventExtras = {}): Promise<Outcome> {
    return this.run(fn, requestId, source, { event }, extras, (inst, headers, timeoutMs) => {
      headers['content-type'] = 'application/octet-stream'; // this request's own object
      return send(inst, { kind: 'invoke', method: 'POST', path: '/invoke', headers, body: event }, timeoutMs, acks(fn));
    });
  }

  invokeHttp(fn: FunctionSpec, call: HttpCall, requestId: string = randomUUID(), source: InvocationSource = 'http'): Promise<Outcome> {
    return this.run(fn, requestId, source, { http: call }, { session: call.session, cause: call.cause }, (inst, headers, timeoutMs) => {
      // Built in place, not by spreading: under load V8 came to allocate the spread objects in
      // the old generation, and the collector's pauses doubled the gateway's p99.
      const http: Record<string, string | string[]> = {};
      const from = call.headers;
      for (const k in from) {
        const v = from[k];
        // Clients cannot forge protocol headers; hop-by-hop headers stay on this hop.
        if (v === undefined || k.startsWith('x-fc-') || HOP_BY_HOP.has(k)) continue;
        http[k] = v;
      }
      for (const k in headers) http[k] = headers[k]!;
      http['x-fc-client-ip'] = call.clientIP;
      // The path may be any (a custom domain's): the header, not the path, says "HTTP function".
      http['x-fc-local-http-invoke'] = '1';
      return send(inst, { kind: 'http', method: call.method, path: call.url, headers: http, body: call.body, stream: call.stream, bodyStream: call.bodyStream }, timeoutMs, acks(fn));
    });
  }

  /**
   * A warm instance for a raw connection (a WebSocket to a custom runtime): its address, and a
   * release to call when the connection ends. It counts as one request in flight meanwhile.
   */
  /** The pool of a function (its sessions, for the Session API and the gateway). */
  pool(fn: FunctionSpec): FunctionPool {
    return this.pools.pool(fn);
  }

  async connect(fn: FunctionSpec, session?: SessionClaim): Promise<{ host: string; port: number; release(): void }> {
    const lease = await this.pools.pool(fn).acquire(session);
    return { host: lease.instance.handle.host, port: lease.instance.handle.port, release: () => lease.release() };
  }

  private async run(
    fn: FunctionSpec,
    requestId: string,
    source: InvocationSource,
    request: InvocationRecord['request'],
    extras: EventExtras,
    call: (inst: Instance, headers: Record<string, string>, timeoutMs: number) => Promise<RawResponse>,
  ): Promise<Outcome> {
    const { attempt, session, cause, queuedMs } = extras;
    const at = Date.now();
    const httpMode = 'http' in request;
    const observe = this.observer;
    this.running++;
    try {
      const out = await this.attempt(fn, requestId, httpMode, session, call);
      if (queuedMs !== undefined) out.outcome.asyncQueueMs = queuedMs;
      // One object, no spreads: this runs for every invocation while the workbench records.
      if (observe) tell(observe, { fn, requestId, source, at, request, outcome: out.outcome, logs: out.logs, attempt, cause, preFreezeMs: out.preFreeze });
      return out.outcome;
    } catch (err) {
      if (observe && err instanceof ThrottledError) tell(observe, { fn, requestId, source, at, request, logs: Promise.resolve([]), attempt, cause });
      throw err;
    } finally {
      if (--this.running === 0) this.idleWaiters.splice(0).forEach((w) => w());
    }
  }

  /** Resolves when no invocation runs (at once if none does). */
  whenIdle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async attempt(
    fn: FunctionSpec,
    requestId: string,
    httpMode: boolean,
    session: SessionRequest | undefined,
    call: (inst: Instance, headers: Record<string, string>, timeoutMs: number) => Promise<RawResponse>,
  ): Promise<{ outcome: Outcome; logs: Promise<string[]>; preFreeze?: Promise<number> | undefined }> {
    // FC's duration is the function's own time: start the clock after a cold start.
    let t0 = performance.now();
    const asked = t0;
    let initMs = 0;
    let waitedMs = 0;
    const logs: string[] = [];
    // The outcome is completed in place, not spread into new objects: under load V8 came to
    // allocate such spreads in the old generation (see invokeHttp).
    const finish = (o: Omit<Outcome, 'requestId' | 'logs' | 'durationMs' | 'billedDurationMs'>): Outcome => {
      const out = o as Outcome;
      out.requestId = requestId;
      out.logs = logs;
      out.durationMs = Math.max(1, Math.round(performance.now() - t0));
      out.billedDurationMs = Math.ceil(out.durationMs / 100) * 100;
      return out;
    };

    const markers = runtimeFamily(fn.runtime) !== 'custom';
    const headers = protocolHeaders({
      requestId,
      fn,
      logConfig: this.ctx.logConfigOf(fn.service),
      region: this.ctx.region,
      accountId: this.ctx.accountId,
      credentials: this.ctx.credentials,
    });

    let lease!: Lease;
    let log!: InvocationLog;
    let discard = false;
    let unlogged = false;
    let reportedKB: number | undefined;
    let outcome!: Omit<Outcome, 'requestId' | 'logs' | 'durationMs' | 'billedDurationMs'>;
    // A second attempt only when the first request provably never reached a live instance.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        lease = await this.pools.pool(fn).acquire(session?.claim);
        waitedMs = performance.now() - asked;
        lease.serves(requestId);
        session?.leased?.(lease);
      } catch (err) {
        if (err instanceof InstanceStartError || err instanceof UnsupportedRuntimeError) {
          const output = err instanceof InstanceStartError && err.output ? `\n${err.output}` : '';
          if (output) logs.push(...output.trim().split('\n'));
          const outcome = finish({ errorType: 'UnhandledInvocationError', body: errorJson(err.message + output, 'InstanceStartError'), coldStart: true });
          return { outcome, logs: Promise.resolve(logs) };
        }
        // Queued past the function's timeout: FC's timeout answer, never a connection left hanging.
        if (err instanceof QueueTimeoutError) {
          logs.push(`fc-local: ${err.message} (RequestId: ${requestId})`);
          return { outcome: finish({ errorType: 'UnhandledInvocationError', body: errorJson(err.message), coldStart: false }), logs: Promise.resolve(logs) };
        }
        throw err; // ThrottledError and the like: not a function error, the caller maps them.
      }
      const inst = lease.instance;
      log = new InvocationLog(inst, requestId, markers);
      discard = false;
      try {
        const initStart = performance.now();
        const initFailure = await this.initialize(inst, fn, headers, log);
        initMs = performance.now() - initStart;
        if (initFailure) {
          discard = true;
          outcome = { errorType: initFailure.errorType, body: initFailure.body, coldStart: lease.cold };
        } else {
          t0 = performance.now();
          const res = await call(inst, headers, this.timeLimitMs(fn, fn.timeout));
          session?.answered?.(lease, res.status, res.headers);
          unlogged = res.headers['x-fc-local-logged'] === '0';
          const rss = res.headers['x-fc-local-max-rss-kb'];
          reportedKB = typeof rss === 'string' ? Number(rss) || undefined : undefined;
          const errorType = functionErrorOf(res.status, res.headers, httpMode);
          outcome = errorType ? { errorType, body: res.body, coldStart: lease.cold } : { body: res.body, coldStart: lease.cold };
          if (!errorType && httpMode) {
            outcome.statusCode = res.status;
            outcome.headers = res.headers;
          }
          if (res.streamed) {
            outcome.streamed = true;
            if (res.clientClosed) inst.handle.echo?.(`fc-local: the client closed the connection before the end of the streamed answer (RequestId: ${requestId})`);
          }
          if (!errorType && exceedsResponseLimits(res, httpMode)) {
            outcome = { errorType: 'UnhandledInvocationError', badResponse: true, body: errorJson(TOO_LARGE, 'BadResponse'), coldStart: lease.cold };
          }
        }
      } catch (err) {
        const e = err as CallError;
        if (e.kind === 'undelivered' && attempt === 0) {
          log.detach();
          // Give the pool a moment to see the exit, then start over on another instance.
          await firstOf(inst, 100, () => undefined);
          lease.release({ discard: true });
          continue;
        }
        // An oversized answer is the function's mistake, not a broken instance: keep it warm.
        discard = e.kind !== 'tooLarge';
        outcome = { errorType: 'UnhandledInvocationError', badResponse: e.kind === 'tooLarge', body: errorJson(await failureMessage(e, fn, inst)), coldStart: lease.cold };
        // A stream cut at the timeout: its status and part of its body are out already.
        if (e.streamed) {
          outcome.streamed = true;
          if (e.kind === 'timeout') inst.handle.echo?.(`Function timed out after ${fn.timeout} seconds (RequestId: ${requestId}): the streamed answer was cut`);
        }
      }
      break;
    }

    await log.settle(discard, httpMode, unlogged);
    logs.push(...log.lines);
    // FC reports peak memory for invocations, not on HTTP-trigger responses: skip the read there.
    const maxMemoryUsedMB = httpMode ? undefined : await lease.instance.handle.maxMemoryMB(reportedKB);
    // preFreeze after the invocation, before the instance idles: the caller has its answer already.
    let preFreeze: Promise<number> | undefined;
    if (!discard && fn.lifecycle?.preFreeze) {
      const began = performance.now();
      preFreeze = this.runHook(lease.instance, fn, 'preFreeze')
        .finally(() => lease.release({ discard }))
        .then(() => Math.round(performance.now() - began));
    } else lease.release({ discard });
    outcome.maxMemoryUsedMB = maxMemoryUsedMB;
    outcome.instanceId = lease.instance.handle.id;
    // The instance's start, as far as this request waited for it; the rest of the wait is the queue.
    const startMs = lease.cold ? Math.min(lease.instance.startedMs, waitedMs) : 0;
    outcome.queueMs = Math.round(waitedMs - startMs);
    outcome.startMs = Math.round(startMs);
    outcome.initMs = Math.round(initMs);
    return { outcome: finish(outcome), logs: log.done, preFreeze };
  }

  /**
   * A life cycle hook on an instance: GET /pre-stop or /pre-freeze (FC's custom-runtime contract;
   * our agents call the handler named in x-fc-lifecycle-handler), within the hook's timeout.
   * Failures and timeouts are logged as the function's lines; they never stop what follows.
   */
  async runHook(inst: Instance, fn: FunctionSpec, hook: 'preStop' | 'preFreeze'): Promise<void> {
    const cfg = fn.lifecycle?.[hook];
    if (!cfg) return;
    const requestId = randomUUID();
    const name = hook === 'preStop' ? 'PreStop' : 'PreFreeze';
    const headers: Record<string, string> = {
      ...protocolHeaders({ requestId, fn, logConfig: this.ctx.logConfigOf(fn.service), region: this.ctx.region, accountId: this.ctx.accountId, credentials: this.ctx.credentials }),
      'x-fc-lifecycle-handler': cfg.handler,
    };
    // Our agents print FC's lines around the hook; for a custom runtime fc-local does.
    const custom = runtimeFamily(fn.runtime) === 'custom';
    if (custom) inst.handle.echo?.(`FC ${name} Start RequestId: ${requestId}`);
    try {
      const res = await send(inst, { kind: 'http', method: 'GET', path: hook === 'preStop' ? '/pre-stop' : '/pre-freeze', headers, body: EMPTY_BODY }, this.timeLimitMs(fn, cfg.timeout), false);
      if (res.status >= 300) inst.handle.echo?.(`FC ${name} failed (RequestId: ${requestId}): ${res.body.toString('utf8').slice(0, 2000)}`);
    } catch (err) {
      const e = err as CallError;
      inst.handle.echo?.(e.kind === 'timeout' ? `FC ${name} timed out after ${cfg.timeout} seconds (RequestId: ${requestId})` : `FC ${name} failed (RequestId: ${requestId}): the instance ended`);
    } finally {
      if (custom) inst.handle.echo?.(`FC ${name} End RequestId: ${requestId}`);
    }
  }

  /** A function's time limit in ms; none while a debugger may hold it at a breakpoint. */
  private timeLimitMs(fn: FunctionSpec, seconds: number): number {
    return this.pools.debugging(fn) ? Infinity : seconds * 1000;
  }

  /** Runs the initializer once per instance (the instance owns "once"); returns the failure, if any. */
  private initialize(
    inst: Instance,
    fn: FunctionSpec,
    headers: Record<string, string>,
    log: InvocationLog,
  ): Promise<{ errorType: FunctionErrorType; body: Buffer } | undefined> {
    if (!fn.initializer) return Promise.resolve(undefined);
    return inst.initializeOnce(async () => {
      try {
        const limit = this.timeLimitMs(fn, fn.initializationTimeout);
        const res = await send(inst, { kind: 'initialize', method: 'POST', path: '/initialize', headers, body: Buffer.alloc(0) }, limit, acks(fn));
        // The initializer's lines belong to this invocation's log: let them arrive (a container's
        // output comes through the engine) before the invocation, which may add no line of its own.
        if (runtimeFamily(fn.runtime) !== 'custom') await log.until(`FC Initialize End RequestId: ${headers['x-fc-request-id']}`, END_MARKER_GRACE_MS);
        const errorType = functionErrorOf(res.status, res.headers, false);
        return errorType ? { errorType, body: res.body } : undefined;
      } catch (err) {
        const message = (err as CallError).kind === 'timeout' ? `Function initialization timed out after ${fn.initializationTimeout} seconds` : CRASH_MESSAGE;
        return { errorType: 'UnhandledInvocationError' as const, body: errorJson(message) };
      }
    });
  }
}

/** An observer's failure never fails the invocation it watches. */
function tell(observe: (r: InvocationRecord) => void, record: InvocationRecord): void {
  try {
    observe(record);
  } catch {
    // the workbench misses one record
  }
}

const TOO_LARGE = "The function's response exceeds FC's limits (body 6 MB, headers 4 KB)";

async function failureMessage(e: CallError, fn: FunctionSpec, inst: Instance): Promise<string> {
  if (e.kind === 'timeout') return `Function timed out after ${fn.timeout} seconds`;
  if (e.kind === 'tooLarge') return TOO_LARGE;
  const message = CRASH_MESSAGE;
  // The backend may know why it ended (Docker reports an OOM kill); wait briefly to hear it.
  const exit = await Promise.race([inst.handle.exited, delay(2000)]);
  return exit && exit.reason === 'OOM' ? `${message} (out of memory: the function's memorySize is ${fn.memorySize} MB)` : message;
}

/** What one invocation's log keeps: the newest lines, so that a flood cannot fill memory. */
const LOG_KEEP_CHARS = 1024 * 1024;

/** The lines one invocation prints, collected from its instance's output. */
class InvocationLog {
  private kept: string[] = [];
  private keptChars = 0;
  private dropped = 0;
  private lastLineAt = 0;
  private endSeen = false;
  private sawEnd: () => void = () => {};
  private readonly endLine: string;
  private readonly off: () => void;
  private complete: (lines: string[]) => void = () => {};
  /** The lines once the log is complete (detached). */
  readonly done = new Promise<string[]>((r) => (this.complete = r));

  constructor(
    private readonly inst: Instance,
    private readonly requestId: string,
    /** Our agents print FC's Start/End markers; for a custom bootstrap fc-local adds them. */
    private readonly markers: boolean,
  ) {
    this.endLine = `FC Invoke End RequestId: ${requestId}`;
    if (!markers) this.push(`FC Invoke Start RequestId: ${requestId}`);
    this.off = inst.handle.onLine((line) => {
      this.push(line);
      this.lastLineAt = performance.now();
      if (line === this.endLine) {
        this.endSeen = true;
        this.sawEnd();
      }
      if (line === this.awaited?.line) this.awaited.seen();
    });
  }

  private awaited?: { line: string; seen: () => void };

  /** Resolves once `line` has been printed (from now on), or after `ms`. */
  async until(line: string, ms: number): Promise<void> {
    if (this.kept.includes(line)) return;
    await firstOf(this.inst, ms, (seen) => (this.awaited = { line, seen }));
    this.awaited = undefined;
  }

  private push(line: string): void {
    this.kept.push(line);
    this.keptChars += line.length + 1;
    if (this.keptChars > LOG_KEEP_CHARS * 2) {
      // Drop the oldest half in one go: amortised O(1) per line.
      let n = 0;
      while (this.keptChars > LOG_KEEP_CHARS) this.keptChars -= this.kept[n++]!.length + 1;
      this.kept = this.kept.slice(n);
      this.dropped += n;
    }
  }

  get lines(): string[] {
    return this.dropped ? [`[fc-local: ${this.dropped} earlier log lines of this invocation dropped]`, ...this.kept] : this.kept;
  }

  detach(): void {
    this.off();
    this.complete(this.lines);
  }

  /**
   * Waits until the invocation's lines are in, never for long: our agents print the End marker
   * before answering; a custom bootstrap's output is given a short pause (not for HTTP
   * triggers, which return no logs); a discarded instance prints nothing more.
   */
  async settle(discarded: boolean, httpMode: boolean, unlogged = false): Promise<void> {
    if (unlogged && this.inst.handle.echo) {
      // The agent printed nothing for it, markers included: they are written here.
      this.inst.handle.echo(`FC Invoke Start RequestId: ${this.requestId}`);
      this.inst.handle.echo(this.endLine);
      this.detach();
      return;
    }
    if (discarded) {
      await firstOf(this.inst, 50, () => undefined);
    } else if (this.markers) {
      const settled = this.endSeen ? Promise.resolve() : firstOf(this.inst, END_MARKER_GRACE_MS, (seen) => (this.sawEnd = seen));
      // An HTTP trigger returns no logs: its answer does not wait for the log channel; the
      // lines still reach the console and the log as they arrive.
      if (httpMode) {
        void settled.then(() => this.detach());
        return;
      }
      await settled;
    } else if (!httpMode) {
      const answeredAt = performance.now();
      const quiet = this.inst.handle.outputLagMs ?? QUIET_MS;
      const until = answeredAt + Math.max(END_MARKER_GRACE_MS, quiet);
      while (performance.now() < until && performance.now() - Math.max(this.lastLineAt, answeredAt) < quiet) await delay(QUIET_MS / 2);
    }
    if (!this.markers) this.push(this.endLine);
    this.detach();
  }
}

/**
 * Resolves on the first of: `arm`'s signal, the instance's exit, or `ms` elapsed; whichever
 * comes first cancels the others (racing promises would leave a timer and a reaction on the
 * instance's exit behind for every request).
 */
function firstOf(inst: Instance, ms: number, arm: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let off: () => void = () => undefined;
    const wake = () => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(wake, ms);
    arm(wake);
    off = inst.onExit(wake);
  });
}

function errorJson(errorMessage: string, errorType?: string): Buffer {
  return Buffer.from(JSON.stringify(errorType ? { errorMessage, errorType } : { errorMessage }));
}

const EMPTY_BODY = Buffer.alloc(0);

/**
 * Whether an answer streams: server-sent events, or a body of no declared length (chunked), as
 * FC passes a custom runtime's answer through. One with a Content-Length is read whole and held
 * to the 6 MB limit.
 */
function streams(res: http.IncomingMessage): boolean {
  // An agent's error answer is read whole (it may come chunked), so that it is mapped as FC maps it.
  const fcStatus = res.headers['x-fc-status'];
  if (fcStatus !== undefined && fcStatus !== '200') return false;
  return res.headers['content-length'] === undefined || String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
}

function exceedsResponseLimits(res: RawResponse, httpMode: boolean): boolean {
  return res.body.length > LIMITS.payloadBytes || (httpMode && headerBytes(res.headers) > LIMITS.headerBytes);
}

/**
 * Our agents acknowledge receipt before any user code runs: they answer `Expect: 100-continue`
 * with `100 Continue` as soon as the request's head is parsed (Node's, Python's and the JDK's
 * HTTP servers all do so before calling the handler). A custom bootstrap may not, so for it only
 * a refused connection proves that a request was never delivered.
 */
function acks(fn: FunctionSpec): boolean {
  return runtimeFamily(fn.runtime) !== 'custom';
}

/**
 * One request to an instance; rejects with a CallError on timeout, crash or an oversized answer.
 * The error is `undelivered` only when the request provably never reached the function: the
 * connection was refused, or an acknowledging agent failed before its receipt (the channel's
 * `received`, HTTP's `100 Continue`). Anything else may have run the function, and FC runs a
 * sync invocation at most once.
 */
function send(
  inst: Instance,
  req: { kind: RequestKind; method: string; path: string; headers: Record<string, string | string[]>; body: Buffer; stream?: StreamSink; bodyStream?: NodeJS.ReadableStream },
  timeoutMs: number,
  ack: boolean,
): Promise<RawResponse> {
  const channel = inst.channel();
  if (channel && !req.bodyStream) return channel.request(req.kind, req.kind === 'http' ? { h: req.headers, m: req.method, u: req.path } : { h: req.headers }, req.body, timeoutMs);
  return new Promise((resolve, reject) => {
    let settled = false;
    let acknowledged = false;
    let streaming: ReturnType<StreamSink> | undefined;
    const fail = (e: CallError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      r.destroy();
      if (streaming) {
        e.streamed = true;
        streaming.destroy();
      }
      reject(e);
    };
    // setTimeout cannot wait forever (it fires at once past 2^31 ms): no limit, no timer.
    const timer = Number.isFinite(timeoutMs) ? setTimeout(() => fail(new CallError('timeout', 'timeout')), timeoutMs) : undefined;
    // The body goes with the head, without waiting for 100 Continue: the interim answer is the
    // receipt, not a permission, so it costs no round trip.
    // An explicit length: with `Expect` set, Node sends the head before the body and would
    // otherwise fall back to chunked encoding, which not every agent's server reads.
    // A streamed body keeps the length the client declared, or goes chunked.
    const length = req.bodyStream ? req.headers['content-length'] : String(req.body.length);
    const headers: Record<string, string | string[]> = { ...req.headers, ...(ack ? { expect: '100-continue' } : {}) };
    if (length !== undefined) headers['content-length'] = length;
    else delete headers['content-length'];
    const where = inst.handle.socketPath ? { socketPath: inst.handle.socketPath } : { host: inst.handle.host, port: inst.handle.port };
    const r = http.request(
      { ...where, method: req.method, path: req.path, headers, agent },
      (res) => {
        acknowledged = true;
        if (req.stream && streams(res)) {
          // Passed through as written: the head at once, then each chunk, with the client's pace.
          const dest = (streaming = req.stream(res.statusCode ?? 200, res.headers));
          res.pipe(dest);
          dest.on('close', () => {
            if (settled || res.complete) return;
            // The client went away mid-stream: the function sees its connection close.
            settled = true;
            clearTimeout(timer);
            r.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: EMPTY_BODY, streamed: true, clientClosed: true });
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: EMPTY_BODY, streamed: true });
          });
          res.on('error', () => fail(new CallError('crash', 'crash')));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          // Keep one byte past the limit so that the caller can tell "too large".
          if (size > LIMITS.payloadBytes + 1) return fail(new CallError('too large', 'tooLarge'));
          chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', () => fail(new CallError('crash', 'crash')));
      },
    );
    r.on('continue', () => (acknowledged = true));
    r.on('error', (err: NodeJS.ErrnoException) => {
      // A streamed body is gone once read: it cannot go to another instance, delivered or not.
      const undelivered = !req.bodyStream && (err.code === 'ECONNREFUSED' || (ack && !acknowledged));
      fail(new CallError(err.message, undelivered ? 'undelivered' : 'crash'));
    });
    if (req.bodyStream) {
      req.bodyStream.on('error', (err: Error) => fail(new CallError(err.message, 'crash')));
      req.bodyStream.pipe(r);
    } else r.end(req.body);
  });
}

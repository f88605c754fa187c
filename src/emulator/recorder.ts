import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { OssActivity } from '../events/oss-source.js';
import { fnKey, type FunctionSpec } from '../model.js';
import type { InvocationRecord, InvocationSource } from '../runtime/invoker.js';
import { ByteRing } from './byte-ring.js';

// What the workbench shows of the running emulator: the last invocations (a bounded ring, O(1)
// per invocation on the request path), recent log lines, FC's metrics per function as
// Prometheus figures (prom-client) and per-minute series over the last hour for the charts.

export const RING_SIZE = 1000;
const LOG_RING = 2000;
const BODY_KEEP = 64 * 1024;
/** One invocation's log in the history, at most (bytes): the rest is cut, with a line saying so. */
const LOG_KEEP = 4 * 1024 * 1024;
/** One line of the log view, at most (bytes). */
const LINE_KEEP = 16 * 1024;
/**
 * The ring's request headers, bodies and logs together, at most (bytes): a thousand invocations
 * of large answers and long logs would otherwise hold about 1 GB. Past it the oldest invocations
 * keep their figures, spans and cause, not their headers, bodies and log.
 */
export const BYTES_KEPT = 64 * 1024 * 1024;
const TRIMMED = "[fc-local: this invocation's request headers and body, result and log were dropped to keep the workbench's history within 64 MB]";
const LOG_CUT = '[fc-local: the rest of this log was cut at 4 MB for the workbench]';
const MINUTES = 60;
const DURATIONS_PER_MINUTE = 2000;

export interface InvocationEntry {
  seq: number;
  requestId: string;
  function: string;
  source: InvocationSource;
  at: number;
  status: 'succeeded' | 'failed' | 'throttled';
  errorType?: string;
  statusCode?: number;
  durationMs?: number;
  billedDurationMs?: number;
  memoryMB?: number;
  coldStart?: boolean;
  request: { event?: string; method?: string; url?: string; headers?: Record<string, string | string[] | undefined> };
  /** The event or body as given, for replay (cut at 64 KB). */
  payload: Buffer;
  /** The answer (cut at 64 KB), decoded only when the workbench shows it. */
  result?: Buffer;
  logs: string[];
  /** Where its time went: async queue, queue, instance start, initializer (before the handler), preFreeze (after) (ms). */
  spans?: { queueMs: number; startMs: number; initMs: number; asyncQueueMs?: number; preFreezeMs?: number };
  /** What caused it: the invocation that did (parent request id) and what it was. */
  cause?: { parent?: string; what?: string };
  /** An async invocation's attempt. */
  attempt?: number;
  /** Its request and result bodies and its log were dropped to keep the history within its byte cap. */
  trimmed?: boolean;
}

export interface LogEntry {
  seq: number;
  at: number;
  function: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

/** FC's counted metrics in one minute. */
interface Counts {
  minute: number;
  invocations: number;
  billable: number;
  handledErrors: number;
  unhandledErrors: number;
  clientErrors: number;
  serverErrors: number;
  throttles: number;
  coldStarts: number;
  memoryMax: number;
  concurrencyMax: number;
}

export interface MinuteFigures extends Counts {
  durationAvg: number;
  durationP99: number;
  durationMax: number;
}

/** What a minute keeps while it fills. */
interface Minute extends Counts {
  durSum: number;
  durMax: number;
  durations: number[];
}

export type OssWrite = OssActivity & { seq: number; at: number };

/** FC's duration histogram's upper bounds (ms). */
const DURATION_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** A function's counts since the start: plain numbers on the request path, metrics when scraped. */
interface Totals {
  invocations: number;
  billable: number;
  throttles: number;
  coldStarts: number;
  concurrency?: number;
  memory?: number;
  /** Invocations per duration bucket (the last one past the largest bound). */
  buckets: number[];
  durationSum: number;
}

/**
 * fc_duration_milliseconds as a Prometheus histogram, read from the totals when scraped (what
 * prom-client's registry asks of a metric: its name, help, type and values).
 */
function durationHistogram(totals: Map<string, Totals>) {
  const name = 'fc_duration_milliseconds';
  return {
    name,
    help: 'FC Duration of invocations',
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    get: () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [fn, t] of totals) {
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += t.buckets[i]!;
          values.push({ labels: { le, function: fn }, value: cumulative, metricName: `${name}_bucket` });
        });
        const count = cumulative + t.buckets[DURATION_BUCKETS.length]!;
        values.push({ labels: { le: '+Inf', function: fn }, value: count, metricName: `${name}_bucket` });
        values.push({ labels: { function: fn }, value: t.durationSum, metricName: `${name}_sum` });
        values.push({ labels: { function: fn }, value: count, metricName: `${name}_count` });
      }
      return Promise.resolve({ name, help: 'FC Duration of invocations', type: 'histogram', aggregator: 'sum', values });
    },
  };
}

/** The recorder's history as saved (Buffers in base64). */
export interface RecorderHistory {
  invocations: (Omit<InvocationEntry, 'payload' | 'result'> & { payload: string; result?: string })[];
  logs: LogEntry[];
  oss: OssWrite[];
  /** The workbench's per-minute figures per function. */
  minutes?: [string, Minute[]][];
}

export type RecorderEvent = { type: 'invocation'; data: InvocationEntry } | { type: 'log'; data: LogEntry } | { type: 'instances' } | { type: 'oss'; data: OssWrite };

/** The OSS view keeps this many writes and deletes. */
const OSS_KEEP = 500;

const EMPTY = Buffer.alloc(0);
const NO_LINES: string[] = [];

/** Where a slot's bytes are in the ring: from `at`, `length` bytes; at -1 when there are none. */
const NONE = -1;

/**
 * A ring slot, written over in place, its headers, bodies and log in the recorder's ByteRing:
 * recording keeps no object of its own per invocation. (Fresh entries kept for a thousand
 * invocations outlived the young generation, and copying them doubled the gateway's p99 with
 * the workbench on.) Readers get copies (entry()).
 */
class InvocationSlot {
  constructor(private readonly bytes: ByteRing) {}

  seq = 0;
  requestId = '';
  function = '';
  source: InvocationSource = 'api';
  at = 0;
  status: InvocationEntry['status'] = 'succeeded';
  errorType: string | undefined = undefined;
  statusCode: number | undefined = undefined;
  durationMs: number | undefined = undefined;
  billedDurationMs: number | undefined = undefined;
  memoryMB: number | undefined = undefined;
  coldStart: boolean | undefined = undefined;
  method: string | undefined = undefined;
  url: string | undefined = undefined;
  // In the ring: the request's headers as JSON, its body, the answer, the log's lines joined by \n.
  headersAt = NONE;
  headersLength = 0;
  payloadAt = NONE;
  payloadLength = 0;
  resultAt = NONE;
  resultLength = 0;
  logsAt = NONE;
  logsLength = 0;
  // Plain numbers and strings, not objects: recording stays allocation-free.
  queueMs = -1;
  startMs = 0;
  initMs = 0;
  asyncQueueMs = -1;
  preFreezeMs = -1;
  parent: string | undefined = undefined;
  what: string | undefined = undefined;
  attempt: number | undefined = undefined;
  /** Restored from a saved history in which it was trimmed already. */
  savedTrimmed = false;

  /** Whether the ring still holds all it wrote for this invocation (else it is shown trimmed). */
  private whole(): boolean {
    const b = this.bytes;
    return (this.headersAt === NONE || b.holds(this.headersAt)) && (this.payloadAt === NONE || b.holds(this.payloadAt)) && (this.resultAt === NONE || b.holds(this.resultAt)) && (this.logsAt === NONE || b.holds(this.logsAt));
  }

  private read(at: number, length: number): Buffer {
    return at === NONE ? EMPTY : (this.bytes.read(at, length) ?? EMPTY);
  }

  entry(): InvocationEntry {
    const whole = this.whole();
    const headers = whole && this.headersAt !== NONE ? (JSON.parse(this.read(this.headersAt, this.headersLength).toString('utf8')) as Record<string, string | string[]>) : undefined;
    const logs = !whole ? [TRIMMED] : this.logsAt === NONE ? NO_LINES : this.read(this.logsAt, this.logsLength).toString('utf8').split('\n');
    return {
      seq: this.seq,
      requestId: this.requestId,
      function: this.function,
      source: this.source,
      at: this.at,
      status: this.status,
      errorType: this.errorType,
      statusCode: this.statusCode,
      durationMs: this.durationMs,
      billedDurationMs: this.billedDurationMs,
      memoryMB: this.memoryMB,
      coldStart: this.coldStart,
      request: this.method === undefined ? {} : { method: this.method, url: this.url, headers },
      payload: whole ? this.read(this.payloadAt, this.payloadLength) : EMPTY,
      result: this.resultAt === NONE ? undefined : whole ? this.read(this.resultAt, this.resultLength) : EMPTY,
      logs,
      ...(this.queueMs >= 0
        ? { spans: { queueMs: this.queueMs, startMs: this.startMs, initMs: this.initMs, ...(this.asyncQueueMs >= 0 ? { asyncQueueMs: this.asyncQueueMs } : {}), ...(this.preFreezeMs >= 0 ? { preFreezeMs: this.preFreezeMs } : {}) } }
        : {}),
      ...causeOf(this.parent, this.what ?? (this.method === undefined ? undefined : `${this.method} ${this.url ?? '/'}`)),
      ...(this.attempt ? { attempt: this.attempt } : {}),
      ...(whole && !this.savedTrimmed ? {} : { trimmed: true }),
    };
  }
}

/** An entry's cause, built when read (an HTTP request names itself by its method and URL). */
function causeOf(parent: string | undefined, what: string | undefined): { cause?: { parent?: string; what?: string } } {
  return parent || what ? { cause: { ...(parent ? { parent } : {}), ...(what ? { what } : {}) } } : {};
}

/** A line of the log view; its text in the log's ByteRing (a line written over says so). */
class LogSlot {
  constructor(private readonly bytes: ByteRing) {}
  seq = 0;
  at = 0;
  function = '';
  stream: LogEntry['stream'] = 'stdout';
  lineAt = 0;
  lineLength = 0;

  entry(): LogEntry {
    const line = this.bytes.read(this.lineAt, this.lineLength)?.toString('utf8') ?? '[fc-local: this line was dropped to keep the log view within its bytes]';
    return { seq: this.seq, at: this.at, function: this.function, stream: this.stream, line };
  }
}

export class Recorder {
  /** The invocations' headers, bodies and logs (BYTES_KEPT), and the log view's lines. */
  private readonly bytes = new ByteRing(BYTES_KEPT);
  private readonly lineBytes = new ByteRing(8 * 1024 * 1024);
  private readonly ring = Array.from({ length: RING_SIZE }, () => new InvocationSlot(this.bytes));
  private seq = 0;
  private readonly logRing = Array.from({ length: LOG_RING }, () => new LogSlot(this.lineBytes));
  private logSeq = 0;
  private readonly minutes = new Map<string, Minute[]>();
  private readonly listeners = new Set<(e: RecorderEvent) => void>();
  readonly registry = new Registry();
  private readonly m;
  /** Each function's counts since the start (or the last reset), which the metrics are read from. */
  private readonly totals = new Map<string, Totals>();

  constructor(
    private readonly concurrencyOf: (fn: FunctionSpec) => number,
    /** Active FC 3.0 sessions per function key, read when metrics are scraped. */
    sessionsOf: () => Iterable<[string, number]> = () => [],
  ) {
    const labelNames = ['function'] as const;
    const registers = [this.registry];
    const totals = this.totals;
    // The hot counts are plain numbers per function (count()), read into prom-client's metrics when
    // they are scraped: a labelled inc() or observe() per invocation cost more than the rest of
    // the recording together.
    // Gauges too: after reset(), inc() sets.
    const fromTotals = (read: (t: Totals) => number | undefined) => ({
      labelNames,
      registers,
      collect(this: { reset(): void; inc(labels: { function: string }, value: number): void }) {
        this.reset();
        for (const [fn, t] of totals) {
          const v = read(t);
          if (v !== undefined) this.inc({ function: fn }, v);
        }
      },
    });
    const counted = (name: string, help: string, field: 'invocations' | 'billable' | 'throttles' | 'coldStarts') => new Counter({ name, help, ...fromTotals((t) => t[field]) });
    const gauged = (name: string, help: string, field: 'memory' | 'concurrency') => new Gauge({ name, help, ...fromTotals((t) => t[field]) });
    this.m = {
      invocations: counted('fc_invocations_total', 'FC Invocations: requests that ran the function', 'invocations'),
      billable: counted('fc_billable_invocations_total', 'FC BillableInvocations', 'billable'),
      errors: new Counter({ name: 'fc_function_errors_total', help: 'FC FunctionErrors, by type (Handled, Unhandled)', labelNames: ['function', 'type'], registers }),
      clientErrors: new Counter({ name: 'fc_client_errors_total', help: 'FC ClientErrors: requests refused with 4xx', labelNames, registers }),
      serverErrors: new Counter({ name: 'fc_server_errors_total', help: 'FC ServerErrors: requests failed with 5xx by fc-local', labelNames, registers }),
      throttles: counted('fc_throttles_total', 'FC Throttles: requests refused at a concurrency limit', 'throttles'),
      coldStarts: counted('fc_cold_starts_total', 'Invocations that started an instance', 'coldStarts'),
      memory: gauged('fc_max_memory_usage_megabytes', 'FC MemoryUsage: the peak of the last invocation that reported it', 'memory'),
      concurrency: gauged('fc_concurrent_executions', 'FC ConcurrentExecutions at the last invocation', 'concurrency'),
      sessions: new Gauge({
        name: 'fc_active_sessions',
        help: 'FC 3.0 sessions active now (session affinity)',
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [fn, n] of sessionsOf()) this.set({ function: fn }, n);
        },
      }),
    };
    this.registry.registerMetric(durationHistogram(totals) as unknown as Metric);
  }

  subscribe(listener: (e: RecorderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RecorderEvent): void {
    for (const l of this.listeners) l(e);
  }

  private readonly keys = new WeakMap<FunctionSpec, string>();

  /** A function's key, one string per spec (not one per invocation, which the ring would keep). */
  private keyOf(fn: FunctionSpec): string {
    let k = this.keys.get(fn);
    if (k === undefined) this.keys.set(fn, (k = fnKey(fn)));
    return k;
  }

  /** The invoker's observer: O(1) bookkeeping, the log is added when complete. */
  record(r: InvocationRecord): void {
    const out = r.outcome;
    const http = 'http' in r.request ? r.request.http : undefined;
    const seq = ++this.seq;
    const e = this.ring[seq % RING_SIZE]!;
    e.seq = seq;
    e.requestId = r.requestId;
    e.function = this.keyOf(r.fn);
    e.source = r.source;
    e.at = r.at;
    e.status = !out ? 'throttled' : out.errorType ? 'failed' : 'succeeded';
    e.errorType = out?.errorType;
    e.statusCode = out?.statusCode;
    e.durationMs = out?.durationMs;
    e.billedDurationMs = out?.billedDurationMs;
    e.memoryMB = out?.maxMemoryUsedMB;
    e.coldStart = out?.coldStart;
    e.method = http?.method;
    e.url = http?.url;
    if (http?.headers) {
      const h = this.bytes.writeString(JSON.stringify(http.headers));
      e.headersAt = h.at;
      e.headersLength = h.length;
    } else e.headersAt = NONE;
    const payload = http ? http.body : 'event' in r.request ? r.request.event : EMPTY;
    e.payloadLength = Math.min(payload.length, BODY_KEEP);
    e.payloadAt = e.payloadLength ? this.bytes.write(payload.subarray(0, BODY_KEEP)) : NONE;
    e.resultLength = out ? Math.min(out.body.length, BODY_KEEP) : 0;
    e.resultAt = !out ? NONE : this.bytes.write(out.body.subarray(0, BODY_KEEP));
    e.logsAt = NONE;
    e.savedTrimmed = false;
    e.queueMs = out?.queueMs ?? -1;
    e.startMs = out?.startMs ?? 0;
    e.initMs = out?.initMs ?? 0;
    e.asyncQueueMs = out?.asyncQueueMs ?? -1;
    e.preFreezeMs = -1;
    // preFreeze runs after the answer: its span comes in later, into this slot if it still holds it.
    void r.preFreezeMs?.then((ms) => {
      if (e.seq === seq) e.preFreezeMs = ms;
    });
    e.parent = r.cause?.parent;
    e.what = r.cause?.what;
    e.attempt = r.attempt;
    this.count(r.fn, e);
    void r.logs.then((lines) => {
      // The slot may hold a newer invocation by now.
      if (e.seq !== seq) return;
      this.keepLogs(e, lines);
      if (this.listeners.size) this.emit({ type: 'invocation', data: e.entry() });
    });
  }

  /** An invocation's log into the ring, cut at LOG_KEEP. */
  private keepLogs(e: InvocationSlot, lines: string[]): void {
    if (lines.length === 0) return;
    let text = lines.join('\n');
    if (text.length > LOG_KEEP) text = `${text.slice(0, LOG_KEEP)}\n${LOG_CUT}`;
    const l = this.bytes.writeString(text);
    e.logsAt = l.at;
    e.logsLength = l.length;
  }

  private count(fn: FunctionSpec, e: InvocationSlot): void {
    const key = e.function;
    const m = this.minute(key);
    const t = this.totalsOf(key);
    if (e.status === 'throttled') {
      t.throttles++;
      m.throttles++;
      return;
    }
    const conc = this.concurrencyOf(fn) + 1;
    t.invocations++;
    t.billable++;
    t.concurrency = conc;
    m.invocations++;
    m.billable++;
    m.concurrencyMax = Math.max(m.concurrencyMax, conc);
    if (e.errorType) {
      const type = e.errorType === 'HandledInvocationError' ? 'Handled' : 'Unhandled';
      this.m.errors.inc({ function: key, type });
      if (type === 'Handled') m.handledErrors++;
      else m.unhandledErrors++;
    }
    if (e.coldStart) {
      t.coldStarts++;
      m.coldStarts++;
    }
    const d = e.durationMs ?? 0;
    let b = 0;
    while (b < DURATION_BUCKETS.length && d > DURATION_BUCKETS[b]!) b++;
    t.buckets[b]!++;
    t.durationSum += d;
    m.durSum += d;
    m.durMax = Math.max(m.durMax, d);
    if (m.durations.length < DURATIONS_PER_MINUTE) m.durations.push(d);
    if (e.memoryMB !== undefined) {
      t.memory = e.memoryMB;
      m.memoryMax = Math.max(m.memoryMax, e.memoryMB);
    }
  }

  private totalsOf(key: string): Totals {
    let t = this.totals.get(key);
    if (!t) this.totals.set(key, (t = { invocations: 0, billable: 0, throttles: 0, coldStarts: 0, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), durationSum: 0 }));
    return t;
  }

  /** A request the gateway refused or failed (not the function's error). */
  requestError(fn: string, status: number): void {
    if (status === 429) return; // counted as a throttle where it happened
    const m = this.minute(fn);
    if (status >= 500) {
      this.m.serverErrors.inc({ function: fn });
      m.serverErrors++;
    } else if (status >= 400) {
      this.m.clientErrors.inc({ function: fn });
      m.clientErrors++;
    }
  }

  log(fn: FunctionSpec, line: string, stream: 'stdout' | 'stderr'): void {
    const seq = ++this.logSeq;
    const e = this.logRing[seq % LOG_RING]!;
    e.seq = seq;
    e.at = Date.now();
    e.function = this.keyOf(fn);
    e.stream = stream;
    const kept = this.lineBytes.writeString(line.length > LINE_KEEP ? line.slice(0, LINE_KEEP) : line);
    e.lineAt = kept.at;
    e.lineLength = kept.length;
    if (this.listeners.size) this.emit({ type: 'log', data: e.entry() });
  }

  private readonly ossWrites: OssWrite[] = [];
  private ossSeq = 0;

  /** A write or delete of the local OSS (or an injected OSS event) and the invocations it started. */
  ossActivity(a: OssActivity): void {
    const w = { ...a, seq: ++this.ossSeq, at: Date.now() };
    this.ossWrites.push(w);
    if (this.ossWrites.length > OSS_KEEP) this.ossWrites.splice(0, this.ossWrites.length - OSS_KEEP);
    this.emit({ type: 'oss', data: w });
  }

  /** The history the workbench shows, as JSON that survives a restart (state.ts): invocations oldest first, logs, OSS writes. */
  history(): RecorderHistory {
    return {
      invocations: this.invocations()
        .reverse()
        .map(({ payload, result, ...e }) => ({ ...e, payload: payload.toString('base64'), ...(result ? { result: result.toString('base64') } : {}) })),
      logs: this.logs(),
      oss: [...this.ossWrites],
      minutes: [...this.minutes.entries()],
    };
  }

  /** Forgets the history (a state reset), metrics included. */
  clearHistory(): void {
    for (const slot of this.ring) slot.seq = 0;
    this.seq = 0;
    this.logSeq = 0;
    this.ossWrites.length = 0;
    this.minutes.clear();
    this.totals.clear();
    this.registry.resetMetrics();
    this.emit({ type: 'instances' });
  }

  /** Takes back a saved history (at start, or a state load), after what is there. */
  restoreHistory(h: RecorderHistory): void {
    for (const i of h.invocations ?? []) {
      const seq = ++this.seq;
      const e = this.ring[seq % RING_SIZE]!;
      const { request, spans, cause, payload, result, logs, trimmed, ...rest } = i;
      Object.assign(e, { ...rest, seq, method: request?.method, url: request?.url });
      Object.assign(e, { queueMs: spans?.queueMs ?? -1, startMs: spans?.startMs ?? 0, initMs: spans?.initMs ?? 0, asyncQueueMs: spans?.asyncQueueMs ?? -1, preFreezeMs: spans?.preFreezeMs ?? -1, parent: cause?.parent, what: cause?.what });
      // A trimmed one comes back as it was saved: its figures, and the line saying what was dropped.
      e.savedTrimmed = trimmed === true;
      const h = request?.headers ? this.bytes.writeString(JSON.stringify(request.headers)) : undefined;
      e.headersAt = h?.at ?? NONE;
      e.headersLength = h?.length ?? 0;
      const body = Buffer.from(payload ?? '', 'base64');
      e.payloadLength = body.length;
      e.payloadAt = body.length ? this.bytes.write(body) : NONE;
      const answer = result === undefined ? undefined : Buffer.from(result, 'base64');
      e.resultLength = answer?.length ?? 0;
      e.resultAt = answer ? this.bytes.write(answer) : NONE;
      e.logsAt = NONE;
      this.keepLogs(e, logs ?? []);
    }
    for (const l of h.logs ?? []) {
      const seq = ++this.logSeq;
      const slot = this.logRing[seq % LOG_RING]!;
      Object.assign(slot, { seq, at: l.at, function: l.function, stream: l.stream });
      const kept = this.lineBytes.writeString(l.line.slice(0, LINE_KEEP));
      slot.lineAt = kept.at;
      slot.lineLength = kept.length;
    }
    for (const w of h.oss ?? []) this.ossWrites.push({ ...w, seq: ++this.ossSeq });
    // The per-minute figures of the last hour, as far as they reach back from now.
    for (const [fn, list] of h.minutes ?? []) if (!this.minutes.has(fn)) this.minutes.set(fn, list);
    if (this.ossWrites.length > OSS_KEEP) this.ossWrites.splice(0, this.ossWrites.length - OSS_KEEP);
  }

  /** Newest first. */
  ossActivityLog(): OssWrite[] {
    return [...this.ossWrites].reverse();
  }

  instancesChanged(): void {
    this.emit({ type: 'instances' });
  }

  /** Newest first. */
  invocations(): InvocationEntry[] {
    const out: InvocationEntry[] = [];
    for (let s = this.seq; s > 0 && s > this.seq - RING_SIZE; s--) out.push(this.ring[s % RING_SIZE]!.entry());
    return out;
  }

  invocation(requestId: string): InvocationEntry | undefined {
    for (let s = this.seq; s > 0 && s > this.seq - RING_SIZE; s--) {
      const e = this.ring[s % RING_SIZE]!;
      if (e.requestId === requestId) return e.entry();
    }
    return undefined;
  }

  /** Oldest first. */
  logs(): LogEntry[] {
    const out: LogEntry[] = [];
    for (let s = Math.max(1, this.logSeq - LOG_RING + 1); s <= this.logSeq; s++) out.push(this.logRing[s % LOG_RING]!.entry());
    return out;
  }

  /** Per-minute figures of the last hour (oldest first), one function or all together. */
  series(fn?: string): MinuteFigures[] {
    const now = Math.floor(Date.now() / 60_000);
    const lists = fn ? [this.minutes.get(fn) ?? []] : [...this.minutes.values()];
    const out: MinuteFigures[] = [];
    for (let minute = now - MINUTES + 1; minute <= now; minute++) {
      const ms = lists.map((l) => l[minute % MINUTES]).filter((m): m is Minute => m?.minute === minute);
      const sum = (k: keyof Minute) => ms.reduce((a, m) => a + (m[k] as number), 0);
      const durations = ms.flatMap((m) => m.durations).sort((a, b) => a - b);
      const invocations = sum('invocations');
      out.push({
        minute: minute * 60,
        invocations,
        billable: sum('billable'),
        handledErrors: sum('handledErrors'),
        unhandledErrors: sum('unhandledErrors'),
        clientErrors: sum('clientErrors'),
        serverErrors: sum('serverErrors'),
        throttles: sum('throttles'),
        coldStarts: sum('coldStarts'),
        durationAvg: invocations ? sum('durSum') / invocations : 0,
        durationP99: durations.length ? durations[Math.min(durations.length - 1, Math.floor(durations.length * 0.99))]! : 0,
        durationMax: Math.max(0, ...ms.map((m) => m.durMax)),
        memoryMax: Math.max(0, ...ms.map((m) => m.memoryMax)),
        concurrencyMax: Math.max(0, ...ms.map((m) => m.concurrencyMax)),
      });
    }
    return out;
  }

  private minute(fn: string): Minute {
    const minute = Math.floor(Date.now() / 60_000);
    let list = this.minutes.get(fn);
    if (!list) this.minutes.set(fn, (list = new Array(MINUTES)));
    let m = list[minute % MINUTES];
    if (m?.minute !== minute) {
      m = { minute, invocations: 0, billable: 0, handledErrors: 0, unhandledErrors: 0, clientErrors: 0, serverErrors: 0, throttles: 0, coldStarts: 0, durSum: 0, durMax: 0, durations: [], memoryMax: 0, concurrencyMax: 0 };
      list[minute % MINUTES] = m;
    }
    return m;
  }
}

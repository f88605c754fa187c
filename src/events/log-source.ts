import { watch, type FSWatcher } from 'chokidar';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Template } from '../model.js';
import { fnKey } from '../model.js';
import { logEvent } from './builders.js';
import { triggersOfType, type EventDispatcher, type FiredInvocation, type TriggerOf } from './dispatcher.js';

// Log Service triggers over local logstores. Records arrive through the injection API, from
// `<root>/<logstore>.jsonl` files (one JSON record a line, appended), or from functions' own
// output (a service's logConfig logstore). Every triggerInterval seconds each trigger gets the
// guide's event for the records it has not seen (cursors are positions), retried up to
// maxRetryTime times; a batch that still fails is offered again at the next interval.

// A logstore keeps its newest records within both bounds, so that a function flooding its
// output cannot grow the emulator without limit.
const MAX_RECORDS = 100_000;
const MAX_BYTES = 32 * 1024 * 1024;

function approxBytes(record: Record<string, unknown>): number {
  let n = 16;
  for (const v of Object.values(record)) n += typeof v === 'string' ? v.length : 16;
  return n;
}

class LogStore {
  /** Position of records[0]; positions stay valid when old records are dropped. */
  base = 0;
  records: Record<string, unknown>[] = [];
  private sizes: number[] = [];
  private bytes = 0;
  get end(): number {
    return this.base + this.records.length;
  }
  append(records: Record<string, unknown>[]): void {
    for (const r of records) {
      const size = approxBytes(r);
      this.records.push(r);
      this.sizes.push(size);
      this.bytes += size;
    }
    let excess = 0;
    let freed = 0;
    while (excess < this.records.length - 1 && (this.records.length - excess > MAX_RECORDS || this.bytes - freed > MAX_BYTES)) {
      freed += this.sizes[excess]!;
      excess++;
    }
    if (excess > 0) {
      this.bytes -= freed;
      this.records.splice(0, excess);
      this.sizes.splice(0, excess);
      this.base += excess;
    }
  }
  slice(from: number, to: number): Record<string, unknown>[] {
    return this.records.slice(Math.max(0, from - this.base), Math.max(0, to - this.base));
  }
}

export class LogSource {
  private readonly stores = new Map<string, LogStore>();
  private readonly cursors = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private watcher?: FSWatcher;
  private readonly fileOffsets = new Map<string, number>();

  constructor(
    private readonly dispatcher: EventDispatcher,
    readonly root: string,
    /** What events carry as `source.endpoint`: where the local logstores can be read. */
    private readonly endpoint: () => string,
    private readonly current: () => Template,
  ) {}

  store(logstore: string): LogStore {
    let s = this.stores.get(logstore);
    if (!s) {
      s = new LogStore();
      this.stores.set(logstore, s);
    }
    return s;
  }

  append(logstore: string, records: Record<string, unknown>[]): void {
    this.store(logstore).append(records);
  }

  async apply(tpl: Template): Promise<void> {
    await this.close();
    for (const { fn, trigger } of triggersOfType(tpl, 'log')) {
      if (!trigger.config.enable) continue;
      const id = `${fnKey(fn)}/${trigger.name}`;
      const store = this.store(trigger.config.sourceConfig.logstore);
      // A new trigger starts at the end, as a new consumer group does.
      if (!this.cursors.has(id)) this.cursors.set(id, store.end);
      const timer = setInterval(() => void this.deliver(id, fn, trigger), trigger.config.jobConfig.triggerInterval * 1000);
      this.timers.push(timer);
    }
    // The folder exists only for templates with Log triggers (it may sit in a code dir).
    if (!triggersOfType(tpl, 'log').length) return;
    mkdirSync(this.root, { recursive: true });
    const watcher = watch(this.root, { ignoreInitial: false, depth: 0 });
    const onFile = (file: string) => file.endsWith('.jsonl') && this.readFile(file);
    watcher.on('add', onFile);
    watcher.on('change', onFile);
    await new Promise<void>((r) => watcher.once('ready', () => r()));
    this.watcher = watcher;
  }

  /** Delivers new records of one trigger now, if any (the injection API's ?now=true, and the interval). */
  async deliver(id: string, fn: Parameters<EventDispatcher['fire']>[0], trigger: TriggerOf<'log'>): Promise<FiredInvocation | undefined> {
    const store = this.store(trigger.config.sourceConfig.logstore);
    const begin = this.cursors.get(id) ?? store.end;
    const end = store.end;
    if (end <= begin) return undefined;
    const event = logEvent({
      parameter: trigger.config.functionParameter,
      endpoint: this.endpoint(),
      projectName: trigger.config.sourceConfig.project ?? trigger.config.logConfig?.project ?? '',
      logstoreName: trigger.config.sourceConfig.logstore,
      begin,
      end,
      jobName: id,
    });
    let result: FiredInvocation | undefined;
    for (let attempt = 0; attempt <= trigger.config.jobConfig.maxRetryTime; attempt++) {
      result = await this.dispatcher.fire(fn, trigger, event);
      if (result.status === 'succeeded') {
        this.cursors.set(id, end);
        break;
      }
    }
    return result;
  }

  /** Triggers reading `logstore`, for the injection API. */
  consumers(logstore: string) {
    return triggersOfType(this.current(), 'log')
      .filter(({ trigger }) => trigger.config.enable && trigger.config.sourceConfig.logstore === logstore)
      .map(({ fn, trigger }) => ({ id: `${fnKey(fn)}/${trigger.name}`, fn, trigger }));
  }

  private readFile(file: string): void {
    const size = statSync(file).size;
    const from = this.fileOffsets.get(file) ?? 0;
    if (size <= from) {
      this.fileOffsets.set(file, size);
      return;
    }
    const buf = Buffer.alloc(size - from);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, from);
    } finally {
      closeSync(fd);
    }
    // Only whole lines: a half-written last line waits for its newline.
    const text = buf.toString('utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    this.fileOffsets.set(file, from + Buffer.byteLength(complete));
    const records = complete
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          const v = JSON.parse(l) as unknown;
          return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { message: l };
        } catch {
          return { message: l };
        }
      });
    this.append(path.basename(file, '.jsonl'), records);
  }

  async close(): Promise<void> {
    this.timers.forEach((t) => clearInterval(t));
    this.timers = [];
    await this.watcher?.close();
    this.watcher = undefined;
  }
}

import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Template } from '../model.js';
import type { Invoker } from '../runtime/invoker.js';
import { fireCdn, type CdnInjection } from './cdn-source.js';
import { EventDispatcher, type FiredInvocation } from './dispatcher.js';
import { LogSource } from './log-source.js';
import { OssSource, type OssActivity, type OssInjection } from './oss-source.js';
import { TimerSource } from './timer-source.js';
import type { Clock } from '../runtime/clock.js';

export type { FiredInvocation } from './dispatcher.js';
export type { CdnInjection } from './cdn-source.js';
export type { OssActivity, OssInjection } from './oss-source.js';

export interface EventSourcesOptions {
  invoker: Invoker;
  /** The template in force now (the emulator's store). */
  template: () => Template;
  log: (line: string) => void;
  ossDir: string;
  /** Files the local OSS API wrote lately (their events come from the API, not the folder watcher). */
  ossWrittenByApi?: (file: string) => boolean;
  /** Told of every OSS event as it fires, with the invocations it started. */
  onOssActivity?: (a: OssActivity) => void;
  logDir: string;
  /** Base URL of the running emulator (known once it listens), for the Log events' endpoint. */
  baseUrl: () => string;
  /** What timer triggers follow (default: the real clock). */
  clock?: Clock;
}

export type Scheduled = { service: string; function: string; trigger: string; status: 'scheduled' };

/** The non-HTTP triggers under `start`: timer, OSS folders, local logstores, CDN injection. */
export class EventSources {
  private readonly dispatcher: EventDispatcher;
  private readonly timer: TimerSource;
  private readonly oss: OssSource;
  private readonly logs: LogSource;

  constructor(private readonly opts: EventSourcesOptions) {
    this.dispatcher = new EventDispatcher(opts.invoker, opts.template, (l) => opts.log(`event ${l}`));
    this.timer = new TimerSource(this.dispatcher, opts.template, opts.clock);
    this.oss = new OssSource(this.dispatcher, path.resolve(opts.ossDir), opts.template, opts.ossWrittenByApi, opts.onOssActivity);
    this.logs = new LogSource(this.dispatcher, path.resolve(opts.logDir), () => `${opts.baseUrl()}/_fc-local/log`, opts.template);
  }

  get ossRoot(): string {
    return this.oss.root;
  }

  /** The buckets there are: the folders of the OSS root. */
  ossBuckets(): string[] {
    try {
      return readdirSync(this.oss.root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }

  get logRoot(): string {
    return this.logs.root;
  }

  /** Re-reads the triggers of `tpl`: timers, bucket folders, logstore intervals. */
  async apply(tpl: Template): Promise<void> {
    this.timer.apply(tpl);
    await this.oss.apply(tpl);
    await this.logs.apply(tpl);
  }

  fireOss(i: OssInjection, wait: boolean): Promise<FiredInvocation[]> {
    return this.oss.fire(i, wait);
  }

  fireCdn(i: CdnInjection, wait: boolean): Promise<FiredInvocation[]> {
    return fireCdn(this.opts.template(), this.dispatcher, i, wait);
  }

  /** One timer trigger now, enabled or not; undefined when there is no such trigger. */
  fireTimer(service: string, fn: string, trigger: string, wait: boolean): Promise<FiredInvocation[] | undefined> {
    return this.timer.fireNow(service, fn, trigger, wait);
  }

  /** Appends records to a logstore; with `wait`, delivers them to its triggers now. */
  async appendLog(logstore: string, records: Record<string, unknown>[], wait: boolean): Promise<FiredInvocation[] | Scheduled[]> {
    this.logs.append(logstore, records);
    const consumers = this.logs.consumers(logstore);
    // Sync: deliver now and answer with the invocations; async: the triggers' own interval.
    if (!wait) return consumers.map(({ fn, trigger }) => ({ service: fn.service, function: fn.name, trigger: trigger.name, status: 'scheduled' as const }));
    const fired = await Promise.all(consumers.map(({ id, fn, trigger }) => this.logs.deliver(id, fn, trigger)));
    return fired.filter((f): f is FiredInvocation => !!f);
  }

  /** A logstore's records between two cursors (the endpoint Log events point functions at). */
  logRecords(logstore: string, from: number | undefined, to: number | undefined): Record<string, unknown>[] {
    const store = this.logs.store(logstore);
    return store.slice(from ?? store.base, to ?? store.end);
  }

  /** Stops watching the OSS folders (a state load or reset rewrites them; their files fire nothing). */
  pauseOss(): Promise<void> {
    return this.oss.close();
  }

  resumeOss(): Promise<void> {
    return this.oss.apply(this.opts.template());
  }

  async close(): Promise<void> {
    this.timer.close();
    await Promise.all([this.oss.close(), this.logs.close()]);
  }
}

import express from 'express';
import path from 'node:path';
import { z } from 'zod';
import type { Template } from '../model.js';
import { fnKey } from '../model.js';
import type { Invoker } from '../runtime/invoker.js';
import { FcError } from '../gateway/errors.js';
import { cursorPosition, DEFAULT_OSS_EVENT } from './builders.js';
import { fireCdn } from './cdn-source.js';
import { EventDispatcher, triggersOfType, type FiredInvocation } from './dispatcher.js';
import { LogSource } from './log-source.js';
import { bucketOf, OssSource } from './oss-source.js';
import { TimerSource } from './timer-source.js';

export interface EventSourcesOptions {
  invoker: Invoker;
  template: () => Template;
  log: (line: string) => void;
  ossDir: string;
  logDir: string;
  /** Base URL of the running emulator (known once it listens), for the Log events' endpoint. */
  baseUrl: () => string;
}

/** The non-HTTP triggers under `start`: timer, OSS folders, local logstores, CDN injection. */
export class EventSources {
  readonly dispatcher: EventDispatcher;
  readonly timer: TimerSource;
  readonly oss: OssSource;
  readonly logs: LogSource;

  constructor(private readonly opts: EventSourcesOptions) {
    this.dispatcher = new EventDispatcher(opts.invoker, (l) => opts.log(`event ${l}`));
    this.timer = new TimerSource(this.dispatcher);
    this.oss = new OssSource(this.dispatcher, opts.ossDir);
    this.logs = new LogSource(this.dispatcher, opts.logDir, () => `${opts.baseUrl()}/_fc-local/log`);
  }

  async apply(tpl: Template): Promise<void> {
    this.timer.apply(tpl);
    await this.oss.apply(tpl);
    await this.logs.apply(tpl);
  }

  /** One line a source, for the banner. */
  describe(tpl: Template): string[] {
    const rel = (p: string) => path.relative(process.cwd(), p) || '.';
    return [
      ...triggersOfType(tpl, 'timer').map(({ fn, trigger: t }) => `timer  ${fnKey(fn)}/${t.name}: ${t.config.cronExpression}${t.config.enable ? '' : ' (disabled)'}`),
      ...triggersOfType(tpl, 'oss').map(({ fn, trigger: t }) => `oss    ${fnKey(fn)}/${t.name}: files under ${rel(path.join(this.oss.root, bucketOf(t) ?? '?'))}/`),
      ...triggersOfType(tpl, 'log').map(({ fn, trigger: t }) => `log    ${fnKey(fn)}/${t.name}: logstore ${t.config.sourceConfig.logstore} every ${t.config.jobConfig.triggerInterval}s (append to ${rel(path.join(this.logs.root, `${t.config.sourceConfig.logstore}.jsonl`))})`),
      ...triggersOfType(tpl, 'cdn_events').map(({ fn, trigger: t }) => `cdn    ${fnKey(fn)}/${t.name}: ${t.config.eventName} for ${Object.values(t.config.filter).flat().join(', ')}`),
    ];
  }

  router(): express.Router {
    const r = express.Router();
    r.use('/_fc-local', express.json({ limit: '6mb' }));
    r.post('/_fc-local/events/:type', async (req, res) => {
      const wait = req.query.async !== 'true';
      const fired = await this.inject(String(req.params.type), req.body ?? {}, wait);
      res.json(fired);
    });
    r.get('/_fc-local/log/:logstore', (req, res) => {
      const store = this.logs.store(String(req.params.logstore));
      const pos = (v: unknown, dflt: number) => (typeof v === 'string' && v ? cursorPosition(v) : dflt);
      res.json({ records: store.slice(pos(req.query.from, store.base), pos(req.query.to, store.end)) });
    });
    return r;
  }

  async inject(type: string, body: unknown, wait: boolean): Promise<FiredInvocation[] | { service: string; function: string; trigger: string; status: 'scheduled' }[]> {
    const tpl = this.opts.template();
    switch (type) {
      case 'oss':
        return this.oss.fire(parse(OssBody, body), wait);
      case 'cdn':
        return fireCdn(tpl, this.dispatcher, parse(CdnBody, body), wait);
      case 'timer': {
        const b = parse(TimerBody, body);
        const fired = await this.timer.fireNow(b.service, b.function, b.trigger, wait);
        if (!fired) throw new FcError(404, 'TriggerNotFound', `No timer trigger ${b.service}/${b.function}/${b.trigger}`);
        return fired;
      }
      case 'log': {
        const b = parse(LogBody, body);
        this.logs.append(b.logstore, b.records);
        const consumers = this.logs.consumers(b.logstore);
        // Sync: deliver now and answer with the invocations; async: the triggers' own interval.
        if (!wait) return consumers.map(({ fn, trigger }) => ({ service: fn.service, function: fn.name, trigger: trigger.name, status: 'scheduled' as const }));
        const fired = await Promise.all(consumers.map(({ id, fn, trigger }) => this.logs.deliver(id, fn, trigger)));
        return fired.filter((f): f is FiredInvocation => !!f);
      }
      default:
        throw new FcError(404, 'NotFound', `Unknown event type '${type}': oss, log, cdn or timer`);
    }
  }

  async close(): Promise<void> {
    this.timer.close();
    await Promise.all([this.oss.close(), this.logs.close()]);
  }
}

const OssBody = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  eventName: z.string().default(DEFAULT_OSS_EVENT),
  size: z.number().int().min(0).default(0),
});
const CdnBody = z.object({
  eventName: z.enum(['CachedObjectsRefreshed', 'CachedObjectsPushed', 'CachedObjectsBlocked', 'LogFileCreated']),
  domain: z.string().min(1),
  eventVersion: z.string().optional(),
  objectPath: z.array(z.string()).optional(),
  filePath: z.string().optional(),
  fileSize: z.number().optional(),
});
const TimerBody = z.object({ service: z.string(), function: z.string(), trigger: z.string() });
const LogBody = z.object({
  project: z.string().optional(),
  logstore: z.string().min(1),
  records: z.array(z.record(z.string(), z.unknown())).min(1),
});

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (!r.success) {
    throw new FcError(400, 'InvalidArgument', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  return r.data;
}

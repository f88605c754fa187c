import express from 'express';
import * as z from 'zod';
import { cursorPosition, DEFAULT_OSS_EVENT } from '../events/builders.js';
import type { EventSources } from '../events/index.js';
import { FcError } from './errors.js';

// The injection API: POST /_fc-local/events/{oss|log|cdn|timer} fires the matching triggers
// (answering with the invocations, or at once with ?async=true), and GET /_fc-local/log/{store}
// serves a local logstore's records to the functions that Log events point at it.

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

/** Fires the triggers an injected event reaches (the body is checked as the route checks it). */
export async function inject(events: EventSources, type: string, body: unknown, wait: boolean): Promise<unknown> {
  switch (type) {
    case 'oss':
      return events.fireOss(parse(OssBody, body), wait);
    case 'cdn':
      return events.fireCdn(parse(CdnBody, body), wait);
    case 'timer': {
      const b = parse(TimerBody, body);
      const fired = await events.fireTimer(b.service, b.function, b.trigger, wait);
      if (!fired) throw new FcError(404, 'TriggerNotFound', `No timer trigger ${b.service}/${b.function}/${b.trigger}`);
      return fired;
    }
    case 'log': {
      const b = parse(LogBody, body);
      return events.appendLog(b.logstore, b.records, wait);
    }
    default:
      throw new FcError(404, 'NotFound', `Unknown event type '${type}': oss, log, cdn or timer`);
  }
}

export function eventRoutes(events: EventSources): express.Router {
  const r = express.Router();
  r.use('/_fc-local', express.json({ limit: '6mb' }));
  r.post('/_fc-local/events/:type', async (req, res) => {
    res.json(await inject(events, String(req.params.type), req.body ?? {}, req.query.async !== 'true'));
  });
  r.get('/_fc-local/log/:logstore', (req, res) => {
    const pos = (v: unknown) => (typeof v === 'string' && v ? cursorPosition(v) : undefined);
    res.json({ records: events.logRecords(String(req.params.logstore), pos(req.query.from), pos(req.query.to)) });
  });
  return r;
}

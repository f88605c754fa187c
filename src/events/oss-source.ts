import { watch, type FSWatcher } from 'chokidar';
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fnKey, type Template } from '../model.js';
import { DEFAULT_OSS_EVENT, ossEvent } from './builders.js';
import { triggersOfType, type EventDispatcher, type FiredInvocation, type TriggerOf } from './dispatcher.js';

// OSS triggers: each bucket named by a trigger is a local folder; creating or overwriting a file
// by hand fires ObjectCreated:PutObject, deleting one ObjectRemoved:DeleteObject, for the triggers
// whose events and key filters match. Writes through the local OSS API fire their own events (with
// OSS's name for the operation) and are not seen twice. The injection API fires any event name.

export function bucketOf(trigger: TriggerOf<'oss'>): string | undefined {
  return trigger.config.bucketName ?? trigger.sourceArn?.split(':').pop() ?? undefined;
}

/** `oss:ObjectCreated:*` style patterns against an event name such as ObjectCreated:PutObject. */
export function ossTriggerMatches(trigger: TriggerOf<'oss'>, bucket: string, eventName: string, key: string): boolean {
  if (bucketOf(trigger) !== bucket) return false;
  const wanted = trigger.config.events.some((pattern) => {
    const p = pattern.replace(/^oss:/, '');
    return p.endsWith('*') ? eventName.startsWith(p.slice(0, -1)) : p === eventName;
  });
  if (!wanted) return false;
  const { prefix, suffix } = trigger.config.filter?.key ?? {};
  return (!prefix || key.startsWith(prefix)) && (!suffix || key.endsWith(suffix));
}

export interface OssInjection {
  bucket: string;
  key: string;
  eventName?: string;
  size?: number;
  eTag?: string;
  /** Who wrote: the local OSS API, a file changed in a bucket folder, or an injected event (the default). */
  origin?: OssOrigin;
  /** The invocation that wrote it, when a function did. */
  parent?: string;
}

export type OssOrigin = 'api' | 'folder' | 'injected';

/** One write or delete and the invocations it started (their request ids are known at once). */
export interface OssActivity {
  bucket: string;
  key: string;
  eventName: string;
  size: number;
  origin: OssOrigin;
  invocations: { function: string; trigger: string; requestId: string }[];
  /** The invocation that wrote it, when a function did. */
  parent?: string;
}

export class OssSource {
  private watcher?: FSWatcher;

  constructor(
    private readonly dispatcher: EventDispatcher,
    /** Folder holding one folder per bucket. */
    readonly root: string,
    private readonly current: () => Template,
    /** Files the local OSS API wrote or removed: it fires their events itself, with OSS's names. */
    private readonly writtenByApi: (file: string) => boolean = () => false,
    /** Told of every event as it fires (the workbench's OSS view). */
    private readonly observe?: (a: OssActivity) => void,
  ) {}

  /** Watches the bucket folders of `tpl`'s OSS triggers (creating them: a trigger needs its bucket). */
  async apply(tpl: Template): Promise<void> {
    await this.close();
    const buckets = [...new Set(triggersOfType(tpl, 'oss').map(({ trigger }) => bucketOf(trigger)).filter((b): b is string => !!b))];
    if (!buckets.length) return;
    const dirs = buckets.map((b) => path.join(this.root, b));
    dirs.forEach((d) => mkdirSync(d, { recursive: true }));
    const watcher = watch(dirs, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 } });
    const onFile = (eventName: string) => (file: string) => {
      if (this.writtenByApi(file)) return;
      const rel = path.relative(this.root, file).split(path.sep);
      const [bucket, ...key] = rel;
      const size = eventName.startsWith('ObjectCreated') ? (statSync(file, { throwIfNoEntry: false })?.size ?? 0) : 0;
      void this.fire({ bucket: bucket!, key: key.join('/'), eventName, size, origin: 'folder' }, true);
    };
    watcher.on('add', onFile(DEFAULT_OSS_EVENT));
    watcher.on('change', onFile(DEFAULT_OSS_EVENT));
    watcher.on('unlink', onFile('ObjectRemoved:DeleteObject'));
    await new Promise<void>((r) => watcher.once('ready', () => r()));
    this.watcher = watcher;
  }

  fire(i: OssInjection, wait: boolean): Promise<FiredInvocation[]> {
    const tpl = this.current();
    const eventName = (i.eventName ?? DEFAULT_OSS_EVENT).replace(/^oss:/, '');
    const hits = triggersOfType(tpl, 'oss')
      .filter(({ trigger }) => ossTriggerMatches(trigger, i.bucket, eventName, i.key))
      .map((h) => ({ ...h, requestId: randomUUID() }));
    this.observe?.({
      bucket: i.bucket, key: i.key, eventName, size: i.size ?? 0, origin: i.origin ?? 'injected',
      invocations: hits.map((h) => ({ function: fnKey(h.fn), trigger: h.trigger.name, requestId: h.requestId })),
      ...(i.parent ? { parent: i.parent } : {}),
    });
    return Promise.all(
      hits.map(({ fn, trigger, requestId }) =>
        this.dispatcher.fire(fn, trigger, ossEvent({ eventName, bucket: i.bucket, key: i.key, size: i.size ?? 0, ...(i.eTag ? { eTag: i.eTag } : {}), region: tpl.region, accountId: tpl.accountId }), wait, requestId, {
          what: `oss ${eventName} ${i.bucket}/${i.key}`,
          ...(i.parent ? { parent: i.parent } : {}),
        }),
      ),
    );
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = undefined;
  }
}

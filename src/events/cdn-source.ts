import type { Template } from '../model.js';
import { cdnEvent } from './builders.js';
import { triggersOfType, type EventDispatcher, type FiredInvocation, type TriggerOf } from './dispatcher.js';

// CDN events are injected by name; they reach the triggers whose eventName and eventVersion
// match and whose filter.domain lists the event's domain.

export function cdnTriggerMatches(trigger: TriggerOf<'cdn_events'>, eventName: string, eventVersion: string, domain: string): boolean {
  const domains = trigger.config.filter.domain ?? [];
  return trigger.config.eventName === eventName && trigger.config.eventVersion === eventVersion && domains.includes(domain);
}

export interface CdnInjection {
  eventName: string;
  domain: string;
  eventVersion?: string;
  objectPath?: string[];
  filePath?: string;
  fileSize?: number;
}

export function fireCdn(tpl: Template, dispatcher: EventDispatcher, i: CdnInjection, wait: boolean): Promise<FiredInvocation[]> {
  const version = i.eventVersion ?? '1.0.0';
  const hits = triggersOfType(tpl, 'cdn_events').filter(({ trigger }) => cdnTriggerMatches(trigger, i.eventName, version, i.domain));
  return Promise.all(
    hits.map(({ fn, trigger }) =>
      dispatcher.fire(fn, trigger, cdnEvent({ ...i, eventVersion: version, region: tpl.region, accountId: tpl.accountId }), wait),
    ),
  );
}

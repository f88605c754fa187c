import { randomUUID } from 'node:crypto';
import type { FunctionSpec, Template, Trigger } from '../model.js';
import { fnKey } from '../model.js';
import { allFunctions, findFunction } from '../model.js';
import type { InvocationCause, InvocationSource, Invoker } from '../runtime/invoker.js';
import { ThrottledError } from '../runtime/pool.js';

/** The workbench's name for what fired an invocation. */
const SOURCES: Partial<Record<string, InvocationSource>> = { timer: 'timer', oss: 'oss', log: 'log', cdn_events: 'cdn' };

// Every event source fires through here: the same invoke path as the API, so an event
// invocation logs and fails like any other; a failure is logged with its request id and never
// stops the source.

export interface FiredInvocation {
  service: string;
  function: string;
  trigger: string;
  requestId: string;
  /** `removed`: the trigger left the template before it fired (a reload), so nothing ran. */
  status: 'succeeded' | 'failed' | 'throttled' | 'accepted' | 'removed';
  errorType?: string;
}

export type TriggerOf<T extends Trigger['type']> = Extract<Trigger, { type: T }>;

/** Every (function, trigger) of a type in the template. */
export function triggersOfType<T extends Trigger['type']>(tpl: Template, type: T): { fn: FunctionSpec; trigger: TriggerOf<T> }[] {
  return allFunctions(tpl).flatMap((fn) =>
    fn.triggers.filter((t): t is TriggerOf<T> => t.type === type).map((trigger) => ({ fn, trigger })),
  );
}

/** The function and trigger as `tpl` has them, if it still has that trigger. */
function liveTrigger(tpl: Template, fn: FunctionSpec, trigger: Trigger): { fn: FunctionSpec; trigger: Trigger } | undefined {
  const liveFn = findFunction(tpl, fn.service, fn.name);
  const liveTrg = liveFn?.triggers.find((t) => t.name === trigger.name && t.type === trigger.type);
  return liveFn && liveTrg ? { fn: liveFn, trigger: liveTrg } : undefined;
}

export class EventDispatcher {
  constructor(
    private readonly invoker: Invoker,
    /** The template in force now: a trigger fires only while it is in it. */
    private readonly current: () => Template,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Invokes and resolves when done; with `wait: false`, resolves at once with status accepted.
   * Sources may hold on to a trigger a little longer than the template does (a timer's tick, a
   * file event queued during a reload): the check here, against the live template, is what makes
   * a removed trigger stop in the same step as its route.
   */
  async fire(fn: FunctionSpec, trigger: Trigger, event: unknown, wait = true, requestId: string = randomUUID(), cause?: InvocationCause): Promise<FiredInvocation> {
    const base = { service: fn.service, function: fn.name, trigger: trigger.name, requestId };
    const live = liveTrigger(this.current(), fn, trigger);
    if (!live) return { ...base, status: 'removed' };
    const run = this.run(live.fn, live.trigger, event, requestId, base, cause ?? { what: `${trigger.type} trigger ${trigger.name}` });
    if (!wait) {
      void run;
      return { ...base, status: 'accepted' };
    }
    return run;
  }

  private async run(fn: FunctionSpec, trigger: Trigger, event: unknown, requestId: string, base: Omit<FiredInvocation, 'status'>, cause: InvocationCause): Promise<FiredInvocation> {
    const name = `${trigger.type} trigger ${fnKey(fn)}/${trigger.name}`;
    try {
      const out = await this.invoker.invokeEvent(fn, Buffer.from(JSON.stringify(event)), requestId, SOURCES[trigger.type] ?? 'api', { cause });
      if (out.errorType) {
        this.log(`${name}: request ${requestId} failed: ${out.errorType} ${out.body.toString().slice(0, 500)}`);
        return { ...base, status: 'failed', errorType: out.errorType };
      }
      return { ...base, status: 'succeeded' };
    } catch (err) {
      this.log(`${name}: request ${requestId} not run: ${(err as Error).message}`);
      return { ...base, status: err instanceof ThrottledError ? 'throttled' : 'failed' };
    }
  }
}

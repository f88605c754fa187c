import { randomUUID } from 'node:crypto';
import type { FunctionSpec, Template, Trigger } from '../model.js';
import { fnKey } from '../model.js';
import { allFunctions } from '../model.js';
import type { Invoker } from '../runtime/invoker.js';
import { ThrottledError } from '../runtime/pool.js';

// Every event source fires through here: the same invoke path as the API, so an event
// invocation logs and fails like any other; a failure is logged with its request id and never
// stops the source.

export interface FiredInvocation {
  service: string;
  function: string;
  trigger: string;
  requestId: string;
  status: 'succeeded' | 'failed' | 'throttled' | 'accepted';
  errorType?: string;
}

export type TriggerOf<T extends Trigger['type']> = Extract<Trigger, { type: T }>;

/** Every (function, trigger) of a type in the template. */
export function triggersOfType<T extends Trigger['type']>(tpl: Template, type: T): { fn: FunctionSpec; trigger: TriggerOf<T> }[] {
  return allFunctions(tpl).flatMap((fn) =>
    fn.triggers.filter((t): t is TriggerOf<T> => t.type === type).map((trigger) => ({ fn, trigger })),
  );
}

export class EventDispatcher {
  constructor(
    private readonly invoker: Invoker,
    private readonly log: (line: string) => void,
  ) {}

  /** Invokes and resolves when done; with `wait: false`, resolves at once with status accepted. */
  async fire(fn: FunctionSpec, trigger: Trigger, event: unknown, wait = true): Promise<FiredInvocation> {
    const requestId = randomUUID();
    const base = { service: fn.service, function: fn.name, trigger: trigger.name, requestId };
    const run = this.run(fn, trigger, event, requestId, base);
    if (!wait) {
      void run;
      return { ...base, status: 'accepted' };
    }
    return run;
  }

  private async run(fn: FunctionSpec, trigger: Trigger, event: unknown, requestId: string, base: Omit<FiredInvocation, 'status'>): Promise<FiredInvocation> {
    const name = `${trigger.type} trigger ${fnKey(fn)}/${trigger.name}`;
    try {
      const out = await this.invoker.invokeEvent(fn, Buffer.from(JSON.stringify(event)), requestId);
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

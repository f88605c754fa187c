import type { Template } from '../model.js';
import type { Credentials } from '../model.js';
import type { Backend, InstanceService, LogStream } from './backend.js';
import { Invoker } from './invoker.js';
import { PoolSet, type PoolEvent } from './pool.js';
import type { FunctionSpec } from '../model.js';
import type { DebugTarget } from './debug.js';
import type { Clock } from './clock.js';

export interface ExecutorOptions {
  backend: Backend;
  credentials: Credentials;
  /** The template in force; a getter because hot reload swaps it. */
  template: () => Template;
  concurrencyLimit?: number;
  idleTimeoutMs?: number;
  onLine?: (fn: FunctionSpec, line: string, stream: LogStream) => void;
  onEvent?: (event: PoolEvent) => void;
  debug?: DebugTarget;
  /** fc-local's variables for new instances (e.g. the local OSS's endpoint). */
  instanceEnv?: () => Record<string, string>;
  /** fc-local's services containers reach on a socket of their own. */
  instanceServices?: () => InstanceService[];
  /** See PoolOptions.prepare. */
  prepare?: (fn: FunctionSpec) => Promise<string | undefined>;
  /** See PoolOptions.standby. */
  standby?: number;
  /** See PoolOptions.clock. */
  clock?: Clock;
}

export interface Executor {
  pools: PoolSet;
  invoker: Invoker;
  /** Stops every instance; with `parkUntil` (epoch ms, --keep-warm) idle ones stay for the next run until then. */
  close(parkUntil?: number): Promise<void>;
}

/** Pools over a backend and the invoker that uses them: the execution half of an emulator. */
export function createExecutor(opts: ExecutorOptions): Executor {
  const tpl = opts.template();
  const pools = new PoolSet(opts.backend, {
    region: tpl.region,
    accountId: tpl.accountId,
    concurrencyLimit: opts.concurrencyLimit ?? 100,
    idleTimeoutMs: opts.idleTimeoutMs ?? 10 * 60_000,
    onLine: opts.onLine,
    onEvent: opts.onEvent,
    debug: opts.debug,
    instanceEnv: opts.instanceEnv,
    instanceServices: opts.instanceServices,
    prepare: opts.prepare,
    standby: opts.standby,
    clock: opts.clock,
  });
  const invoker = new Invoker(pools, {
    region: tpl.region,
    accountId: tpl.accountId,
    credentials: opts.credentials,
    logConfigOf: (service) => opts.template().services.find((s) => s.name === service)?.logConfig,
  });
  // preStop before any instance stops: the pools ask the invoker, which speaks to instances.
  pools.setBeforeStop((inst, fn) => invoker.runHook(inst, fn, 'preStop'));
  return { pools, invoker, close: (parkUntil) => pools.close(parkUntil) };
}

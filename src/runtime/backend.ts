import type { RequestListener } from 'node:http';
import type { FunctionSpec } from '../model.js';
import type { StartLimits } from './start-limiter.js';

// What the pool needs from a backend: start an instance of a function that serves FC's
// custom-runtime protocol on 127.0.0.1:port, and stop it. Backends know nothing of routing.

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** Why the instance ended when the backend knows better than an exit code (OOM, removed). */
  reason?: string;
}

export type LogStream = 'stdout' | 'stderr';
export type LineListener = (line: string, stream: LogStream) => void;

export interface InstanceHandle {
  readonly id: string;
  /** Always 127.0.0.1: instances are reached on loopback only. */
  readonly host: string;
  readonly port: number;
  /** A Unix socket on this machine that reaches the same HTTP server, when there is one (cheaper than the port). */
  readonly socketPath?: string;
  /** A Unix socket where our agent speaks fc-local's framed channel (channel.ts), when there is one: cheaper still. */
  readonly channelPath?: string;
  /** Resolves once when the instance has ended, whoever ended it. */
  readonly exited: Promise<ExitInfo>;
  /** Every line the instance prints. */
  onLine(listener: LineListener): () => void;
  /**
   * How long the instance's output may trail its HTTP answer (a container's comes through the
   * engine): the quiet wait for a custom runtime's last lines, which have no end marker.
   */
  readonly outputLagMs?: number;
  /** Hands listeners a line as if the instance had printed it (markers fc-local writes for it). */
  echo?(line: string): void;
  /**
   * Peak memory use in MB, when the backend can tell. `reportedKB` is the agent's own peak
   * (getrusage), which a backend may take when it measures the same process anyway.
   */
  maxMemoryMB(reportedKB?: number): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** What an instance is started for: the function and the account facts its env carries. */
export interface InstanceRequest {
  fn: FunctionSpec;
  region: string;
  accountId: string;
  /** Start it under a debugger that waits for a client on this port (no start-up time limit). */
  debug?: { port: number; args: string[]; debuggerPath?: string };
  /** Every line the instance prints while it starts (before the handle is returned). */
  onBootLine?: LineListener;
  /** fc-local's own variables for the instance (where its local services are). */
  env?: Record<string, string>;
  /**
   * fc-local's local services (the OSS) for instances that cannot reach this machine's loopback
   * (containers): served on a Unix socket in the instance's socket folder, named by `envVar`.
   */
  services?: InstanceService[];
  /** fc-local's compiled TypeScript for the code dir, on this machine: the Node agent loads `.ts` modules from it. */
  compiledDir?: string;
}

export interface InstanceService {
  name: string;
  /** The variable that tells the instance the socket's path. */
  envVar: string;
  listener: RequestListener;
}

export interface Backend {
  readonly name: 'process' | 'docker';
  start(req: InstanceRequest): Promise<InstanceHandle>;
  /**
   * How many instances of `fn` may run at once here, when the backend limits it (a custom
   * runtime that listens on a fixed port shares the host's ports on the process backend).
   */
  maxInstances?(fn: FunctionSpec): number | undefined;
  /** How many instances may start at once at first and at most (start-limiter.ts); unbounded when absent. */
  readonly startLimits?: StartLimits;
  /**
   * Lets the backend ask the pools to stop one of their instances (when it is idle, or once its
   * request is done): two functions whose servers share a fixed port take turns on the host.
   */
  setReclaimer?(reclaim: (handle: InstanceHandle) => Promise<void>): void;
  /**
   * Hot reload in place: starts the runtime again inside the same instance (a container keeps
   * its limits, network and port), when the change from `before` to `after` allows it. Resolves
   * true once the restarted runtime answers; false when the instance must be replaced instead.
   */
  restartInPlace?(handle: InstanceHandle, before: FunctionSpec, after: FunctionSpec): Promise<boolean>;
  /** Whether restartInPlace can restart this instance for this change (false: it must be replaced). */
  canRestartInPlace?(handle: InstanceHandle, before: FunctionSpec, after: FunctionSpec): boolean;
  /**
   * Leaves an idle instance running past this run, until `until` (epoch ms), for the next run to
   * adopt (--keep-warm); false when this one cannot be kept (it is then stopped as usual).
   */
  park?(handle: InstanceHandle, initialized: boolean, until: number): Promise<boolean>;
  /** The instances an earlier run parked that are what a start for `req` would make now, claimed for this run. */
  parkedFor?(req: InstanceRequest): Promise<ParkedInstance[]>;
  /** Told before the pools stop their instances at shutdown: close() comes next and cleans up for all. */
  closing?(): void;
  /** What the banner should say of these functions on this backend (e.g. which image runs them). */
  notes?(fns: FunctionSpec[]): Promise<string[]>;
  /** Stops everything this backend started. */
  close(): Promise<void>;
}

/** A running instance of an earlier run, ready to be taken over. */
export interface ParkedInstance {
  /** Its initializer has run: its next request is warm. */
  initialized: boolean;
  /** Takes it over, serving `services` to it as a start would; rejects when it no longer answers (it is then removed). */
  take(services?: InstanceService[]): Promise<InstanceHandle>;
}

/** An instance could not be started (missing interpreter, never listened, crashed at boot). */
export class InstanceStartError extends Error {
  constructor(message: string, readonly output = '') {
    super(message);
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { fnKey, runtimeFamily, type FunctionSpec } from '../../model.js';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AGENTS_DIR, agentLaunch, type AgentPaths, CHANNEL_SOCKET, CHANNEL_VAR, codeLocation, READY_FD_VAR, layerDirs, layerPaths, mountVar, NODE_BUILTINS_DIR } from '../agents.js';
import { SocketDirs } from '../host/socket-dirs.js';
import { InstanceStartError, type Backend, type ExitInfo, type InstanceHandle, type InstanceRequest } from '../backend.js';
import { answers, awaitReady, startLimitMs, freePort, LineHub, slowStartNote } from '../instance-io.js';
import { runIsAlive, thisRun } from '../host/run-identity.js';
import { guard } from '../host/guardian.js';
import { INSTANCE_VAR, killProcessesWith, listenerBelongsTo, processesWith, RUN_VAR } from '../host/proc-scan.js';
import { findDebugPython, findPython27 } from './interpreters.js';
import { resolveCommand, runningAsRoot, unreachable, UNPRIVILEGED } from './privileges.js';

// The embedded backend: each instance is a child process on a free 127.0.0.1 port, its cwd the
// code dir, its env FC's plus the function's (not the host's, so code does not come to rely on it).

export interface ProcessBackendOptions {
  /** How long an instance may take to listen on its port. */
  startTimeoutMs?: number;
  /** Notes for the person running fc-local (e.g. why an instance runs as root). */
  log?: (line: string) => void;
  /**
   * Sweep the processes of dead runs when closing rather than at once (one-shot `invoke`: one
   * scan of /proc at the end instead of two, off the way to the answer).
   */
  sweepAtClose?: boolean;
}

/** Every live instance of every backend in this process, killed if fc-local exits abruptly. */
const allInstances = new Set<ProcessInstance>();
process.on('exit', () => allInstances.forEach((i) => i.kill()));

export class ProcessBackend implements Backend {
  readonly name = 'process' as const;
  /** Processes started at once: cheap, but twenty runtimes booting together still share the cores. */
  readonly startLimits = { initial: 4, max: 16 };
  private readonly live = new Set<ProcessInstance>();
  /** Per command and code dir: run as the unprivileged user, or why not. */
  private readonly users = new Map<string, { uid: number; gid: number } | undefined>();
  /** Custom runtimes, per function: whether the server listens on its fixed caPort (true) or on FC_SERVER_PORT. */
  private readonly fixedPort = new Map<string, boolean>();
  /** Host ports held by our fixed-port instances, and by which. */
  private readonly portOwners = new Map<number, ProcessInstance>();
  private reclaim?: (handle: InstanceHandle) => Promise<void>;
  private shuttingDown = false;
  private guarded = false;
  /** Instances' channel sockets; the root lets each instance's user reach its own folder only. */
  private readonly sockets = new SocketDirs(0o711);

  setReclaimer(reclaim: (handle: InstanceHandle) => Promise<void>): void {
    this.reclaim = reclaim;
  }

  constructor(private readonly opts: ProcessBackendOptions = {}) {
    // What fc-local starts must end with it: the guardian (told of this run with the first
    // instance) sweeps this run's instances when it dies, and instances of dead runs (a kill -9
    // before guardians, a guardian killed too) go now.
    if (!opts.sweepAtClose) setImmediate(() => killProcessesWith(RUN_VAR, (run) => !runIsAlive(run)));
  }

  /**
   * Instances share the host's ports: a custom runtime that listens on its fixed caPort runs one
   * instance at a time (requests queue); until its first instance shows which port it takes,
   * instances start one by one.
   */
  maxInstances(fn: FunctionSpec): number | undefined {
    if (runtimeFamily(fn.runtime) !== 'custom') return undefined;
    return this.fixedPort.get(fnKey(fn)) === false ? undefined : 1;
  }

  async start(req: InstanceRequest): Promise<InstanceHandle> {
    const port = await freePort();
    const custom = runtimeFamily(req.fn.runtime) === 'custom';
    // Another function's fixed-port instance of ours holds the port: it gives way (they take turns).
    const owner = custom ? this.portOwners.get(req.fn.caPort) : undefined;
    if (owner && this.reclaim) await this.reclaim(owner);
    // Someone already answering on caPort is not this instance.
    const caPortTaken = custom && (await answers(req.fn.caPort, '127.0.0.1'));
    const { dir: codeDir, file: codeFile } = codeLocation(req.fn.codeUri);
    const launch = agentLaunch(
      req,
      {
        agentsDir: AGENTS_DIR,
        codeDir,
        codeFile,
        nodeBuiltinsDir: NODE_BUILTINS_DIR,
        node: process.execPath,
        heapCap: true,
        ...(req.fn.runtime === 'python2.7' ? { python27: findPython27() } : {}),
        ...this.debugInterpreter(req),
        debuggerDir: req.debug?.debuggerPath,
        compiledDir: req.compiledDir,
      },
      port,
      '127.0.0.1',
    );
    const id = randomUUID();
    const pathVar = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
    const layers = layerDirs(req.fn);
    // A NAS or OSS mount cannot appear at its path here: its folder is named by a variable.
    const mounts: Record<string, string> = {};
    for (const m of req.fn.mounts) {
      if (!existsSync(m.hostDir)) {
        mkdirSync(m.hostDir, { recursive: true });
        chmodSync(m.hostDir, 0o777); // instances may run as another user
      }
      mounts[mountVar(m.dir)] = m.hostDir;
    }
    const user = this.userFor(req, launch.command, launch.args, codeDir, pathVar);
    const channelDir = launch.speaksChannel ? this.sockets.create(user ?? 'same-user', CHANNEL_SOCKET, true) : undefined;
    // node:child_process, not execa: one-shot `invoke` starts 55 ms sooner without loading it.
    const child = spawn(launch.command, launch.args, {
      cwd: codeDir,
      env: {
        PATH: pathVar,
        LANG: process.env.LANG ?? 'C.UTF-8',
        TZ: 'UTC',
        HOME: '/tmp',
        // Web frameworks read PORT: a server that honours either gets a port of its own.
        ...(custom && !('PORT' in req.fn.environmentVariables) ? { PORT: String(port) } : {}),
        ...layerPaths(layers),
        ...launch.env,
        ...mounts,
        ...(channelDir ? { [CHANNEL_VAR]: path.join(channelDir, CHANNEL_SOCKET) } : {}),
        ...(launch.speaksChannel ? { [READY_FD_VAR]: '3' } : {}),
        [RUN_VAR]: thisRun(),
        [INSTANCE_VAR]: id,
      },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      // Our agents say on fd 3 when they listen: no waiting for the next readiness probe.
      stdio: launch.speaksChannel ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that stopping it also stops what it started (a bootstrap's
      // server, a function's child processes): otherwise they keep its output pipes open.
      detached: true,
    });
    const instance = new ProcessInstance(id, port, child, launch.command, () => !this.shuttingDown);
    this.live.add(instance);
    allInstances.add(instance);
    // The guardian is started after the first instance, not before: its spawn is off the way
    // to a one-shot invocation's answer. An instance of a run killed in between is swept by
    // the next run (it carries the run's marker).
    if (!this.guarded) {
      this.guarded = true;
      guard(`run ${thisRun()}`);
    }
    this.sockets.tellGuardian();
    if (child.pid) guard(`pgid ${child.pid}`);
    void instance.exited.then(() => {
      this.live.delete(instance);
      allInstances.delete(instance);
      if (child.pid) guard(`ungroup ${child.pid}`);
      if (channelDir) this.sockets.remove(channelDir);
    });

    const what = launch.printsMarkers ? `the ${req.fn.runtime} runtime` : `bootstrap ${launch.command}`;
    // Under a debugger the instance waits for the developer to attach, however long.
    const timeoutMs = req.debug ? Infinity : startLimitMs(req.fn, 15_000, this.opts.startTimeoutMs);
    let answered: number;
    try {
      const readyPipe = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
      answered = await awaitReady({
        instance,
        ready: readyPipe ? saidReady(readyPipe) : undefined,
        orPort: custom && !caPortTaken ? req.fn.caPort : undefined,
        ownsOrPort: () => listenerBelongsTo(req.fn.caPort, [child.pid ?? 0, ...processesWith(INSTANCE_VAR, (v) => v === id)]),
        timeoutMs,
        what: `${what} for ${fnKey(req.fn)}`,
        onLine: req.onBootLine,
        onSlow: slowStartNote(`${fnKey(req.fn)}: ${what}`, timeoutMs, this.opts.log),
      });
    } catch (err) {
      // An exit (it could not bind), not a silence, is what a taken port causes.
      if (!caPortTaken || !(err instanceof InstanceStartError) || err.message.includes('did not answer HTTP')) throw err;
      throw new InstanceStartError(
        `${err.message}. Port ${req.fn.caPort} (the caPort of ${fnKey(req.fn)}) is in use by another program: stop it, or have the bootstrap listen on FC_SERVER_PORT`,
        err.output,
      );
    }
    if (custom) this.learnPort(req, answered !== port);
    instance.port = answered;
    // The agent listens on its channel before its port: no socket now means it could not.
    if (channelDir && existsSync(path.join(channelDir, CHANNEL_SOCKET))) instance.channelPath = path.join(channelDir, CHANNEL_SOCKET);
    if (answered !== port) {
      this.portOwners.set(answered, instance);
      void instance.exited.then(() => this.portOwners.get(answered) === instance && this.portOwners.delete(answered));
    }
    return instance;
  }

  /** A Python function under the debugger runs on an interpreter that has debugpy. */
  private debugInterpreter(req: InstanceRequest): Pick<AgentPaths, 'python' | 'python27'> {
    if (!req.debug || runtimeFamily(req.fn.runtime) !== 'python') return {};
    const usual = req.fn.runtime === 'python2.7' ? findPython27().found : 'python3';
    if (!usual) return {}; // the launch explains the missing interpreter
    const debuggable = findDebugPython(usual, req.debug.debuggerPath);
    if (!debuggable.found) throw new InstanceStartError(`cannot debug ${fnKey(req.fn)}: ${debuggable.how}`);
    if (debuggable.found !== usual) this.opts.log?.(`${fnKey(req.fn)}: debugging with ${debuggable.found}, which has debugpy (${usual} has not)`);
    return req.fn.runtime === 'python2.7' ? { python27: { found: debuggable.found, lookedFor: '' } } : { python: debuggable.found };
  }

  private learnPort(req: InstanceRequest, fixed: boolean): void {
    const key = fnKey(req.fn);
    if (this.fixedPort.get(key) === fixed) return;
    this.fixedPort.set(key, fixed);
    if (fixed) {
      this.opts.log?.(
        `${key}: its server listens on its fixed port ${req.fn.caPort} (caPort), not on FC_SERVER_PORT or PORT: on the process backend one instance runs at a time and requests queue (the Docker backend gives each instance its own port)`,
      );
    }
  }

  /** Instances stopped from now on leave their escaped children to close()'s one sweep. */
  closing(): void {
    this.shuttingDown = true;
  }

  async close(): Promise<void> {
    // One scan for all: what instances started and left behind, even outside their process
    // groups, carries this run's marker.
    this.shuttingDown = true;
    await Promise.all([...this.live].map((i) => i.stop()));
    const dead = this.opts.sweepAtClose === true;
    killProcessesWith(RUN_VAR, (run) => run === thisRun() || (dead && !runIsAlive(run)));
    this.sockets.close();
  }

  /** As root: the unprivileged user when it can reach all the instance needs; else root, said once. */
  private userFor(req: InstanceRequest, command: string, args: string[], codeDir: string, pathVar: string): { uid: number; gid: number } | undefined {
    if (!runningAsRoot() || process.env.FC_LOCAL_PROCESS_USER === 'root') return undefined;
    const key = `${command}\0${codeDir}`;
    if (this.users.has(key)) return this.users.get(key);
    const resolved = resolveCommand(command, pathVar);
    const blocked = resolved
      ? unreachable([{ path: resolved, exec: true }, ...args.filter((a) => a.startsWith('/')).map((a) => ({ path: a })), { path: codeDir }])
      : command;
    const user = blocked ? undefined : { uid: UNPRIVILEGED.uid, gid: UNPRIVILEGED.gid };
    this.users.set(key, user);
    if (blocked) {
      this.opts.log?.(
        `${fnKey(req.fn)}: instances run as root, not as ${UNPRIVILEGED.name}: ${UNPRIVILEGED.name} cannot reach ${blocked} ` +
          '(make it readable to others, or use the Docker backend for a sandbox)',
      );
    }
    return user;
  }
}

/** True once an agent wrote its "ready" line, false if the pipe ended without one. */
function saidReady(pipe: NodeJS.ReadableStream): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    pipe.once('data', () => resolve(true));
    pipe.once('end', () => resolve(false));
    pipe.once('error', () => resolve(false));
  }).finally(() => (pipe as { destroy?(): void }).destroy?.());
}

class ProcessInstance implements InstanceHandle {
  readonly host = '127.0.0.1';
  /** The port it answers on: the one it was given, or its own fixed one (a custom runtime's caPort). */
  port: number;
  channelPath?: string;
  readonly exited: Promise<ExitInfo>;
  private readonly lines = new LineHub();
  private ended?: ExitInfo;
  private spawnError?: string;

  constructor(
    readonly id: string,
    port: number,
    private readonly child: ChildProcess,
    command: string,
    /** Whether stop() sweeps for its escaped children itself (not when the backend is closing). */
    private readonly sweepsItself: () => boolean = () => true,
  ) {
    this.port = port;
    if (child.stdout) this.lines.attach(child.stdout, 'stdout');
    if (child.stderr) this.lines.attach(child.stderr, 'stderr');
    this.exited = new Promise((resolve) => {
      const end = (e: ExitInfo) => {
        if (this.ended) return;
        this.ended = e;
        resolve(e);
      };
      // After 'exit', the lines still in the pipes come in before 'close'; a child it left behind
      // may hold the pipes open, so the wait for them is short.
      child.once('exit', (code, signal) => {
        const timer = setTimeout(() => end({ code, signal }), 200);
        child.once('close', () => {
          clearTimeout(timer);
          end({ code, signal });
        });
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        // The process never ran (a running one reports errors through 'close').
        if (child.pid !== undefined) return;
        const missing = command.startsWith('/') ? `${command} does not exist` : `${command} is not installed or not on PATH`;
        this.spawnError = err.code === 'ENOENT' ? `${missing} (ENOENT)` : err.code === 'EACCES' ? `${command} is not executable (EACCES)` : err.message;
        end({ code: null, signal: null });
      });
    });
  }

  endReason(): string | undefined {
    if (this.spawnError) return this.spawnError;
    if (!this.ended) return undefined;
    return this.ended.signal ? `exited on ${this.ended.signal}` : `exited with code ${this.ended.code}`;
  }

  onLine(listener: Parameters<InstanceHandle['onLine']>[0]): () => void {
    return this.lines.on(listener);
  }

  echo(line: string): void {
    this.lines.emit(line, 'stdout');
  }

  async maxMemoryMB(reportedKB?: number): Promise<number | undefined> {
    // The agent's own peak is this process's VmHWM, without reading /proc (a fifth of the
    // gateway's CPU per invocation under load).
    if (reportedKB !== undefined) return Math.ceil(reportedKB / 1024);
    if (!this.child.pid || this.ended) return undefined;
    try {
      // Synchronous on purpose: a /proc read takes microseconds, while the async API's
      // threadpool round trips cut warm throughput by three quarters (measured by bench/).
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Math.ceil(Number(kb) / 1024) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Kills the instance's whole process group; synchronous, so it can run in an exit hook. */
  kill(): void {
    if (this.ended || !this.child.pid) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }

  async stop(): Promise<void> {
    this.kill();
    await this.exited;
    // Children that left the group (setsid, detached) still carry the instance's marker.
    if (this.sweepsItself()) killProcessesWith(INSTANCE_VAR, (v) => v === this.id);
  }
}

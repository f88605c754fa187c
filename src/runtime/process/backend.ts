import { execa, type ResultPromise } from 'execa';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { AGENTS_DIR, agentLaunch, NODE_BUILTINS_DIR } from '../agents.js';
import { type Backend, type ExitInfo, type InstanceHandle, type InstanceRequest } from '../backend.js';
import { awaitReady, startLimitMs, freePort, LineHub } from '../instance-io.js';

// The embedded backend: each instance is a child process on a free 127.0.0.1 port, its cwd the
// code dir, its env FC's plus the function's (not the host's, so code does not come to rely on it).

export interface ProcessBackendOptions {
  /** How long an instance may take to listen on its port. */
  startTimeoutMs?: number;
}

/** Every live instance of every backend in this process, killed if fc-local exits abruptly. */
const allInstances = new Set<ProcessInstance>();
process.on('exit', () => allInstances.forEach((i) => i.kill()));

export class ProcessBackend implements Backend {
  readonly name = 'process' as const;
  private readonly live = new Set<ProcessInstance>();

  constructor(private readonly opts: ProcessBackendOptions = {}) {}

  async start(req: InstanceRequest): Promise<InstanceHandle> {
    const port = await freePort();
    // A jar codeUri is a file: its folder is the code dir, as FC unpacks code into one.
    const isFile = statSync(req.fn.codeUri, { throwIfNoEntry: false })?.isFile() ?? false;
    const codeDir = isFile ? path.dirname(req.fn.codeUri) : req.fn.codeUri;
    const launch = agentLaunch(
      req,
      { agentsDir: AGENTS_DIR, codeDir, codeFile: isFile ? req.fn.codeUri : undefined, nodeBuiltinsDir: NODE_BUILTINS_DIR, node: process.execPath, heapCap: true },
      port,
      '127.0.0.1',
    );
    const child = execa(launch.command, launch.args, {
      cwd: codeDir,
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: process.env.LANG ?? 'C.UTF-8', TZ: 'UTC', HOME: '/tmp', ...launch.env },
      extendEnv: false,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      // Its own process group, so that stopping it also stops what it started (a bootstrap's
      // server, a function's child processes): otherwise they keep its output pipes open.
      detached: true,
      cleanup: false,
    });
    const instance = new ProcessInstance(randomUUID(), port, child);
    this.live.add(instance);
    allInstances.add(instance);
    void instance.exited.then(() => {
      this.live.delete(instance);
      allInstances.delete(instance);
    });

    const what = launch.printsMarkers ? `the ${req.fn.runtime} runtime` : `bootstrap ${launch.command}`;
    await awaitReady({ instance, timeoutMs: this.opts.startTimeoutMs ?? startLimitMs(req.fn, 15_000), what: `${what} for ${req.fn.service}/${req.fn.name}` });
    return instance;
  }

  async close(): Promise<void> {
    await Promise.all([...this.live].map((i) => i.stop()));
  }
}

class ProcessInstance implements InstanceHandle {
  readonly host = '127.0.0.1';
  readonly exited: Promise<ExitInfo>;
  private readonly lines = new LineHub();
  private ended?: ExitInfo;
  private spawnError?: string;

  constructor(
    readonly id: string,
    readonly port: number,
    private readonly child: ResultPromise,
  ) {
    if (child.stdout) this.lines.attach(child.stdout, 'stdout');
    if (child.stderr) this.lines.attach(child.stderr, 'stderr');
    this.exited = child.then((r) => {
      if (r.failed && r.exitCode === undefined && !r.signal) {
        const code = (r as { code?: string }).code;
        const cmd = r.command.split(' ')[0]!;
        const missing = cmd.startsWith('/') ? `${cmd} does not exist` : `${cmd} is not installed or not on PATH`;
        this.spawnError = code === 'ENOENT' ? `${missing} (${code})` : code === 'EACCES' ? `${cmd} is not executable (${code})` : r.shortMessage;
      }
      this.ended = { code: r.exitCode ?? null, signal: r.signal ?? null };
      return this.ended;
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

  async maxMemoryMB(): Promise<number | undefined> {
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
  }
}

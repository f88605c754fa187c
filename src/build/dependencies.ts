import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { runtimeFamily, type FunctionSpec } from '../model.js';
import { guardSession } from '../runtime/docker/backend.js';

// A function's dependencies installed for the runtime it runs on, as Funcraft's `fun install` and
// Serverless Devs' `s build` do: `npm ci` (or `npm install` without a lock file) where the code
// dir has a package.json, `pip install -t .` where it has a requirements.txt. In a container of
// the function's runtime image (the code dir mounted, files owned by this user), so native
// modules are built for Linux and the runtime's Node or Python; or on this machine. A stamp of
// the manifest and lock file (and where they were installed) makes a second build with nothing
// changed run nothing.

export interface DependencyInstall {
  tool: 'npm' | 'pip';
  /** The files whose content decides whether to install again. */
  inputs: string[];
  /** The command, as run on this machine (the container runs the same with its own npm or pip). */
  command: string[];
}

/** What to install for the function, if anything. */
export function installOf(fn: FunctionSpec): DependencyInstall | undefined {
  const dir = fn.codeUri;
  const family = runtimeFamily(fn.runtime);
  if ((family === 'nodejs' || family === 'custom') && existsSync(path.join(dir, 'package.json'))) {
    const lock = existsSync(path.join(dir, 'package-lock.json'));
    return { tool: 'npm', inputs: ['package.json', 'package-lock.json'], command: ['npm', lock ? 'ci' : 'install', '--no-audit', '--no-fund'] };
  }
  if ((family === 'python' || family === 'custom') && existsSync(path.join(dir, 'requirements.txt'))) {
    return { tool: 'pip', inputs: ['requirements.txt'], command: ['pip', 'install', '--no-input', '--disable-pip-version-check', '-t', '.', '-r', 'requirements.txt'] };
  }
  return undefined;
}

/**
 * This machine's npm (the package folder), lent to images whose node has no npm of their own: it
 * is plain JavaScript and runs on the image's node (newer npm releases warn about older Node
 * versions and work).
 */
function hostNpm(): string | undefined {
  const isNpm = (dir: string) => {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'npm';
    } catch {
      return false;
    }
  };
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const bin = path.join(dir, 'npm');
    if (!existsSync(bin)) continue;
    let d = path.dirname(realpathSync(bin));
    for (let i = 0; i < 3; i++, d = path.dirname(d)) if (isNpm(d)) return d;
  }
  const beside = path.join(path.dirname(path.dirname(process.execPath)), 'lib', 'node_modules', 'npm');
  return isNpm(beside) ? beside : undefined;
}

const NPM_IN_CONTAINER = '/var/fc-local/npm';

export interface InstallWhere {
  /** Install in a container of this image; on this machine when undefined. */
  image?: string;
  docker?: Docker;
}

export interface InstallOutcome {
  ran: boolean;
  ok: boolean;
  ms: number;
  error?: string;
}

export class Dependencies {
  /** Install containers carry it: fc-local's guardian removes them if fc-local dies mid-install. */
  private readonly session = randomUUID();
  private guarded = false;

  constructor(
    /** Where stamps are kept (the project's .fc-local/build/deps). */
    private readonly stateDir: string,
    private readonly out: (fn: FunctionSpec, line: string) => void,
  ) {}

  private stampOf(fn: FunctionSpec, plan: DependencyInstall, where: InstallWhere): string {
    const hash = createHash('sha1').update(`${plan.tool}\0${fn.runtime}\0${where.image ?? `host ${process.platform} ${process.versions.node}`}\n`);
    for (const f of plan.inputs) {
      try {
        hash.update(`${f}\0`).update(readFileSync(path.join(fn.codeUri, f)));
      } catch {
        hash.update(`${f}\0(none)`);
      }
    }
    return hash.digest('hex');
  }

  private stampFile(fn: FunctionSpec): string {
    return path.join(this.stateDir, `${createHash('sha1').update(path.resolve(fn.codeUri)).digest('hex').slice(0, 16)}.json`);
  }

  async install(fn: FunctionSpec, where: InstallWhere, force = false): Promise<InstallOutcome> {
    const plan = installOf(fn);
    if (!plan) return { ran: false, ok: true, ms: 0 };
    const file = this.stampFile(fn);
    const before = this.stampOf(fn, plan, where);
    if (!force) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { stamp: string }).stamp === before) return { ran: false, ok: true, ms: 0 };
      } catch {
        // No stamp: install.
      }
    }
    const t0 = performance.now();
    const say = (line: string) => this.out(fn, line);
    say(`dependencies: ${plan.command.join(' ')} ${where.image ? `in a container of ${where.image}` : 'on this machine'}`);
    const error = where.image ? await this.inContainer(fn, plan, where.image, where.docker!, say) : await this.onHost(fn, plan, say);
    const ms = Math.round(performance.now() - t0);
    if (error) {
      say(`dependencies failed: ${error}`);
      return { ran: true, ok: false, ms, error };
    }
    // The lock file an install wrote counts: the next build compares against it.
    mkdirSync(this.stateDir, { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify({ stamp: this.stampOf(fn, plan, where), tool: plan.tool, image: where.image ?? null, at: new Date().toISOString() }));
    renameSync(`${file}.tmp`, file);
    say(`dependencies: done in ${ms} ms`);
    return { ran: true, ok: true, ms };
  }

  private async onHost(fn: FunctionSpec, plan: DependencyInstall, say: (l: string) => void): Promise<string | undefined> {
    const [cmd, ...args] = plan.tool === 'pip' ? ['python3', '-m', ...plan.command] : plan.command;
    const r = await execa(cmd!, args, { cwd: fn.codeUri, all: true, reject: false, stdin: 'ignore' });
    for (const l of (r.all ?? '').split('\n').filter(Boolean)) say(`  ${l}`);
    return r.exitCode === 0 ? undefined : `${plan.command.join(' ')} exited with code ${r.exitCode ?? r.shortMessage}`;
  }

  private async inContainer(fn: FunctionSpec, plan: DependencyInstall, image: string, docker: Docker, say: (l: string) => void): Promise<string | undefined> {
    const args = plan.command.slice(1).map((a) => `'${a}'`).join(' ');
    // The image's own npm or pip where it has one; else this machine's npm on the image's node.
    const npm = plan.tool === 'npm' ? hostNpm() : undefined;
    const script =
      plan.tool === 'npm'
        ? `if command -v npm >/dev/null 2>&1; then exec npm ${args}; elif [ -f ${NPM_IN_CONTAINER}/bin/npm-cli.js ]; then exec node ${NPM_IN_CONTAINER}/bin/npm-cli.js ${args}; else echo "the image has no npm, and there is none on this machine to lend it: use an image with npm, or install on this machine with --no-docker" >&2; exit 127; fi`
        : `if python3 -m pip --version >/dev/null 2>&1; then exec python3 -m pip ${args} --break-system-packages; else echo "the image has no pip (python3 -m pip): use an image with pip, or install on this machine with --no-docker" >&2; exit 127; fi`;
    const output = new PassThrough();
    let partial = '';
    output.on('data', (c: Buffer) => {
      const lines = (partial + c.toString('utf8')).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const l of lines) say(`  ${l}`);
    });
    if (!this.guarded) {
      this.guarded = true;
      guardSession(docker, this.session);
    }
    const uid = typeof process.getuid === 'function' ? `${process.getuid()}:${process.getgid?.() ?? process.getuid()}` : undefined;
    let container: Docker.Container | undefined;
    try {
      // Both streams to one: dockerode demultiplexes the engine's stream when given two.
      const [result, c] = (await docker.run(image, ['/bin/sh', '-c', script], [output, output], {
        WorkingDir: '/code',
        Env: ['HOME=/tmp', 'npm_config_update_notifier=false', 'npm_config_progress=false', 'NO_COLOR=1', 'PIP_NO_CACHE_DIR=1', 'LANG=C.UTF-8'],
        ...(uid ? { User: uid } : {}),
        Labels: { 'fc-local': '1', 'fc-local.build': '1', 'fc-local.session': this.session, 'fc-local.pid': String(process.pid), 'fc-local.host': os.hostname() },
        HostConfig: {
          Binds: [`${path.resolve(fn.codeUri)}:/code`, ...(npm ? [`${npm}:${NPM_IN_CONTAINER}:ro`] : [])],
          Tmpfs: { '/tmp': 'rw,exec,size=1024m,mode=1777' },
        },
      })) as [{ StatusCode: number }, Docker.Container];
      container = c;
      if (partial) say(`  ${partial}`);
      return result.StatusCode === 0 ? undefined : `${plan.command.join(' ')} exited with code ${result.StatusCode} in ${image}`;
    } catch (err) {
      return `could not run ${image}: ${(err as Error).message}`;
    } finally {
      await container?.remove({ force: true }).catch(() => undefined);
    }
  }
}

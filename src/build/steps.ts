import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { fnKey, type BuildStep, type FunctionSpec } from '../model.js';

// Build steps from the template (s.yaml `actions` run hooks, an MCP template's `build` steps,
// fc.yml `build`): shell commands run in their folder, one after the other, before the function
// serves. A run is recorded with a fingerprint of the files its folders hold after it (names,
// sizes, times): a start with nothing changed since runs nothing, and a build's own output does
// not trigger it again. A failing or hanging step stops its function only; its requests answer
// the step's error and the last lines it printed.

/** Never part of a fingerprint: dependencies and hidden state. */
const SKIP = new Set(['node_modules', '.git', '.fc-local', '__pycache__']);
const MAX_FILES = 20_000;
const TAIL = 30;

export class BuildFailed extends Error {
  constructor(
    message: string,
    readonly tail: string[],
  ) {
    super(tail.length ? `${message}; its last lines:\n${tail.join('\n')}` : message);
  }
}

export interface StepsOutcome {
  /** Whether the steps ran (false: their folders had not changed since the last run). */
  ran: boolean;
  ms: number;
  failure?: BuildFailed;
}

/** A fingerprint of the folders' files: what a build depends on, and what it leaves. */
export function fingerprint(dirs: string[]): string {
  const hash = createHash('sha1');
  let count = 0;
  const walk = (dir: string, rel: string) => {
    let entries;
    try {
      entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (count >= MAX_FILES || SKIP.has(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(dir, r);
      else if (e.isFile()) {
        count++;
        try {
          const st = statSync(path.join(dir, r));
          hash.update(`${r}\0${st.size}\0${st.mtimeMs}\n`);
        } catch {
          // Gone while walking: it no longer counts.
        }
      }
    }
  };
  for (const d of [...new Set(dirs)].sort()) {
    hash.update(`${d}\n`);
    walk(d, '');
  }
  return hash.digest('hex');
}

export interface BuildStepsOptions {
  /** Where runs are recorded (the project's .fc-local/build/steps). */
  stateDir: string;
  /** Each line a step prints, and fc-local's lines about the steps. */
  out: (fn: FunctionSpec, line: string) => void;
  /** A step that runs longer fails (the log tail says where it was). */
  timeoutMs: number;
}

export class BuildSteps {
  /** Per set of steps: the run under way, and the last failure. */
  private readonly running = new Map<string, Promise<StepsOutcome>>();
  private readonly failures = new Map<string, BuildFailed>();
  /** Steps checked (run or found unchanged) since their folders last changed: no walk needed. */
  private readonly verified = new Set<string>();

  constructor(private readonly opts: BuildStepsOptions) {}

  private keyOf(steps: BuildStep[]): string {
    return createHash('sha1').update(JSON.stringify(steps.map((s) => [s.run, s.cwd]))).digest('hex').slice(0, 16);
  }

  private stampFile(key: string): string {
    return path.join(this.opts.stateDir, `${key}.json`);
  }

  /** The folders a function's steps depend on. */
  dirsOf(fn: FunctionSpec): string[] {
    return [...new Set((fn.build?.steps ?? []).map((s) => s.cwd))];
  }

  /** Whether the steps' folders changed since their last successful run. */
  changed(fn: FunctionSpec): boolean {
    const steps = fn.build?.steps ?? [];
    if (!steps.length) return false;
    try {
      const stamp = JSON.parse(readFileSync(this.stampFile(this.keyOf(steps)), 'utf8')) as { fingerprint: string };
      return stamp.fingerprint !== fingerprint(this.dirsOf(fn));
    } catch {
      return true;
    }
  }

  /** The failure of the function's last run, if it failed (its requests answer it). */
  failureOf(fn: FunctionSpec): BuildFailed | undefined {
    const steps = fn.build?.steps ?? [];
    return steps.length ? this.failures.get(this.keyOf(steps)) : undefined;
  }

  /**
   * Runs the function's steps when their folders changed since the last good run (always with
   * `force`). Functions sharing steps share one run.
   */
  async ensure(fn: FunctionSpec, force = false): Promise<StepsOutcome> {
    const steps = fn.build?.steps ?? [];
    if (!steps.length) return { ran: false, ms: 0 };
    const key = this.keyOf(steps);
    const under = this.running.get(key);
    if (under) return under;
    if (!force && this.verified.has(key)) return { ran: false, ms: 0, ...(this.failures.has(key) ? { failure: this.failures.get(key)! } : {}) };
    if (!force && !this.failures.has(key) && !this.changed(fn)) {
      this.verified.add(key);
      return { ran: false, ms: 0 };
    }
    const run = this.run(fn, steps, key).finally(() => {
      this.running.delete(key);
      this.verified.add(key);
    });
    this.running.set(key, run);
    return run;
  }

  /** A file in the steps' folders changed: the next ensure() looks again. */
  invalidate(fn: FunctionSpec): void {
    const steps = fn.build?.steps ?? [];
    if (steps.length) this.verified.delete(this.keyOf(steps));
  }

  /** Whether steps of the function are running now (their own writes are not changes). */
  isRunning(fn: FunctionSpec): boolean {
    const steps = fn.build?.steps ?? [];
    return steps.length > 0 && this.running.has(this.keyOf(steps));
  }

  private async run(fn: FunctionSpec, steps: BuildStep[], key: string): Promise<StepsOutcome> {
    const t0 = performance.now();
    const say = (line: string) => this.opts.out(fn, line);
    for (const step of steps) {
      say(`build: ${step.run} (${step.from}, in ${path.relative(process.cwd(), step.cwd) || '.'})`);
      const tail: string[] = [];
      const keep = (line: string) => {
        tail.push(line);
        if (tail.length > TAIL) tail.shift();
        say(`  ${line}`);
      };
      const child = execa('sh', ['-c', step.run], { cwd: step.cwd, all: true, reject: false, timeout: this.opts.timeoutMs, stdin: 'ignore', buffer: false, forceKillAfterDelay: 2000 });
      let partial = '';
      child.all?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split(/\r?\n/);
        partial = lines.pop() ?? '';
        lines.forEach(keep);
      });
      const r = await child;
      if (partial) keep(partial);
      if (r.exitCode !== 0 || r.timedOut || r.failed) {
        const why = r.timedOut
          ? `timed out after ${Math.round(this.opts.timeoutMs / 1000)} s (--build-timeout)`
          : r.exitCode !== undefined
            ? `exited with code ${r.exitCode}`
            : (r.shortMessage ?? 'could not start');
        const failure = new BuildFailed(`build step \`${step.run}\` (${step.from}) of ${fnKey(fn)} ${why}`, tail);
        this.failures.set(key, failure);
        say(`build failed: ${step.run} ${why}; ${fnKey(fn)} answers this error until a change builds`);
        return { ran: true, ms: Math.round(performance.now() - t0), failure };
      }
    }
    this.failures.delete(key);
    mkdirSync(this.opts.stateDir, { recursive: true });
    const file = this.stampFile(key);
    writeFileSync(`${file}.tmp`, JSON.stringify({ steps: steps.map((s) => s.run), fingerprint: fingerprint(this.dirsOf(fn)), at: new Date().toISOString() }));
    renameSync(`${file}.tmp`, file);
    const ms = Math.round(performance.now() - t0);
    say(`build: done in ${ms} ms`);
    return { ran: true, ms };
  }
}

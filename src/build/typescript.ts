import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeFamily, type FunctionSpec } from '../model.js';

// TypeScript on the fly for Node.js functions: each .ts / .mts / .cts file of a code dir is
// compiled on its own by esbuild (CommonJS for the function's Node version, with an inline source
// map and its source) into a folder of fc-local's, mirroring the code dir. The Node agent loads a
// `.ts` module from there in place of the file, so paths, __dirname, relative imports and
// node_modules stay the code dir's, and stack traces and debuggers see the .ts lines. esbuild
// does not type-check: a type error does not stop a reload; a syntax error leaves a `.err` file
// that the agent throws as the module's load error, positioned, until the file is fixed.

const TS_EXTENSIONS = ['.ts', '.mts', '.cts'];
const JS_EXTENSIONS = ['.js', '.mjs', '.cjs'];
/** Never compiled: dependencies, hidden folders (.git, .fc-local) and declaration files. */
const SKIP_DIR = (name: string) => name === 'node_modules' || name.startsWith('.');

export interface TsDiagnostic {
  /** Relative to the code dir. */
  file: string;
  line: number;
  column: number;
  text: string;
}

export interface TsCompileResult {
  outDir: string;
  compiled: number;
  errors: TsDiagnostic[];
  ms: number;
}

/** Whether the function's handler module is TypeScript (its file is .ts, with no .js beside it). */
export function usesTypeScript(fn: FunctionSpec): boolean {
  if (runtimeFamily(fn.runtime) !== 'nodejs' || !fn.handler) return false;
  const dot = fn.handler.lastIndexOf('.');
  if (dot <= 0) return false;
  const base = path.resolve(fn.codeUri, fn.handler.slice(0, dot));
  if (JS_EXTENSIONS.some((e) => existsSync(base + e))) return false;
  if (TS_EXTENSIONS.some((e) => base.endsWith(e) && existsSync(base))) return true;
  return TS_EXTENSIONS.some((e) => existsSync(base + e)) || existsSync(path.join(base, 'index.ts'));
}

/** `{line}:{column}: error: {text}` as esbuild positions it, for the console and the agent. */
export function formatDiagnostic(d: TsDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: error: ${d.text}`;
}

function nodeTarget(runtime: string): string {
  const major = /^nodejs(\d+)/.exec(runtime)?.[1];
  return `node${major ?? '18'}`;
}

function tsFiles(dir: string, rel = ''): string[] {
  let entries;
  try {
    entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return SKIP_DIR(e.name) ? [] : tsFiles(dir, r);
    return e.isFile() && TS_EXTENSIONS.some((x) => e.name.endsWith(x)) && !/\.d\.[mc]?ts$/.test(e.name) ? [r] : [];
  });
}

/** Compiled output per code dir, kept under `root` (the project's .fc-local/build/ts). */
export class TypeScriptBuilds {
  /** Per code dir: what each file was compiled from (its mtime), and a compile under way. */
  private readonly state = new Map<string, { mtimes: Map<string, number>; running?: Promise<TsCompileResult>; last?: TsCompileResult; target: string }>();

  constructor(
    private readonly root: string,
    /** Told of each compile that did something: its count, time and errors (once each). */
    private readonly report: (fn: FunctionSpec, r: TsCompileResult) => void = () => undefined,
  ) {}

  outDirOf(codeUri: string): string {
    return path.join(this.root, createHash('sha1').update(path.resolve(codeUri)).digest('hex').slice(0, 16));
  }

  /**
   * Compiles what changed in the function's code dir since the last compile and resolves with the
   * folder the agent loads from; undefined when the function is not TypeScript. Concurrent calls
   * for one code dir share one compile.
   */
  async ensure(fn: FunctionSpec): Promise<string | undefined> {
    if (!usesTypeScript(fn)) return undefined;
    const dir = path.resolve(fn.codeUri);
    let s = this.state.get(dir);
    if (!s) this.state.set(dir, (s = { mtimes: new Map(), target: nodeTarget(fn.runtime) }));
    while (s.running) await s.running;
    const run = this.compile(dir, s);
    s.running = run;
    try {
      const r = await run;
      if (r.compiled) this.report(fn, r);
      return r.outDir;
    } finally {
      s.running = undefined;
    }
  }

  /** The diagnostics of the code dir's last compile. */
  errorsOf(codeUri: string): TsDiagnostic[] {
    return this.state.get(path.resolve(codeUri))?.last?.errors ?? [];
  }

  private async compile(dir: string, s: { mtimes: Map<string, number>; last?: TsCompileResult; target: string }): Promise<TsCompileResult> {
    const t0 = performance.now();
    const { transform } = await import('esbuild');
    const outDir = this.outDirOf(dir);
    mkdirSync(outDir, { recursive: true });
    const files = tsFiles(dir);
    const tsconfigRaw = readTsconfig(dir);
    const seen = new Set(files);
    // Files gone from the code dir: their output goes too.
    for (const f of [...s.mtimes.keys()]) {
      if (seen.has(f)) continue;
      s.mtimes.delete(f);
      rmSync(path.join(outDir, `${f}.js`), { force: true });
      rmSync(path.join(outDir, `${f}.err`), { force: true });
    }
    const errors = (s.last?.errors ?? []).filter((e) => seen.has(e.file));
    let compiled = 0;
    await Promise.all(
      files.map(async (rel) => {
        const file = path.join(dir, rel);
        let mtime: number;
        try {
          mtime = statSync(file).mtimeMs;
        } catch {
          return;
        }
        if (s.mtimes.get(rel) === mtime) return;
        const out = path.join(outDir, `${rel}.js`);
        const err = path.join(outDir, `${rel}.err`);
        mkdirSync(path.dirname(out), { recursive: true });
        compiled++;
        for (let i = errors.length - 1; i >= 0; i--) if (errors[i]!.file === rel) errors.splice(i, 1);
        try {
          const r = await transform(readFileSync(file, 'utf8'), {
            loader: 'ts',
            format: 'cjs',
            platform: 'node',
            target: s.target,
            sourcemap: 'inline',
            // The map names the file beside the module, whatever path the instance sees it at.
            sourcefile: path.basename(rel),
            ...(tsconfigRaw ? { tsconfigRaw } : {}),
          });
          writeAtomically(out, r.code);
          rmSync(err, { force: true });
        } catch (e) {
          const found = ((e as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors ?? []).map((m) => ({
            file: rel,
            line: m.location?.line ?? 1,
            column: (m.location?.column ?? 0) + 1,
            text: m.text,
          }));
          const diags = found.length ? found : [{ file: rel, line: 1, column: 1, text: (e as Error).message }];
          errors.push(...diags);
          rmSync(out, { force: true });
          writeAtomically(err, diags.map(formatDiagnostic).join('\n'));
        }
        s.mtimes.set(rel, mtime);
      }),
    );
    const result = { outDir, compiled, errors, ms: Math.round(performance.now() - t0) };
    s.last = result;
    return result;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** The code dir's tsconfig.json for esbuild (decorators, JSX settings); comments are fine there. */
function readTsconfig(dir: string): string | undefined {
  try {
    return readFileSync(path.join(dir, 'tsconfig.json'), 'utf8');
  } catch {
    return undefined;
  }
}

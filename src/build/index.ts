import type Docker from 'dockerode';
import path from 'node:path';
import { fnKey, type FunctionSpec, type Template } from '../model.js';
import { imageFor, type ImageChoice } from '../runtime/docker/images.js';
import { Dependencies, installOf } from './dependencies.js';
import { BuildSteps } from './steps.js';
import { formatDiagnostic, TypeScriptBuilds } from './typescript.js';

// Building a template's functions without serving them (`fc-local build`): for each function its
// dependencies for the runtime, then its build steps, then its TypeScript; what has not changed
// since its last good run is skipped unless `force`. State lives in .fc-local/build beside the
// template, shared with `start`.

export interface BuildOptions {
  force: boolean;
  timeoutMs: number;
  /** Install dependencies in containers of the runtime images through this engine; on this machine when undefined. */
  docker?: Docker;
  images: ImageChoice;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Builds `fns`; resolves with how many failed. */
export async function buildFunctions(tpl: Template, fns: FunctionSpec[], o: BuildOptions): Promise<number> {
  const state = path.join(path.dirname(tpl.file), '.fc-local', 'build');
  const say = (fn: FunctionSpec, line: string) => o.out(`${fnKey(fn)} ${line}`);
  const deps = new Dependencies(path.join(state, 'deps'), say);
  const steps = new BuildSteps({ stateDir: path.join(state, 'steps'), out: say, timeoutMs: o.timeoutMs });
  const ts = new TypeScriptBuilds(path.join(state, 'ts'), (fn, r) => o.out(`${fnKey(fn)}: compiled ${r.compiled} TypeScript file(s) in ${r.ms} ms`));
  let failed = 0;
  for (const fn of fns) {
    const installed = await deps.install(fn, o.docker ? { image: imageFor(fn.runtime, o.images), docker: o.docker } : {}, o.force);
    if (!installed.ok) {
      failed++;
      continue;
    }
    if (!installed.ran && installOf(fn)) o.out(`${fnKey(fn)}: dependencies up to date (--force installs them anyway)`);
    const built = await steps.ensure(fn, o.force);
    if (built.failure) {
      failed++;
      continue;
    }
    if (fn.build?.steps.length && !built.ran) o.out(`${fnKey(fn)}: build steps up to date (--force runs them anyway)`);
    await ts.ensure(fn);
    for (const d of ts.errorsOf(fn.codeUri)) {
      o.err(`${fnKey(fn)}: TypeScript ${formatDiagnostic(d)}`);
      failed++;
    }
  }
  return failed;
}

import path from 'node:path';
import { allFunctions, fnKey, type FunctionSpec, type Template } from '../model.js';
import { formatError } from '../template/source.js';
import { findTemplate, loadTemplate, TemplateNotFoundError, type LoadResult } from '../template/load.js';
import { BackendUnavailableError, selectBackend, type SelectedBackend, type SelectOptions } from '../runtime/select-backend.js';

import { UsageError } from './errors.js';
import type { BackendFlags } from './backend-options.js';

/** Finds and loads the template; a missing template is a usage error (exit 2). */
export function openTemplate(explicit?: string): { file: string; result: LoadResult } {
  let file: string;
  try {
    file = findTemplate(process.cwd(), explicit);
  } catch (err) {
    if (err instanceof TemplateNotFoundError) throw new UsageError(err.message);
    throw err;
  }
  return { file: path.relative(process.cwd(), file) || file, result: loadTemplate(file) };
}

/** The template, or its errors on stderr and a usage error: what every command that runs functions needs. */
export function loadOrExplain(explicit?: string): { file: string; template: Template } {
  const { file, result } = openTemplate(explicit);
  if (!result.template) {
    for (const e of result.errors) console.error(formatError(e));
    throw new UsageError(`${file} is not valid (${result.errors.length} errors)`);
  }
  for (const w of result.warnings ?? []) console.error(formatError(w));
  return { file, template: result.template };
}

/** `--backend` for the commands that run functions; an unusable choice is a usage error. */
export async function chooseBackend(choice: string, opts: SelectOptions): Promise<SelectedBackend> {
  if (choice !== 'auto' && choice !== 'docker' && choice !== 'process') {
    throw new UsageError(`--backend must be auto, docker or process (got ${choice})`);
  }
  try {
    return await selectBackend(choice, opts);
  } catch (err) {
    if (err instanceof BackendUnavailableError) throw new UsageError(err.message);
    throw err;
  }
}

/** A function named on the command line: service/function, or a name unique in the template. */
export function pickFunction(tpl: Template, target: string | undefined): FunctionSpec {
  const fns = allFunctions(tpl);
  const names = () => fns.map((f) => `${fnKey(f)}`).join(', ');
  if (!target) {
    if (fns.length === 1) return fns[0]!;
    throw new UsageError(`name the function: ${names()}`);
  }
  const [svc, name] = target.includes('/') ? target.split('/', 2) : [undefined, target];
  const hits = fns.filter((f) => f.name === name && (svc === undefined || f.service === svc));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new UsageError(`function ${target} is in several services; say which: ${hits.map((f) => `${fnKey(f)}`).join(', ')}`);
  throw new UsageError(`no function ${target} in the template (functions: ${names()})`);
}

/** --pull's value, checked. */
export function pullMode(value: string): 'always' | 'missing' | 'never' {
  if (value === 'always' || value === 'missing' || value === 'never') return value;
  throw new UsageError(`--pull must be always, missing or never (got ${value})`);
}

/** --images' value, checked, as SelectOptions' `images`. */
export function imageFamily(value: string | undefined): { images?: 'official' | 'fc' } {
  if (value === undefined) return {};
  if (value === 'official' || value === 'fc') return { images: value };
  throw new UsageError(`--images must be official or fc (got ${value})`);
}

/** The backend options of a command (addBackendOptions), checked, as selectBackend takes them. */
export function backendSelection(opts: BackendFlags & { image?: string }): Omit<SelectOptions, 'template'> {
  let startTimeoutMs: number | undefined;
  if (opts.startTimeout !== undefined) {
    startTimeoutMs = Number(opts.startTimeout) * 1000;
    if (!(startTimeoutMs > 0)) throw new UsageError(`--start-timeout must be a positive number of seconds (got ${opts.startTimeout})`);
  }
  return {
    image: opts.image,
    registry: opts.registry,
    pull: pullMode(opts.pull),
    ...imageFamily(opts.images),
    remote: opts.remote === true,
    engine: opts.engine,
    ...(startTimeoutMs ? { startTimeoutMs } : {}),
  };
}

import path from 'node:path';
import { findTemplate, loadTemplate, TemplateNotFoundError, type LoadResult } from '../template/load.js';
import { BackendUnavailableError, selectBackend, type SelectedBackend, type SelectOptions } from '../runtime/select-backend.js';

/** Exit codes shared by the commands. */
export const EXIT = { ok: 0, functionError: 1, usage: 2 } as const;

export class UsageError extends Error {}

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

import path from 'node:path';
import { findTemplate, loadTemplate, TemplateNotFoundError, type LoadResult } from '../template/load.js';

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

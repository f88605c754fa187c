import { watch } from 'chokidar';
import { allFunctions, type FunctionSpec, type Template, fnKey } from '../model.js';
import { CodeWatcher, type CodeChange } from '../runtime/code-watcher.js';
import type { PoolSet } from '../runtime/pool.js';
import { codeInfo, invalidateCodeInfo } from '../runtime/code-checksum.js';
import { loadTemplate } from '../template/load.js';
import { formatError } from '../template/source.js';

// `start`'s hot reload: a saved file retires the instances of the functions using that code dir
// and warms fresh ones; a saved template is re-validated and, if valid, applied in place.

export interface HotReloadDeps {
  templateFile: string;
  template(): Template;
  setTemplate(t: Template): void;
  pools: PoolSet;
  out(line: string): void;
  /** Called after a new template is in force (event sources re-read their triggers). */
  onApplied?(t: Template): Promise<void> | void;
}

const key = fnKey;

export async function startHotReload(deps: HotReloadDeps): Promise<{ close(): Promise<void> }> {
  const { out, pools } = deps;

  const reloadFunctions = async (fns: FunctionSpec[], why: string) => {
    await Promise.all(
      fns.map(async (fn) => {
        const t0 = performance.now();
        invalidateCodeInfo(fn.codeUri);
        void codeInfo(fn.codeUri); // recomputed in the background, off the request path
        try {
          const restarted = (await pools.existing(fn.service, fn.name)?.refresh(fn)) ?? 0;
          out(`fc-local reloaded ${key(fn)} (${why}) in ${Math.round(performance.now() - t0)} ms${restarted ? `, ${restarted} instance(s) restarted` : ''}`);
        } catch (err) {
          out(`fc-local reloaded ${key(fn)} (${why}); a fresh instance failed to start: ${(err as Error).message}`);
        }
      }),
    );
  };

  const code = new CodeWatcher((change: CodeChange) => {
    const fns = allFunctions(deps.template()).filter((f) => f.codeUri === change.dir);
    const files = change.files.length > 3 ? `${change.files.slice(0, 3).join(', ')} and ${change.files.length - 3} more` : change.files.join(', ');
    void reloadFunctions(fns, `${files} changed`);
  });
  const codeDirs = (t: Template) => allFunctions(t).map((f) => f.codeUri);
  await code.setDirs(codeDirs(deps.template()));

  let timer: NodeJS.Timeout | undefined;
  const applyTemplate = async () => {
    const t0 = performance.now();
    const result = loadTemplate(deps.templateFile);
    if (!result.template) {
      out(`fc-local template has ${result.errors.length} error(s); still serving the previous version:`);
      for (const e of result.errors) out(`  ${formatError(e)}`);
      return;
    }
    const before = new Map(allFunctions(deps.template()).map((f) => [key(f), f]));
    const after = new Map(allFunctions(result.template).map((f) => [key(f), f]));
    const added = [...after.keys()].filter((k) => !before.has(k));
    const removed = [...before.keys()].filter((k) => !after.has(k));
    const changed = [...after.entries()].filter(([k, f]) => before.has(k) && JSON.stringify(before.get(k)) !== JSON.stringify(f)).map(([, f]) => f);
    deps.setTemplate(result.template);
    invalidateCodeInfo();
    for (const f of allFunctions(result.template)) void codeInfo(f.codeUri);
    await Promise.all(removed.map((k) => pools.remove(...(k.split('/') as [string, string]))));
    await Promise.all(changed.map((f) => pools.existing(f.service, f.name)?.refresh(f)));
    await code.setDirs(codeDirs(result.template));
    await deps.onApplied?.(result.template);
    const parts = [
      added.length ? `added ${added.join(', ')}` : '',
      removed.length ? `removed ${removed.join(', ')}` : '',
      changed.length ? `changed ${changed.map(key).join(', ')}` : '',
    ].filter(Boolean);
    out(`fc-local template reloaded in ${Math.round(performance.now() - t0)} ms: ${parts.join('; ') || 'no function changed'}`);
  };
  const tplWatcher = watch(deps.templateFile, { ignoreInitial: true });
  tplWatcher.on('all', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void applyTemplate().catch((err: Error) => out(`fc-local template reload failed: ${err.message}`)), 40);
  });
  await new Promise<void>((resolve) => tplWatcher.once('ready', () => resolve()));

  return {
    close: async () => {
      clearTimeout(timer);
      await Promise.all([code.close(), tplWatcher.close()]);
    },
  };
}

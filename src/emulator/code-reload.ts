import { allFunctions, fnKey, type FunctionSpec, type Template } from '../model.js';
import { codeInfo, invalidateCodeInfo } from '../runtime/code-checksum.js';
import { CodeWatcher, type CodeChange } from '../runtime/code-watcher.js';
import type { PoolSet } from '../runtime/pool.js';
import type { TemplateStore } from './template-store.js';

// Hot reload of code: a saved file retires the instances of the functions using that code dir
// (idle ones now, busy ones after their request) and warms as many fresh ones, so that the next
// request runs the new code without waiting. The watched dirs follow the template.

export async function startCodeReload(
  store: TemplateStore,
  pools: PoolSet,
  report: (line: string) => void,
  /** Builds what the change needs (TypeScript) before the instances restart. */
  build: (fn: FunctionSpec) => Promise<unknown> = async () => undefined,
  /** Functions whose build steps are writing their code now: the build reloads them when done. */
  building: (fn: FunctionSpec) => boolean = () => false,
): Promise<{ close(): Promise<void>; reload(fns: FunctionSpec[], why: string): Promise<void> }> {
  const reload = async (fns: FunctionSpec[], why: string) => {
    await Promise.all(
      fns.map(async (fn) => {
        const t0 = performance.now();
        try {
          await build(fn);
        } catch {
          // The instances answer the build's error themselves when they start.
        }
        invalidateCodeInfo(fn.codeUri);
        void codeInfo(fn.codeUri); // recomputed in the background, off the request path
        try {
          const restarted = (await pools.existing(fn.service, fn.name)?.refresh(fn)) ?? 0;
          report(`reloaded ${fnKey(fn)} (${why}) in ${Math.round(performance.now() - t0)} ms${restarted ? `, ${restarted} instance(s) restarted` : ''}`);
        } catch (err) {
          report(`reloaded ${fnKey(fn)} (${why}); a fresh instance failed to start: ${(err as Error).message}`);
        }
      }),
    );
  };
  const watcher = new CodeWatcher((change: CodeChange) => {
    const fns = allFunctions(store.current).filter((f) => f.codeUri === change.dir && !building(f));
    const files = change.files.length > 3 ? `${change.files.slice(0, 3).join(', ')} and ${change.files.length - 3} more` : change.files.join(', ');
    void reload(fns, `${files} changed`);
  });
  const dirsOf = (t: Template) => allFunctions(t).map((f) => f.codeUri);
  let closed = false;
  await watcher.setDirs(dirsOf(store.current));
  store.subscribe((tpl) => (closed ? undefined : watcher.setDirs(dirsOf(tpl))));
  return {
    reload,
    close: () => {
      closed = true;
      return watcher.close();
    },
  };
}

import { watch, type FSWatcher } from 'chokidar';
import path from 'node:path';
import { allFunctions, type FunctionSpec, type Template } from '../model.js';
import type { BuildSteps } from '../build/steps.js';
import type { ContainerImageBuilds } from '../build/container-images.js';
import type { TemplateStore } from './template-store.js';

// Build steps on save: the folders the template's build steps work in are watched; a change
// there (after a short quiet time) runs the steps of the functions that use them again, if their
// files really differ from what the last run left, then reloads those functions. Writes a build
// makes itself are not changes: they are ignored while it runs, and the run's fingerprint
// includes them afterwards, so that a build never triggers itself.

const IGNORED = /(^|[/\\])(node_modules|\.git|\.fc-local|__pycache__)([/\\]|$)/;

export async function startBuildWatch(
  store: TemplateStore,
  steps: BuildSteps,
  reload: (fns: FunctionSpec[], why: string) => Promise<void>,
  /** Custom containers' images built from a folder: a save there builds the image again. */
  images?: ContainerImageBuilds,
  quietMs = 300,
): Promise<{ close(): Promise<void> }> {
  let watcher: FSWatcher | undefined;
  let dirs: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const changedFiles = new Set<string>();
  const withSteps = (t: Template) => allFunctions(t).filter((f) => f.build?.steps.length);

  const fire = async () => {
    timer = undefined;
    const files = [...changedFiles];
    changedFiles.clear();
    const hit = withSteps(store.current).filter((fn) => steps.dirsOf(fn).some((d) => files.some((f) => f === d || f.startsWith(d + path.sep))));
    const rebuilt: FunctionSpec[] = [];
    await Promise.all(
      hit.map(async (fn) => {
        steps.invalidate(fn);
        const r = await steps.ensure(fn);
        if (r.ran) rebuilt.push(fn);
      }),
    );
    // A new image replaces the function's containers; a failed build leaves the old ones serving.
    const inContext = (fn: FunctionSpec) => {
      const ctx = images?.specOf(fn)?.context;
      return ctx !== undefined && files.some((f) => f === ctx || f.startsWith(ctx + path.sep));
    };
    const imaged = allFunctions(store.current).filter(inContext);
    const built = await Promise.all(imaged.map((fn) => images!.build(fn)));
    imaged.forEach((fn, i) => built[i] && !rebuilt.includes(fn) && rebuilt.push(fn));
    const shown = files.map((f) => path.basename(f)).slice(0, 3).join(', ');
    if (rebuilt.length) await reload(rebuilt, `rebuilt after ${shown} changed`);
  };

  const setDirs = async (t: Template) => {
    const contexts = allFunctions(t).flatMap((f) => images?.specOf(f)?.context ?? []);
    const next = [...new Set([...withSteps(t).flatMap((f) => steps.dirsOf(f)), ...contexts])].sort();
    if (next.join('\n') === dirs.join('\n')) return;
    await watcher?.close();
    watcher = undefined;
    dirs = next;
    if (!next.length) return;
    const w = watch(next, { ignoreInitial: true, ignored: (p: string) => IGNORED.test(p) });
    w.on('all', (_event, file) => {
      // A build's own output is not a change.
      if (withSteps(store.current).some((fn) => steps.isRunning(fn) && steps.dirsOf(fn).some((d) => file.startsWith(d)))) return;
      changedFiles.add(file);
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void fire(), quietMs);
    });
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    watcher = w;
  };
  await setDirs(store.current);
  let closed = false;
  store.subscribe((t) => (closed ? undefined : void setDirs(t)));
  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      await watcher?.close();
    },
  };
}

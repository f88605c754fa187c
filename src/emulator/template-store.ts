import { watch, type FSWatcher } from 'chokidar';
import { allFunctions, fnKey, type FunctionSpec, type Template } from '../model.js';
import { loadTemplate } from '../template/load.js';
import { formatError } from '../template/source.js';

// The one live template. Every part of a running emulator reads `current` (routes, event
// sources, the async queue) or subscribes to changes (pools, watchers, checksums). A change is
// published in one step: `current` is swapped first, synchronously, so no part can serve the old
// template once the new one is in force; the subscribers then reconfigure in order.

export interface TemplateDiff {
  added: FunctionSpec[];
  removed: FunctionSpec[];
  /** Functions whose spec changed (code dir, config or triggers), as they are now. */
  changed: FunctionSpec[];
}

export type TemplateListener = (tpl: Template, diff: TemplateDiff) => void | Promise<void>;

export function diffTemplates(before: Template, after: Template): TemplateDiff {
  const old = new Map(allFunctions(before).map((f) => [fnKey(f), f]));
  const now = new Map(allFunctions(after).map((f) => [fnKey(f), f]));
  return {
    added: [...now.values()].filter((f) => !old.has(fnKey(f))),
    removed: [...old.values()].filter((f) => !now.has(fnKey(f))),
    changed: [...now.values()].filter((f) => old.has(fnKey(f)) && JSON.stringify(old.get(fnKey(f))) !== JSON.stringify(f)),
  };
}

export class TemplateStore {
  private tpl: Template;
  private readonly listeners: TemplateListener[] = [];
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private applying: Promise<void> = Promise.resolve();

  constructor(initial: Template) {
    this.tpl = initial;
  }

  get current(): Template {
    return this.tpl;
  }

  /** Listeners run in the order they subscribed, each after the previous one finished. */
  subscribe(listener: TemplateListener): void {
    this.listeners.push(listener);
  }

  /** Puts `next` in force now, then lets every subscriber catch up; resolves when all have. */
  publish(next: Template): Promise<TemplateDiff> {
    const diff = diffTemplates(this.tpl, next);
    this.tpl = next;
    const done = this.applying.then(async () => {
      for (const l of this.listeners) await l(next, diff);
    });
    this.applying = done.catch(() => undefined);
    return done.then(() => diff);
  }

  /**
   * Reloads the template file when it is saved: a valid one is published, an invalid one is
   * reported and the previous one keeps serving. `report` gets one line per reload.
   */
  async watch(report: (line: string) => void): Promise<void> {
    const file = this.tpl.file;
    const reload = async () => {
      const t0 = performance.now();
      const result = loadTemplate(file);
      if (!result.template) {
        report(`template has ${result.errors.length} error(s); still serving the previous version:`);
        for (const e of result.errors) report(`  ${formatError(e)}`);
        return;
      }
      const d = await this.publish(result.template);
      const parts = [
        d.added.length ? `added ${d.added.map(fnKey).join(', ')}` : '',
        d.removed.length ? `removed ${d.removed.map(fnKey).join(', ')}` : '',
        d.changed.length ? `changed ${d.changed.map(fnKey).join(', ')}` : '',
      ].filter(Boolean);
      report(`template reloaded in ${Math.round(performance.now() - t0)} ms: ${parts.join('; ') || 'no function changed'}`);
    };
    const watcher = watch(file, { ignoreInitial: true });
    watcher.on('all', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void reload().catch((err: Error) => report(`template reload failed: ${err.message}`)), 40);
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = watcher;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}

import { watch, type FSWatcher } from 'chokidar';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';

// Watches function code dirs and reports, per dir and after a short debounce, which files
// changed. Noise never counts: .git, node_modules/.cache, editors' swap and backup files, and
// the patterns of the dir's .fcignore (gitignore syntax, as Funcraft reads it).

const NOISE = [
  /(^|\/)\.git(\/|$)/,
  /(^|\/)node_modules\/\.cache(\/|$)/,
  /(^|\/)\.fc-local(\/|$)/,
  /\.sw[a-p]x?$/, // vim swap files
  /~$/, // backups (vim, emacs)
  /(^|\/)\.#[^/]*$/, // emacs lock files
  /(^|\/)#[^/]*#$/, // emacs autosave
  /(^|\/)4913$/, // vim's write probe
  /\.(tmp|bak|orig)$/,
  /(^|\/)\.DS_Store$/,
];

export interface CodeChange {
  dir: string;
  /** Paths relative to the dir. */
  files: string[];
}

export class CodeWatcher {
  private watcher?: FSWatcher;
  private dirs: string[] = [];
  private readonly ignores = new Map<string, Ignore>();
  private readonly pending = new Map<string, { files: Set<string>; timer: NodeJS.Timeout }>();

  constructor(
    private readonly onChange: (change: CodeChange) => void,
    private readonly debounceMs = 40,
  ) {}

  /** Watches exactly these dirs (the template's code dirs); call again when they change. */
  async setDirs(dirs: string[]): Promise<void> {
    const next = [...new Set(dirs.map((d) => path.resolve(d)))].sort();
    if (next.join('\n') === this.dirs.join('\n')) return;
    await this.watcher?.close();
    this.dirs = next;
    this.ignores.clear();
    for (const d of next) this.ignores.set(d, readFcIgnore(d));
    const watcher = watch(next, {
      ignoreInitial: true,
      ignored: (p: string) => this.isNoise(p),
    });
    watcher.on('all', (_event, file) => this.record(file));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = watcher;
  }

  isNoise(file: string): boolean {
    const dir = this.ownerOf(file);
    if (!dir) return false;
    const rel = path.relative(dir, file);
    if (!rel) return false;
    if (NOISE.some((re) => re.test(rel))) return true;
    // `data/` patterns name dirs: test the path as a dir too (the event may be the dir's own).
    const ig = this.ignores.get(dir);
    return ig ? ig.ignores(rel) || ig.ignores(`${rel}/`) : false;
  }

  private ownerOf(file: string): string | undefined {
    // The deepest watched dir holding the file (dirs may nest).
    let best: string | undefined;
    for (const d of this.dirs) if ((file === d || file.startsWith(d + path.sep)) && (!best || d.length > best.length)) best = d;
    return best;
  }

  private record(file: string): void {
    // A file may sit in several watched dirs (nested code dirs): every owner hears of it.
    for (const dir of this.dirs) {
      // A codeUri may be a single file (a jar): then it is its own change.
      if (file !== dir && !file.startsWith(dir + path.sep)) continue;
      const rel = path.relative(dir, file) || path.basename(file);
      if (rel === '.fcignore') this.ignores.set(dir, readFcIgnore(dir));
      let p = this.pending.get(dir);
      if (!p) {
        p = { files: new Set(), timer: setTimeout(() => this.fire(dir), this.debounceMs) };
        this.pending.set(dir, p);
      }
      p.files.add(rel);
    }
  }

  private fire(dir: string): void {
    const p = this.pending.get(dir);
    this.pending.delete(dir);
    if (p) this.onChange({ dir, files: [...p.files].sort() });
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await this.watcher?.close();
  }
}

function readFcIgnore(dir: string): Ignore {
  const ig = ignore();
  try {
    ig.add(readFileSync(path.join(dir, '.fcignore'), 'utf8'));
  } catch {
    // No .fcignore.
  }
  return ig;
}

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

// The layers of src/ (docs/architecture.md), lowest first. A file may import from its own layer
// or a lower one, never a higher one, and no chain of imports may come back to where it started.
const LAYERS = ['model', 'template', 'runtime', 'build', 'services', 'events', 'gateway', 'emulator', 'cli', 'api'] as const;
// Top-level files: the model and helpers at the bottom, the public API (api.ts, index.ts) on top.
const TOP_LEVEL: Record<string, (typeof LAYERS)[number]> = { 'model.ts': 'model', 'util.ts': 'model', 'api.ts': 'api', 'index.ts': 'api' };
const SRC = path.join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

function layerOf(file: string): number {
  const rel = path.relative(SRC, file);
  const top = rel.includes(path.sep) ? rel.split(path.sep)[0]! : (TOP_LEVEL[rel] ?? rel);
  const i = LAYERS.indexOf(top as (typeof LAYERS)[number]);
  if (i < 0) throw new Error(`${rel} is in no layer: add its folder to LAYERS and docs/architecture.md`);
  return i;
}

/** Relative imports of a file, static and dynamic, resolved to .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

const all = files(SRC);
const graph = new Map(all.map((f) => [f, importsOf(f)]));

describe('architecture', () => {
  it('has no import from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        if (layerOf(dep) > layerOf(file)) upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, dep)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map((x) => path.relative(SRC, x)).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of all) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('keeps the command files thin: no action over 40 lines', () => {
    const long: string[] = [];
    for (const file of all.filter((f) => f.includes(`${path.sep}cli${path.sep}`))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (!/\.action\(/.test(line)) return;
        // The action's body ends where the indentation returns to the `.action(` line's.
        const indent = line.search(/\S/);
        let end = i + 1;
        while (end < lines.length && !(lines[end]!.search(/\S/) === indent && /^\s*\}\)/.test(lines[end]!))) end++;
        if (end - i > 40) long.push(`${path.relative(SRC, file)}:${i + 1} (${end - i} lines)`);
      });
    }
    expect(long).toEqual([]);
  });
});

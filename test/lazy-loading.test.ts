import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT } from './helpers/cli.js';

// Commands that start nothing must not load what starting needs: the Docker client above all.

/** Runs the CLI in a child that reports, on exit, which packages it loaded. */
async function loadedPackages(args: string[], entry = 'dist/cli/index.js'): Promise<string[]> {
  const probe = `
    import Module from 'node:module';
    process.on('exit', () => {
      const loaded = Object.keys(Module._cache).map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean);
      process.stderr.write('LOADED ' + JSON.stringify([...new Set(loaded)]) + '\\n');
    });
    const { main } = await import(${JSON.stringify(path.join(ROOT, entry))});
    await main(['node', ${JSON.stringify(BIN)}, ...${JSON.stringify(args)}]);
  `;
  const r = await execa('node', ['--input-type=module', '-e', probe], { cwd: ROOT, reject: false });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  if (!line) throw new Error(`no report: ${r.stderr}`);
  return JSON.parse(line.slice(7)) as string[];
}

describe('lazy loading', () => {
  it.each([
    [['validate', '-t', 'fc.yml.example']],
    [['events', 'generate', 'oss']],
    [['--version']],
  ])('fc-local %j loads neither the Docker client nor the server', async (args) => {
    const loaded = await loadedPackages(args);
    expect(loaded).not.toContain('dockerode');
    expect(loaded).not.toContain('express');
    expect(loaded).not.toContain('chokidar');
  });

  it.each([[['validate', '-t', 'fc.yml.example']], [['events', 'generate', 'oss']]])(
    'the CLI bundle bin/fc-local.js runs: fc-local %j loads neither the Docker client nor the watcher',
    async (args) => {
      // Dependencies inside the bundle are not packages any more; the Docker client and the
      // watcher stay outside it, so they would show.
      const loaded = await loadedPackages(args, 'dist/cli/cli-bundle.js');
      expect(loaded).not.toContain('dockerode');
      expect(loaded).not.toContain('chokidar');
      expect(loaded).not.toContain('yaml'); // bundled: one file, not the package's hundred
    },
  );
});

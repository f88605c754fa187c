import type { Command } from 'commander';
import path from 'node:path';
import { allFunctions, fnKey } from '../model.js';
import { UsageError } from './errors.js';

// `fc-local build [fn...]`: the template's build steps (s.yaml `actions` run hooks, an MCP
// template's `build` steps, fc.yml `build`) and TypeScript compiles, without serving. Steps whose
// folders have not changed since their last good run are skipped unless --force.

export function registerBuild(program: Command): void {
  program
    .command('build [functions...]')
    .description("run the template's build steps and compile TypeScript handlers (all functions, or those named as service/function or function)")
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml, s.yaml)')
    .option('--force', 'run the steps even when their folders have not changed since their last run')
    .option('--build-timeout <seconds>', 'a build step that runs longer fails', '600')
    .action(async (names: string[], opts: { template?: string; force?: boolean; buildTimeout: string }) => {
      const [{ openTemplate }, { formatError }, { BuildSteps }, { TypeScriptBuilds, formatDiagnostic }] = await Promise.all([
        import('./common.js'),
        import('../template/source.js'),
        import('../build/steps.js'),
        import('../build/typescript.js'),
      ]);
      const timeout = Number(opts.buildTimeout);
      if (!(timeout > 0)) throw new UsageError(`--build-timeout must be a positive number of seconds (got ${opts.buildTimeout})`);
      const { file, result } = openTemplate(opts.template);
      if (!result.template) {
        for (const e of result.errors) console.error(formatError(e));
        process.exitCode = 1;
        return;
      }
      const tpl = result.template;
      const all = allFunctions(tpl);
      const unknown = names.filter((n) => !all.some((f) => fnKey(f) === n || f.name === n));
      if (unknown.length) throw new UsageError(`no function ${unknown.join(', ')} in ${file} (it has ${all.map(fnKey).join(', ')})`);
      const fns = names.length ? all.filter((f) => names.includes(fnKey(f)) || names.includes(f.name)) : all;
      const state = path.join(path.dirname(tpl.file), '.fc-local', 'build');
      const steps = new BuildSteps({ stateDir: path.join(state, 'steps'), out: (fn, line) => console.log(`${fnKey(fn)} ${line}`), timeoutMs: timeout * 1000 });
      const ts = new TypeScriptBuilds(path.join(state, 'ts'), (fn, r) => console.log(`${fnKey(fn)}: compiled ${r.compiled} TypeScript file(s) in ${r.ms} ms`));
      let failed = 0;
      for (const fn of fns) {
        const r = await steps.ensure(fn, opts.force === true);
        if (r.failure) {
          failed++;
          continue;
        }
        if (fn.build?.steps.length && !r.ran) console.log(`${fnKey(fn)}: build steps up to date (--force runs them anyway)`);
        await ts.ensure(fn);
        for (const d of ts.errorsOf(fn.codeUri)) {
          console.error(`${fnKey(fn)}: TypeScript ${formatDiagnostic(d)}`);
          failed++;
        }
      }
      if (failed) process.exitCode = 1;
    });
}

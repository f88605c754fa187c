import type { Command } from 'commander';
import { allFunctions, FORMAT_NAMES } from '../model.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a template against Function Compute rules; print every error as file:line:col')
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml)')
    .action(async (opts: { template?: string }) => {
      // Loaded here: `fc-local --help` and the other commands do not pay for the template loader.
      const [{ openTemplate }, { formatError }] = await Promise.all([import('./common.js'), import('../template/source.js')]);
      const { file, result } = openTemplate(opts.template);
      if (!result.template) {
        for (const e of result.errors) console.error(formatError(e));
        console.error(`${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${file}`);
        process.exitCode = 1;
        return;
      }
      for (const w of result.warnings ?? []) console.error(formatError(w));
      const tpl = result.template;
      const fns = allFunctions(tpl);
      const triggers = fns.reduce((n, f) => n + f.triggers.length, 0);
      const services = tpl.services.filter((s) => s.name !== '').length;
      console.log(`${file}: valid (${FORMAT_NAMES[tpl.format]} format, ${services} services, ${fns.length} functions, ${triggers} triggers)`);
    });
}

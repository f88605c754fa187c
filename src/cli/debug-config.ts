import type { Command } from 'commander';
import { UsageError } from './errors.js';

// `fc-local debug-config vscode|intellij`: attach configurations for the IDE, one per function,
// matching what `start -d` / `invoke -d` listen on.

interface DebugConfigOptions {
  template?: string;
  debugPort?: string;
  function?: string;
  backend: string;
  print?: boolean;
}

export function registerDebugConfig(program: Command): void {
  program
    .command('debug-config')
    .argument('<ide>', 'vscode (.vscode/launch.json) or intellij (.idea/runConfigurations, Java and Node.js)')
    .description("write the IDE's attach configurations for `start -d` and `invoke -d`")
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml)')
    .option('-d, --debug-port <port>', 'the port given to start/invoke -d (default: FC_LOCAL_DEBUG_PORT or 9229)')
    .option('--function <function>', 'only this service/function (default: every function fc-local can debug)')
    .option('--backend <kind>', 'auto | docker | process: where the code runs (Docker sees it at /code)', 'auto')
    .option('--print', 'print the configurations instead of writing them')
    .addHelpText(
      'after',
      `
Then: fc-local start -d 9229 --debug-function demo/hello, send a request, and start the
"fc-local: demo/hello" configuration in the IDE. Existing configurations of other names are kept.
`,
    )
    .action(async (ide: string, opts: DebugConfigOptions) => {
      if (ide !== 'vscode' && ide !== 'intellij') throw new UsageError(`debug-config knows vscode and intellij (got ${ide})`);
      const port = Number(opts.debugPort ?? process.env.FC_LOCAL_DEBUG_PORT ?? 9229);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--debug-port must be a port number (got ${opts.debugPort})`);
      if (!['auto', 'docker', 'process'].includes(opts.backend)) throw new UsageError(`--backend must be auto, docker or process (got ${opts.backend})`);
      const [{ loadOrExplain, pickFunction }, ideConfigs] = await Promise.all([import('./common.js'), import('./ide-configs.js')]);
      const { file, template } = loadOrExplain(opts.template);
      const fns = opts.function ? [pickFunction(template, opts.function)] : undefined;
      const docker = opts.backend === 'auto' ? await ideConfigs.engineAnswers() : opts.backend === 'docker';
      const written = ideConfigs.writeIdeConfigs(ide, { template, templateFile: file, fns, port, docker, print: opts.print === true });
      for (const line of written) console.log(line);
    });
}

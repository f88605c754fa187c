import type { Command } from 'commander';
import { allFunctions, fnKey } from '../model.js';
import { UsageError } from './errors.js';

// `fc-local build [fn...]`: each function's dependencies for its runtime (in a container of its
// runtime image with --docker, the default where an engine answers), its build steps and its
// TypeScript, without serving (src/build/).

export function registerBuild(program: Command): void {
  program
    .command('build [functions...]')
    .description("install each function's dependencies for its runtime, run the template's build steps, compile TypeScript (all functions, or those named)")
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml, s.yaml)')
    .option('--force', 'run everything, even what has not changed since its last run')
    .option('--build-timeout <seconds>', 'a build step that runs longer fails', '600')
    .option('--docker', "install dependencies in a container of each function's runtime image (the default where a Docker engine answers)")
    .option('--no-docker', 'install dependencies on this machine')
    .option('--image <image>', 'the image to install dependencies in, for every runtime (else as start picks it: FC_LOCAL_IMAGE, fc-local.json)')
    .action(async (names: string[], opts: { template?: string; force?: boolean; buildTimeout: string; docker?: boolean; image?: string }) => {
      const [{ openTemplate }, { formatError }, { buildFunctions }, { readImageConfig }, { engineClient }, { dockerAnswers }] = await Promise.all([
        import('./common.js'),
        import('../template/source.js'),
        import('../build/index.js'),
        import('../runtime/docker/images.js'),
        import('../runtime/docker/engine.js'),
        import('../runtime/docker/backend.js'),
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
      // Containers where an engine answers (or when asked), else this machine.
      let docker: ReturnType<typeof engineClient> | undefined;
      try {
        docker = opts.docker === false ? undefined : engineClient();
      } catch (err) {
        if (opts.docker === true) throw new UsageError(`--docker: ${(err as Error).message}`);
      }
      const answers = docker !== undefined && (await dockerAnswers(docker));
      if (opts.docker === true && !answers) throw new UsageError('--docker: no Docker engine answers (DOCKER_HOST, or start dockerd); --no-docker installs on this machine');
      const failed = await buildFunctions(tpl, names.length ? all.filter((f) => names.includes(fnKey(f)) || names.includes(f.name)) : all, {
        force: opts.force === true,
        timeoutMs: timeout * 1000,
        ...(answers ? { docker } : {}),
        images: { all: opts.image ?? process.env.FC_LOCAL_IMAGE, byRuntime: readImageConfig(tpl.file) },
        out: (l) => console.log(l),
        err: (l) => console.error(l),
      });
      if (failed) process.exitCode = 1;
    });
}

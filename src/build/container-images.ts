import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import ignore from 'ignore';
import { fnKey, isContainer, type FunctionSpec } from '../model.js';
import { ProjectConfigError, readProjectConfig } from '../util.js';
import { BuildFailed } from './steps.js';

// Custom containers built from a Dockerfile: fc-local.json beside the template says which
// function's image comes from which folder ({"build": {"<fn>": {"context": "dir", "dockerfile":
// "Dockerfile"}}}). fc-local builds it through the engine, tagged as the function's
// customContainerConfig.image, at start and after a save in the folder; a failed build says why
// with the build log's tail, and the image before it (if any) keeps serving.

export interface ImageBuildSpec {
  /** Absolute folder sent to the engine as the build context. */
  context: string;
  /** Relative to the context (default Dockerfile). */
  dockerfile: string;
}

/** The `build` map of fc-local.json, by function key (service/function, or the name alone). */
export function readContainerBuilds(templateFile: string): Record<string, ImageBuildSpec> {
  const { file, config } = readProjectConfig(templateFile);
  const build = config.build;
  if (build === undefined) return {};
  if (typeof build !== 'object' || build === null) throw new ProjectConfigError(`${file}: "build" maps functions to {"context": "<dir>", "dockerfile": "<file>"}`);
  const out: Record<string, ImageBuildSpec> = {};
  for (const [fn, spec] of Object.entries(build as Record<string, unknown>)) {
    const s = spec as { context?: unknown; dockerfile?: unknown };
    if (typeof s?.context !== 'string') throw new ProjectConfigError(`${file}: build.${fn}.context must be the folder to build the image from`);
    out[fn] = { context: path.resolve(path.dirname(file), s.context), dockerfile: typeof s.dockerfile === 'string' ? s.dockerfile : 'Dockerfile' };
  }
  return out;
}

/** The files of the context the engine gets: all but what .dockerignore leaves out. */
function contextFiles(dir: string): string[] {
  let ig: ReturnType<typeof ignore> | undefined;
  try {
    ig = ignore().add(readFileSync(path.join(dir, '.dockerignore'), 'utf8'));
  } catch {
    ig = undefined;
  }
  const walk = (rel: string): string[] =>
    readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ig?.ignores(e.isDirectory() ? `${r}/` : r)) return [];
      return e.isDirectory() ? walk(r) : e.isFile() ? [r] : [];
    });
  return walk('');
}

export class ContainerImageBuilds {
  private readonly failures = new Map<string, BuildFailed>();
  private readonly running = new Map<string, Promise<boolean>>();

  constructor(
    private readonly docker: Docker,
    readonly specs: Record<string, ImageBuildSpec>,
    private readonly out: (fn: FunctionSpec, line: string) => void,
  ) {}

  /** The build spec of a custom-container function, if fc-local.json has one. */
  specOf(fn: FunctionSpec): ImageBuildSpec | undefined {
    return isContainer(fn) ? (this.specs[fnKey(fn)] ?? this.specs[fn.name]) : undefined;
  }

  /** The last build's failure, while the engine has no image to run instead. */
  async failureOf(fn: FunctionSpec): Promise<BuildFailed | undefined> {
    const failure = this.failures.get(fnKey(fn));
    if (!failure) return undefined;
    const present = await this.docker
      .getImage(fn.container!.image)
      .inspect()
      .then(() => true)
      .catch(() => false);
    return present ? undefined : failure;
  }

  /** Builds the function's image; concurrent calls share one build. Resolves whether it succeeded. */
  build(fn: FunctionSpec): Promise<boolean> {
    const key = fnKey(fn);
    const under = this.running.get(key);
    if (under) return under;
    const run = this.run(fn).finally(() => this.running.delete(key));
    this.running.set(key, run);
    return run;
  }

  private async run(fn: FunctionSpec): Promise<boolean> {
    const spec = this.specOf(fn);
    if (!spec) return true;
    const image = fn.container!.image;
    const t0 = performance.now();
    const say = (line: string) => this.out(fn, line);
    say(`image: building ${image} from ${path.relative(process.cwd(), spec.context) || '.'}${spec.dockerfile === 'Dockerfile' ? '' : ` (${spec.dockerfile})`}`);
    const tail: string[] = [];
    const keep = (line: string) => {
      for (const l of line.split('\n').filter((x) => x.trim())) {
        tail.push(l);
        if (tail.length > 30) tail.shift();
      }
    };
    try {
      let failed: string | undefined;
      const stream = await this.docker.buildImage({ context: spec.context, src: contextFiles(spec.context) }, { t: image, dockerfile: spec.dockerfile, rm: true, forcerm: true });
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          stream,
          (err: Error | null) => (err ? reject(err) : resolve()),
          (event: { stream?: string; error?: string }) => {
            if (event.stream) keep(event.stream);
            // A failed step comes as an event; the stream itself ends normally.
            if (event.error) {
              keep(event.error);
              failed = event.error.trim();
            }
          },
        );
      });
      if (failed) throw new Error(failed);
    } catch (err) {
      const failure = new BuildFailed(`building the image ${image} of ${fnKey(fn)} failed: ${(err as Error).message}`, tail);
      this.failures.set(fnKey(fn), failure);
      say(`image: build failed: ${(err as Error).message}${tail.length ? `; its last lines:\n${tail.slice(-10).join('\n')}` : ''}`);
      return false;
    }
    this.failures.delete(fnKey(fn));
    say(`image: built ${image} in ${Math.round(performance.now() - t0)} ms`);
    return true;
  }
}

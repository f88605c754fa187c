import { allFunctions, isContainer, runtimeFamily, type Template } from '../model.js';
import type { Backend } from './backend.js';
import path from 'node:path';
import { readProjectConfig } from '../util.js';
import { imageFor, isDefaultImage, readImageConfig, readImageFamily, type ImageChoice, type ImageFamily, type PullMode, type PullPolicy } from './docker/images.js';

export type BackendChoice = 'auto' | 'docker' | 'process';

export interface SelectedBackend {
  backend: Backend;
  /** One line for the banner: which backend and why. */
  description: string;
}

export class BackendUnavailableError extends Error {}

export interface SelectOptions {
  template: Template;
  /** --image: one image for every runtime. */
  image?: string;
  log?: (line: string) => void;
  /** One invocation, then stop (`invoke`): housekeeping waits until the end. */
  oneShot?: boolean;
  /** --registry: a registry or mirror prefix for the images fc-local pulls. */
  registry?: string;
  /** --pull: when to pull (default missing). */
  pull?: PullMode;
  /** --images: the image family for runtimes nobody named an image for. */
  images?: ImageFamily;
  /** --remote: the engine cannot see this machine's files even over a socket (copy code in). */
  remote?: boolean;
  /** --engine: the engine's address (as docker -H takes it), before DOCKER_HOST and contexts. */
  engine?: string;
  /** --start-timeout: how long any new instance may take to answer (default: FC's 120 s for custom runtimes, fc-local's allowance for its agents). */
  startTimeoutMs?: number;
}

/** fc-local.json's `registry`, if any. */
function readRegistry(templateFile: string): string | undefined {
  const r = readProjectConfig(templateFile).config.registry;
  return typeof r === 'string' && r ? r : undefined;
}

/**
 * auto: Docker when an engine answers (DOCKER_HOST honoured) and the template's images are there
 * or can be pulled; the process backend otherwise. Explicit choices fail loudly instead.
 */
export async function selectBackend(choice: BackendChoice, opts: SelectOptions): Promise<SelectedBackend> {
  // Each backend's code (and its process or Docker client) is loaded only when it may be used.
  const processBackend = async () => new (await import('./process/backend.js')).ProcessBackend({ log: opts.log, sweepAtClose: opts.oneShot, startTimeoutMs: opts.startTimeoutMs });
  if (choice === 'process') return { backend: await processBackend(), description: 'process (child processes on 127.0.0.1, as asked)' };

  // The Docker client is loaded only when Docker may be used.
  const [{ DockerBackend, dockerAnswers, removeLeftovers, engineApiProblem }, { findEngine, engineAt, engineClient }] = await Promise.all([import('./docker/backend.js'), import('./docker/engine.js')]);
  let engine;
  try {
    engine = opts.engine ? engineAt(opts.engine, '--engine') : findEngine();
  } catch (err) {
    if (choice === 'docker') throw new BackendUnavailableError(`--backend docker: ${(err as Error).message}`);
    return { backend: await processBackend(), description: `process (child processes on 127.0.0.1; ${(err as Error).message})` };
  }
  const docker = engineClient(engine);
  const where = `${engine.host} (${engine.how})`;
  if (!(await dockerAnswers(docker, engine.remote ? 5000 : 1500))) {
    if (choice === 'docker') throw new BackendUnavailableError(`--backend docker: no container engine answers at ${where} (start dockerd, Docker Desktop, Colima or \`podman system service\`, or set DOCKER_HOST)`);
    return { backend: await processBackend(), description: `process (child processes on 127.0.0.1; no container engine answers at ${where})` };
  }
  const tooOld = await engineApiProblem(docker, where);
  if (tooOld) {
    if (choice === 'docker') throw new BackendUnavailableError(`--backend docker: ${tooOld}`);
    return { backend: await processBackend(), description: `process (child processes on 127.0.0.1; ${tooOld})` };
  }

  let images: ImageChoice;
  try {
    const family = opts.images ?? readImageFamily(opts.template.file);
    images = { all: opts.image ?? process.env.FC_LOCAL_IMAGE, byRuntime: readImageConfig(opts.template.file), ...(family ? { family } : {}) };
  } catch (err) {
    throw new BackendUnavailableError((err as Error).message);
  }
  let registry = opts.registry ?? process.env.FC_DOCKER_REGISTRY ?? readRegistry(opts.template.file);
  let registrySaid = registry;
  // FC's own images with no registry named: the one that answers, as Funcraft and Serverless Devs choose it.
  if (!registry && images.family === 'fc') {
    const { probeRegistry } = await import('./docker/registry-probe.js');
    const probed = await probeRegistry(path.join(path.dirname(opts.template.file), '.fc-local', 'registry.json'));
    registry = probed.prefix;
    registrySaid = probed.said;
  }
  const pull: PullPolicy = {
    mode: opts.pull ?? 'missing',
    ...(registry ? { registry } : {}),
    memoryFile: path.join(path.dirname(opts.template.file), '.fc-local', 'pull-failures.json'),
  };
  const remote = opts.remote === true || engine.remote;
  const product = await engineProduct(docker);
  const backend = new DockerBackend(docker, { images, log: opts.log, pull, remote, podman: product.podman, where, startTimeoutMs: opts.startTimeoutMs });
  const leftovers = await removeLeftovers(docker);
  // A custom container's image is its own: looked for when its instance starts, never pulled.
  const wanted = allFunctions(opts.template).filter((f) => runtimeFamily(f.runtime) !== 'not-emulated' && !isContainer(f));
  const needed: string[] = [];
  try {
    for (const f of wanted) {
      const name = await backend.ensureImage(imageFor(f.runtime, images), isDefaultImage(f.runtime, images));
      if (!needed.includes(name)) needed.push(name);
    }
  } catch (err) {
    if (choice === 'docker') throw new BackendUnavailableError((err as Error).message);
    return { backend: await processBackend(), description: `process (child processes on 127.0.0.1; Docker answers but ${(err as Error).message.split(' (')[0]})` };
  }
  const cleaned = leftovers ? `; removed ${leftovers} container(s) left by an earlier run` : '';
  const from = registrySaid ? `; images from ${registrySaid}` : '';
  const copied = remote ? '; code copied to the engine, not mounted' : '';
  return { backend, description: `docker (${product.name} at ${where}${copied}; image${needed.length === 1 ? '' : 's'} ${needed.join(', ') || 'none needed'}${from}${cleaned})` };
}

/** "Docker Engine 24.0.7", "Podman 4.3.1": what answers, for the banner. */
async function engineProduct(docker: import('dockerode')): Promise<{ name: string; podman: boolean }> {
  try {
    const v = (await docker.version()) as { Version?: string; Components?: { Name?: string }[] };
    const podman = v.Components?.some((c) => /podman/i.test(c.Name ?? '')) === true;
    return { name: `${podman ? 'Podman' : 'Docker Engine'} ${v.Version ?? ''}`.trim(), podman };
  } catch {
    return { name: 'engine', podman: false };
  }
}

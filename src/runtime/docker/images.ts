import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import type { EmulatedRuntime, Runtime } from '../../model.js';
import { ProjectConfigError, readProjectConfig } from '../../util.js';
import { InstanceStartError } from '../backend.js';

// Which image runs each runtime. Users online get official language images; offline users and
// CI point fc-local at the image scripts/build-runtime-image.sh builds (--image, FC_LOCAL_IMAGE,
// or an `images` map in fc-local.json beside the template).

export const DEFAULT_IMAGES: Record<EmulatedRuntime, string> = {
  nodejs6: 'node:6-slim',
  nodejs8: 'node:8-slim',
  nodejs10: 'node:10-slim',
  nodejs12: 'node:12-slim',
  nodejs14: 'node:14-slim',
  nodejs16: 'node:16-slim',
  nodejs18: 'node:18-slim',
  nodejs20: 'node:20-slim',
  'python2.7': 'python:2.7-slim',
  python3: 'python:3.6-slim',
  'python3.9': 'python:3.9-slim',
  'python3.10': 'python:3.10-slim',
  'python3.12': 'python:3.12-slim',
  java8: 'eclipse-temurin:8-jre',
  java11: 'eclipse-temurin:11-jre',
  // PHP's official image; HTTP functions need a PSR-7 implementation in it (the offline image has Debian's).
  'php7.2': 'php:7.2-cli',
  // FC's custom runtime images carry both node and python; this one does too.
  custom: 'node:20-bookworm',
  'custom.debian10': 'node:18-buster',
  'custom.debian11': 'node:20-bullseye',
  'custom.debian12': 'node:20-bookworm',
  // Its own image (customContainerConfig.image): never this one.
  'custom-container': '',
};

export interface ImageChoice {
  /** One image for every runtime (--image or FC_LOCAL_IMAGE). */
  all?: string;
  /** Per-runtime overrides. */
  byRuntime?: Partial<Record<string, string>>;
  /** Which images stand for runtimes nobody named one for: official language images (default) or FC's own. */
  family?: ImageFamily;
}

export type ImageFamily = 'official' | 'fc';

/**
 * FC's own runtime images (aliyunfc/runtime-<runtime>, as Funcraft and Serverless Devs run them:
 * FC's built-in modules and system libraries), at FC_DOCKER_VERSION or latest. fc-local's agents
 * run inside them as in any image.
 */
export function fcImage(runtime: Runtime): string {
  return `aliyunfc/runtime-${runtime}:${process.env.FC_DOCKER_VERSION ?? 'latest'}`;
}

/** Whether `image` is one of FC's own runtime images (their entrypoint is FC's, not ours: cleared). */
export function isFcImage(image: string): boolean {
  return /(^|\/)aliyunfc\/runtime[-:]/.test(image);
}

export function imageFor(runtime: Runtime, choice: ImageChoice): string {
  return choice.all ?? choice.byRuntime?.[runtime] ?? (choice.family === 'fc' ? fcImage(runtime) : DEFAULT_IMAGES[runtime as EmulatedRuntime]);
}

/** fc-local.json's `"images": "fc"` (or "official"), if that is what it says. */
export function readImageFamily(templateFile: string): ImageFamily | undefined {
  const images = readProjectConfig(templateFile).config.images;
  return images === 'fc' || images === 'official' ? images : undefined;
}

/** Whether the runtime's image is fc-local's default (nobody chose it): another may stand in for it. */
export function isDefaultImage(runtime: Runtime, choice: ImageChoice): boolean {
  return choice.all === undefined && choice.byRuntime?.[runtime] === undefined;
}

/** Reads `fc-local.json` ({"images": {"nodejs18": "my/node:18"}}) beside the template, if any. */
export function readImageConfig(templateFile: string): Partial<Record<string, string>> {
  const { file, config } = readProjectConfig(templateFile);
  const images = config.images;
  // A family's name ("fc", "official") is read by readImageFamily.
  if (images === undefined || images === 'fc' || images === 'official') return {};
  if (typeof images !== 'object' || images === null || Object.values(images).some((v) => typeof v !== 'string')) {
    throw new ProjectConfigError(`${file}: "images" must map runtime names to image names`);
  }
  return images as Record<string, string>;
}

export type PullMode = 'always' | 'missing' | 'never';

export interface PullPolicy {
  /** always: pull every image at its first use; missing (default): only absent ones; never: use what is here. */
  mode: PullMode;
  /** A registry (or mirror) prefix for every image pulled: `<registry>/<image>` (--registry, FC_DOCKER_REGISTRY, fc-local.json). */
  registry?: string;
  /** Where failed pulls are remembered (a file in the project's .fc-local), so that the next run does not wait for them again. */
  memoryFile?: string;
  /** The offline images this machine may have, tried when a default image cannot be pulled. */
  fallbackPrefix?: string;
}

/** How long a failed pull is remembered. */
const REMEMBER_MS = 10 * 60_000;

/** Whether an image reference names its registry host (`host.tld/...`, `host:port/...`, `localhost/...`). */
function hasRegistryHost(image: string): boolean {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/** Pulls images the engine lacks, once each however many instances ask at once; resolves with the name to run. */
export class ImagePuller {
  private readonly pulls = new Map<string, Promise<string>>();

  constructor(
    private readonly docker: Docker,
    /** Progress of pulls, for the person waiting. */
    private readonly log?: (line: string) => void,
    readonly policy: PullPolicy = { mode: 'missing' },
  ) {}

  /** The name an image is pulled and run under: behind the registry prefix when one is set. */
  nameOf(image: string): string {
    return this.policy.registry && !hasRegistryHost(image) ? `${this.policy.registry.replace(/\/+$/, '')}/${image}` : image;
  }

  /**
   * Makes `image` available and resolves with the name to run it by; `fallback` allows an offline
   * image of fc-local's in place of a default image that cannot be had. The error says which image
   * and how to use another.
   */
  ensure(image: string, fallback = false): Promise<string> {
    const key = `${image}\0${fallback}`;
    let p = this.pulls.get(key);
    if (!p) {
      p = this.pull(image, fallback);
      this.pulls.set(key, p);
      p.catch(() => this.pulls.delete(key));
    }
    return p;
  }

  private present(name: string): Promise<boolean> {
    return this.docker
      .getImage(name)
      .inspect()
      .then(() => true, () => false);
  }

  private async pull(image: string, fallback: boolean): Promise<string> {
    const name = this.nameOf(image);
    const here = await this.present(name);
    if (here && this.policy.mode !== 'always') return name;
    let why: string | undefined;
    const remembered = this.policy.mode === 'missing' ? this.remembered(name) : undefined;
    if (this.policy.mode === 'never') why = '--pull never';
    else if (remembered) why = `${remembered.why} (remembered from a pull ${Math.round((Date.now() - remembered.at) / 1000)} s ago; --pull always tries again)`;
    else {
      try {
        await this.fetch(name);
        this.remember(name, undefined);
        return name;
      } catch (err) {
        why = (err as Error).message.split('\n')[0]!;
        this.remember(name, why);
      }
    }
    if (here) {
      this.log?.(`could not pull image ${name} (${why}): using the copy this machine has`);
      return name;
    }
    const offline = fallback ? await this.offlineImage() : undefined;
    if (offline) {
      this.log?.(`image ${name} is not here and could not be pulled (${why}): using ${offline}, fc-local's offline image on this machine`);
      return offline;
    }
    // A registry that wants credentials: the engine's own login gives them.
    const login = /auth|unauthori[sz]ed|denied/i.test(why ?? '') && hasRegistryHost(name) ? ` The registry wants credentials: docker login ${name.split('/')[0]} gives the engine them.` : '';
    throw new InstanceStartError(
      `image ${name} is not present and could not be pulled (${why}).${login} ` +
        'Point fc-local at an image you have with --image NAME, FC_LOCAL_IMAGE=NAME, or {"images": {"<runtime>": "NAME"}} in fc-local.json beside the template; ' +
        'a registry or mirror that has it with --registry (FC_DOCKER_REGISTRY); `fc-local image build` builds one without a registry. Or use --backend process.',
    );
  }

  private async fetch(name: string): Promise<void> {
    this.log?.(`pulling image ${name} ...`);
    const stream = await this.docker.pull(name);
    let last = 0;
    await new Promise<void>((resolve, reject) =>
      this.docker.modem.followProgress(
        stream,
        (err) => (err ? reject(err) : resolve()),
        (ev: { status?: string; id?: string; progress?: string; error?: string }) => {
          if (ev.error) reject(new Error(ev.error));
          if (Date.now() - last > 1000) {
            last = Date.now();
            this.log?.(`  ${name}: ${ev.id ? `${ev.id} ` : ''}${ev.status ?? ''} ${ev.progress ?? ''}`.trimEnd());
          }
        },
      ),
    );
    // A registry that answers garbage may end the stream without an image.
    if (!(await this.present(name))) throw new Error('the registry answered, but no image came of it');
    this.log?.(`pulled image ${name}`);
  }

  /** The newest fc-local offline image here (fc-local/runtime:offline-N), if any. */
  private async offlineImage(): Promise<string | undefined> {
    const prefix = this.policy.fallbackPrefix ?? 'fc-local/runtime:offline-';
    const images = await this.docker.listImages({ filters: { reference: [`${prefix.split(':')[0]}`] } }).catch(() => []);
    const tags = images
      .flatMap((i) => i.RepoTags ?? [])
      .filter((t) => t.startsWith(prefix) && /^\d+$/.test(t.slice(prefix.length)))
      .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)));
    return tags[0];
  }

  private readMemory(): Record<string, { at: number; why: string }> {
    if (!this.policy.memoryFile) return {};
    try {
      return JSON.parse(readFileSync(this.policy.memoryFile, 'utf8')) as Record<string, { at: number; why: string }>;
    } catch {
      return {};
    }
  }

  private remembered(name: string): { at: number; why: string } | undefined {
    const hit = this.readMemory()[name];
    return hit && Date.now() - hit.at <= REMEMBER_MS ? hit : undefined;
  }

  private remember(name: string, why: string | undefined): void {
    if (!this.policy.memoryFile) return;
    const memory = this.readMemory();
    if (why === undefined && !(name in memory)) return;
    if (why === undefined) delete memory[name];
    else memory[name] = { at: Date.now(), why };
    try {
      mkdirSync(path.dirname(this.policy.memoryFile), { recursive: true });
      writeFileSync(this.policy.memoryFile, JSON.stringify(memory));
    } catch {
      // Not remembered: the next run tries again.
    }
  }
}

/** Python modules FC ships that the default offline image leaves to its `--full` variant. */
export const FULL_IMAGE_MODULES = ['scipy', 'matplotlib', 'cv2', 'scrapy'] as const;
const HEAVY_IMPORT = new RegExp(`^\\s*(?:import|from)\\s+(${FULL_IMAGE_MODULES.join('|')})\\b`, 'gm');

/**
 * Which of FULL_IMAGE_MODULES a Python code dir imports: its .py files, two levels deep (vendored
 * packages further down are not the function's own imports), at most 200 files of 1 MB.
 */
export function heavyPythonImports(codeDir: string): string[] {
  const found = new Set<string>();
  let files = 0;
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (files >= 200 || name.startsWith('.') || name === 'node_modules' || name === '__pycache__') continue;
      const file = path.join(dir, name);
      let st;
      try {
        st = statSync(file);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth < 1) walk(file, depth + 1);
      } else if (name.endsWith('.py') && st.size <= 1024 * 1024) {
        files++;
        for (const m of readFileSync(file, 'utf8').matchAll(HEAVY_IMPORT)) found.add(m[1]!);
      }
    }
  };
  walk(codeDir, 0);
  return [...found].sort();
}

/** The `--full` variant of fc-local's offline image (scripts/build-runtime-image.sh --full), for an image that is one. */
export function fullVariantOf(image: string): string | undefined {
  return /^fc-local\/runtime:offline-\d+$/.test(image) ? `${image}-full` : undefined;
}

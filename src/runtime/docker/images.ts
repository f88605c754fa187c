import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import type { EmulatedRuntime, Runtime } from '../../model.js';
import { readProjectConfig } from '../../util.js';
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
}

export function imageFor(runtime: Runtime, choice: ImageChoice): string {
  return choice.all ?? choice.byRuntime?.[runtime] ?? DEFAULT_IMAGES[runtime as EmulatedRuntime];
}

/** Reads `fc-local.json` ({"images": {"nodejs18": "my/node:18"}}) beside the template, if any. */
export function readImageConfig(templateFile: string): Partial<Record<string, string>> {
  const { file, config } = readProjectConfig(templateFile);
  const images = config.images;
  if (images === undefined) return {};
  if (typeof images !== 'object' || images === null || Object.values(images).some((v) => typeof v !== 'string')) {
    throw new Error(`${file}: "images" must map runtime names to image names`);
  }
  return images as Record<string, string>;
}

/** Pulls images the engine lacks, once each however many instances ask at once. */
export class ImagePuller {
  private readonly pulls = new Map<string, Promise<void>>();

  constructor(
    private readonly docker: Docker,
    /** Progress of pulls, for the person waiting. */
    private readonly log?: (line: string) => void,
  ) {}

  /** Pulls `image` if the engine lacks it; the error says which image and how to use another. */
  ensure(image: string): Promise<void> {
    let p = this.pulls.get(image);
    if (!p) {
      p = this.pull(image);
      this.pulls.set(image, p);
      p.catch(() => this.pulls.delete(image));
    }
    return p;
  }

  private async pull(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch {
      // Not present: pull it.
    }
    this.log?.(`pulling image ${image} ...`);
    try {
      const stream = await this.docker.pull(image);
      let last = 0;
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(
          stream,
          (err) => (err ? reject(err) : resolve()),
          (ev: { status?: string; id?: string; progress?: string }) => {
            if (Date.now() - last > 1000) {
              last = Date.now();
              this.log?.(`  ${image}: ${ev.id ? `${ev.id} ` : ''}${ev.status ?? ''} ${ev.progress ?? ''}`.trimEnd());
            }
          },
        ),
      );
      this.log?.(`pulled image ${image}`);
    } catch (err) {
      throw new InstanceStartError(
        `image ${image} is not present and could not be pulled (${(err as Error).message.split('\n')[0]}). ` +
          'Point fc-local at an image you have with --image NAME, FC_LOCAL_IMAGE=NAME, or {"images": {"<runtime>": "NAME"}} in fc-local.json beside the template; ' +
          'scripts/build-runtime-image.sh builds one without a registry. Or use --backend process.',
      );
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

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../../model.js';

// Which image runs each runtime. Users online get official language images; offline users and
// CI point fc-local at the image scripts/build-runtime-image.sh builds (--image, FC_LOCAL_IMAGE,
// or an `images` map in fc-local.json beside the template).

export const DEFAULT_IMAGES: Record<Runtime, string> = {
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
  // FC's custom runtime images carry both node and python; this one does too.
  custom: 'node:20-bookworm',
  'custom.debian10': 'node:18-buster',
};

export interface ImageChoice {
  /** One image for every runtime (--image or FC_LOCAL_IMAGE). */
  all?: string;
  /** Per-runtime overrides. */
  byRuntime?: Partial<Record<string, string>>;
}

export function imageFor(runtime: Runtime, choice: ImageChoice): string {
  return choice.all ?? choice.byRuntime?.[runtime] ?? DEFAULT_IMAGES[runtime];
}

/** Reads `fc-local.json` ({"images": {"nodejs18": "my/node:18"}}) beside the template, if any. */
export function readImageConfig(templateFile: string): Partial<Record<string, string>> {
  const file = path.join(path.dirname(templateFile), 'fc-local.json');
  if (!existsSync(file)) return {};
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const images = (cfg as { images?: unknown })?.images;
  if (images === undefined) return {};
  if (typeof images !== 'object' || images === null || Object.values(images).some((v) => typeof v !== 'string')) {
    throw new Error(`${file}: "images" must map runtime names to image names`);
  }
  return images as Record<string, string>;
}

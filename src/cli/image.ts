import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util.js';
import { UsageError } from './errors.js';

// `fc-local image build`: fc-local's offline runtime image (Node.js, Python with debugpy, numpy
// and wand, a JRE, PHP with PSR-7, ImageMagick and GraphicsMagick), built without any image
// registry: debootstrap from this machine's Debian mirror, then `docker import`. Shipped in the
// package (scripts/build-runtime-image.sh), so an installed fc-local can build it.

export function registerImage(program: Command): void {
  const image = program.command('image').description("fc-local's runtime images");
  image
    .command('build')
    .description('build the offline runtime image (Linux with debootstrap and a Docker engine; no registry needed)')
    .option('--full', "also FC's heavy Python built-ins (scipy, matplotlib, opencv, scrapy): about 2 GB")
    .option('--tag <tag>', 'the tag to build (default fc-local/runtime:offline-<n>)')
    .action(async (opts: { full?: boolean; tag?: string }) => {
      const script = path.join(packageRoot(), 'scripts', 'build-runtime-image.sh');
      if (process.platform !== 'linux') {
        throw new UsageError(
          `fc-local image build needs Linux (debootstrap); on ${process.platform}: point fc-local at a registry or mirror that has the runtime images (--registry), ` +
            'name an image you have (--image, fc-local.json "images"), or use --backend process',
        );
      }
      if (!existsSync(script)) throw new UsageError(`${script} is missing from this installation of fc-local`);
      const { execa } = await import('execa');
      const r = await execa('bash', [script, ...(opts.full ? ['--full'] : []), ...(opts.tag ? [opts.tag] : [])], { stdio: 'inherit', reject: false });
      if (r.exitCode !== 0) {
        process.exitCode = 1;
        console.error('fc-local image build failed (see above). Alternatives: a registry or mirror with the images (--registry), an image you have (--image), or --backend process');
      }
    });
}

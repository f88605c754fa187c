import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { extract, pack } from 'tar-fs';
import { pack as emptyPack } from 'tar-stream';

// fc-local's state as one portable archive (tar.gz): the local OSS's buckets and their metadata,
// the async journal (queued work, retries, finished records), and the workbench's history. It is
// checked whole before anything is replaced, so a corrupt or foreign archive leaves the current
// state as it was; entries other than files and folders are refused, and nothing is written
// outside the folder being filled.

export const STATE_FORMAT = 'fc-local-state';
export const STATE_VERSION = 1;

/** Where each part of the state lives. */
export interface StateLayout {
  /** The folder of bucket folders. */
  oss: string;
  /** Object metadata beside it. */
  ossMeta: string;
  /** The async journal's folder. */
  async: string;
  /** The workbench's invocation history (JSON). */
  history: string;
}

const PARTS = ['oss', 'ossMeta', 'async'] as const;

/** Where a template's state is by default (or as --state-dir and --oss-dir say). */
export function stateLayout(templateFile: string, o: { stateDir?: string; ossDir?: string } = {}): StateLayout & { root: string; running: string } {
  const root = path.resolve(o.stateDir ?? path.join(path.dirname(templateFile), '.fc-local'));
  const oss = path.resolve(o.ossDir ?? path.join(path.dirname(templateFile), '.fc-local', 'oss'));
  return { root, oss, ossMeta: `${oss}.meta`, async: path.join(root, 'async'), history: path.join(root, 'history.json'), running: path.join(root, 'running.json') };
}

export class StateArchiveError extends Error {}

interface Manifest {
  format: string;
  version: number;
  created: string;
  template?: string;
}

/** Packs the state into a tar.gz archive. */
export async function packState(layout: StateLayout, template?: string): Promise<Buffer> {
  const tar = emptyPack();
  const chunks: Buffer[] = [];
  // Read as it is written: tar-fs walks each folder asynchronously, and waits for room in the stream.
  const done = pipeline(tar as unknown as Readable, createGzip({ level: 1 }), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) chunks.push(c);
  });
  for (const part of PARTS) {
    if (!existsSync(layout[part])) continue;
    // One tar stream for every part, each under its own name.
    await new Promise<void>((resolve, reject) => {
      const p = pack(layout[part], { pack: tar, finalize: false, finish: () => resolve(), map: (h) => ({ ...h, name: `${part}/${h.name}` }) });
      p.once('error', reject);
    });
  }
  const manifest: Manifest = { format: STATE_FORMAT, version: STATE_VERSION, created: new Date().toISOString(), ...(template ? { template } : {}) };
  tar.entry({ name: 'manifest.json' }, JSON.stringify(manifest, null, 2));
  if (existsSync(layout.history)) tar.entry({ name: 'history.json' }, readFileSync(layout.history));
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Unpacks an archive into a new folder under `scratchParent` (on the state's own disk, so that
 * the parts can be moved into place) and checks it; throws StateArchiveError, leaving nothing,
 * when it is not a state archive of this format.
 */
export async function unpackState(archive: Buffer, scratchParent: string): Promise<string> {
  mkdirSync(scratchParent, { recursive: true });
  const dir = mkdtempSync(path.join(scratchParent, '.state-load-'));
  try {
    const refused: string[] = [];
    await pipeline(
      Readable.from([archive]),
      createGunzip(),
      extract(dir, {
        // Files and folders only: no links to write through, no devices.
        ignore: (_name, header) => {
          const ok = header?.type === 'file' || header?.type === 'directory';
          if (!ok) refused.push(header?.name ?? _name);
          return !ok;
        },
        readable: true,
        writable: true,
      }),
    );
    if (refused.length) throw new StateArchiveError(`the archive holds entries that are neither files nor folders (${refused.slice(0, 3).join(', ')})`);
    const manifestFile = path.join(dir, 'manifest.json');
    if (!existsSync(manifestFile)) throw new StateArchiveError('the archive has no manifest.json: it is not an fc-local state archive');
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    } catch {
      throw new StateArchiveError('the archive\'s manifest.json is not JSON');
    }
    if (manifest.format !== STATE_FORMAT) throw new StateArchiveError(`the archive is not an fc-local state archive (format ${JSON.stringify(manifest.format)})`);
    if (manifest.version !== STATE_VERSION) throw new StateArchiveError(`the archive is of state format version ${manifest.version}; this fc-local reads version ${STATE_VERSION}`);
    return dir;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if (err instanceof StateArchiveError) throw err;
    throw new StateArchiveError(`the archive cannot be read: ${(err as Error).message}`);
  }
}

/** Removes every part of the state. */
export function clearState(layout: StateLayout): void {
  for (const part of PARTS) rmSync(layout[part], { recursive: true, force: true });
  rmSync(layout.history, { force: true });
}

/** Puts an unpacked archive's parts in place of the current ones (after clearState), and removes the scratch folder. */
export function installState(unpacked: string, layout: StateLayout): void {
  try {
    clearState(layout);
    for (const part of PARTS) {
      const from = path.join(unpacked, part);
      if (existsSync(from)) move(from, layout[part]);
    }
    const history = path.join(unpacked, 'history.json');
    if (existsSync(history)) move(history, layout.history);
  } finally {
    rmSync(unpacked, { recursive: true, force: true });
  }
}

/** A rename, or a copy where the two are on different disks (--oss-dir elsewhere). */
function move(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    cpSync(from, to, { recursive: true });
  }
}

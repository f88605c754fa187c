import AdmZip from 'adm-zip';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InstanceStartError } from './backend.js';

// Code given as a .zip (FC's upload format): unpacked once into a cache keyed by the file's
// checksum, so that an unchanged zip is never unpacked twice and a changed one (hot reload)
// gets a folder of its own. Entries that would land outside the folder are refused.

const CACHE = path.join(os.tmpdir(), 'fc-local-code');
const unpacked = new Map<string, { mtimeMs: number; size: number; dir: string }>();

/** A zip that cannot serve as code: the instance cannot start. */
export class CodePackageError extends InstanceStartError {}

export function isZip(codeUri: string): boolean {
  return codeUri.toLowerCase().endsWith('.zip') && (statSync(codeUri, { throwIfNoEntry: false })?.isFile() ?? false);
}

/** The folder holding the zip's contents, unpacking it if this version was not unpacked yet. */
export function unpackedDir(zipFile: string): string {
  const st = statSync(zipFile);
  const hit = unpacked.get(zipFile);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && existsSync(hit.dir)) return hit.dir;
  const bytes = readFileSync(zipFile);
  const dir = path.join(CACHE, createHash('sha256').update(bytes).digest('hex').slice(0, 32));
  if (!existsSync(dir)) {
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    try {
      const zip = new AdmZip(bytes);
      for (const entry of zip.getEntries()) {
        const target = path.resolve(tmp, entry.entryName);
        if (target !== tmp && !target.startsWith(tmp + path.sep)) throw new CodePackageError(`${zipFile}: entry '${entry.entryName}' would unpack outside the code folder`);
      }
      zip.extractAllTo(tmp, true, true);
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (err instanceof CodePackageError) throw err;
      throw new CodePackageError(`${zipFile} cannot be unpacked: ${(err as Error).message}`);
    }
  }
  unpacked.set(zipFile, { mtimeMs: st.mtimeMs, size: st.size, dir });
  return dir;
}

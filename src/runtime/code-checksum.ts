import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

// FC reports a CRC-64 of the uploaded code as a decimal string. Locally there is no package, so
// the checksum is a 64-bit digest of the code dir's file names, sizes and times: it changes when
// the code changes, which is what clients use it for. The walk is asynchronous and cached per
// dir until invalidated (a code dir with node_modules holds tens of thousands of files: a
// synchronous walk would stall every request in flight).

export interface CodeInfo {
  checksum: string;
  size: number;
}

const cache = new Map<string, Promise<CodeInfo>>();
const SKIP = new Set(['.git', '.fc-local']);

async function walk(dir: string, hash: ReturnType<typeof createHash>, acc: { size: number }): Promise<void> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).sort();
  } catch {
    return;
  }
  for (const name of entries) {
    if (SKIP.has(name)) continue;
    const full = path.join(dir, name);
    const st = await stat(full).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) await walk(full, hash, acc);
    else {
      acc.size += st.size;
      hash.update(`${full}\0${st.size}\0${st.mtimeMs}\n`);
    }
  }
}

async function compute(codeUri: string): Promise<CodeInfo> {
  const hash = createHash('sha256');
  const acc = { size: 0 };
  const st = await stat(codeUri).catch(() => undefined);
  if (st?.isDirectory()) await walk(codeUri, hash, acc);
  else if (st) {
    acc.size = st.size;
    hash.update(`${codeUri}\0${st.size}\0${st.mtimeMs}`);
  }
  return { checksum: hash.digest().readBigUInt64BE(0).toString(), size: acc.size };
}

/** The checksum of a folder or file as it is now (not cached): what a copy of it is keyed by. */
export function fingerprint(where: string): Promise<CodeInfo> {
  return compute(where);
}

export function codeInfo(codeUri: string): Promise<CodeInfo> {
  let hit = cache.get(codeUri);
  if (!hit) {
    hit = compute(codeUri);
    cache.set(codeUri, hit);
  }
  return hit;
}

export function invalidateCodeInfo(codeUri?: string): void {
  if (codeUri) cache.delete(codeUri);
  else cache.clear();
}

import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

// FC reports a CRC-64 of the uploaded code as a decimal string. Locally there is no package, so
// the checksum is a 64-bit digest of the code dir's file names, sizes and times: it changes when
// the code changes, which is what clients use it for. Cached per dir until invalidated.

const cache = new Map<string, { checksum: string; size: number }>();
const SKIP = new Set(['.git', '.fc-local']);

function walk(dir: string, hash: ReturnType<typeof createHash>, acc: { size: number }): void {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const name of entries) {
    if (SKIP.has(name)) continue;
    const full = path.join(dir, name);
    const st = statSync(full, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(full, hash, acc);
    else {
      acc.size += st.size;
      hash.update(`${full}\0${st.size}\0${st.mtimeMs}\n`);
    }
  }
}

export function codeInfo(codeUri: string): { checksum: string; size: number } {
  let hit = cache.get(codeUri);
  if (!hit) {
    const hash = createHash('sha256');
    const acc = { size: 0 };
    const st = statSync(codeUri, { throwIfNoEntry: false });
    if (st?.isDirectory()) walk(codeUri, hash, acc);
    else if (st) {
      acc.size = st.size;
      hash.update(`${codeUri}\0${st.size}\0${st.mtimeMs}`);
    }
    hit = { checksum: hash.digest().readBigUInt64BE(0).toString(), size: acc.size };
    cache.set(codeUri, hit);
  }
  return hit;
}

export function invalidateCodeInfo(codeUri?: string): void {
  if (codeUri) cache.delete(codeUri);
  else cache.clear();
}

import type Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AGENTS_DIR } from '../agents.js';
import { fingerprint } from '../code-checksum.js';
import { packageRoot } from '../../util.js';

// A warm restart (--keep-warm): at a clean exit fc-local leaves its idle containers running for
// a while, renamed to say until when (fc-local-parked-<until ms>-<random>), with a record beside
// them of what each one is. The next run adopts those that are exactly what it would create
// (the same create options, code, agents, image and fc-local) and renames them its own
// (fc-local-run-<pid>-<random>); fc-local's guardian removes the others when their time is up,
// and a run that finds a parked container it cannot use removes it at once. The name is the
// claim: renaming by the old name succeeds for one run only.

export const PARKED_PREFIX = 'fc-local-parked-';
const OWNED_PREFIX = 'fc-local-run-';

/** The records of parked containers, one file each (0600, in a folder of this user's). */
export const PARK_DIR = path.join(os.tmpdir(), `fc-local-parked-${process.getuid?.() ?? 'user'}`);

export interface ParkRecord {
  id: string;
  /** Its parked name, without the leading slash. */
  name: string;
  /** Epoch ms until which it may be adopted; the guardian removes it then. */
  until: number;
  /** What it was made from (warmKey). */
  key: string;
  /** The function's key (service/name). */
  fn: string;
  /** Its initializer has run: the next request is warm. */
  initialized: boolean;
  /** The port its runtime listens on inside the container. */
  innerPort: number;
  codeSource: string;
  /** Its socket folder on this machine (moved under PARK_DIR) and what its agent serves there. */
  socket?: { dir: string; channel: boolean };
  /** The guardian that removes it at its time (told when it is taken over sooner). */
  guardian?: number;
}

export function parkedName(until: number): string {
  return `${PARKED_PREFIX}${until}-${randomBytes(4).toString('hex')}`;
}

export function ownedName(): string {
  return `${OWNED_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** What a container's name says: parked until when, or owned by which process (neither: see its labels). */
export function nameInfo(name: string): { parkedUntil?: number; ownerPid?: number } {
  const bare = name.replace(/^\//, '');
  const parked = new RegExp(`^${PARKED_PREFIX}(\\d+)-`).exec(bare);
  if (parked) return { parkedUntil: Number(parked[1]) };
  const owned = new RegExp(`^${OWNED_PREFIX}(\\d+)-`).exec(bare);
  return owned ? { ownerPid: Number(owned[1]) } : {};
}

/** The folder for a parked instance's sockets (short: a socket path has at most 107 bytes). */
export function parkedSocketDir(id: string): string {
  return path.join(PARK_DIR, `s-${id.slice(0, 12)}`);
}

export function recordFile(id: string): string {
  return path.join(PARK_DIR, `${id}.json`);
}

export function writeRecord(r: ParkRecord): void {
  mkdirSync(PARK_DIR, { recursive: true, mode: 0o700 });
  chmodSync(PARK_DIR, 0o700);
  writeFileSync(recordFile(r.id), JSON.stringify(r), { mode: 0o600 });
}

export function readRecord(id: string): ParkRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(id), 'utf8')) as ParkRecord;
  } catch {
    return undefined;
  }
}

/** Removes a parked instance's record and socket folder. */
export function forget(r: Pick<ParkRecord, 'id' | 'socket'>): void {
  rmSync(recordFile(r.id), { force: true });
  if (r.socket) rmSync(r.socket.dir, { recursive: true, force: true });
}

/** Forgets the records whose time is up and whose container is not among `present`. */
export function forgetExpired(present: Set<string>, now: number): void {
  let files: string[];
  try {
    files = readdirSync(PARK_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return; // nothing parked yet
  }
  for (const f of files) {
    const r = readRecord(f.slice(0, -'.json'.length));
    if (r && r.until < now && !present.has(r.id)) forget(r);
  }
}

let agentsPrint: Promise<string> | undefined;
let version: string | undefined;

/**
 * Everything a container is made of, as one digest: its create options (labels aside, which name
 * the run; the socket folder by its place, not its path), the image it runs (by ID), its code and
 * fc-local's agents as they are now, and fc-local's version.
 */
export async function warmKey(options: Docker.ContainerCreateOptions, socketDir: string | undefined, codeSource: string, imageId: string): Promise<string> {
  agentsPrint ??= fingerprint(AGENTS_DIR).then((c) => c.checksum);
  version ??= (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const { Labels: _labels, ...rest } = options;
  let made = JSON.stringify(rest);
  if (socketDir) made = made.split(socketDir).join('<sockets>');
  const [code, agents] = await Promise.all([fingerprint(codeSource), agentsPrint]);
  return createHash('sha256').update(JSON.stringify([made, imageId, code.checksum, agents, version])).digest('hex');
}
